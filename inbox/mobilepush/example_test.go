package mobilepush_test

import (
	"fmt"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/locale"
	"github.com/tidingsdev/tidings/inbox/mobilepush"
)

// An event worded for a German reader, tagged by its subject (one
// notification per issue on the phone: FCM's collapse key, APNs' thread).
func ExampleRender() {
	cat, err := locale.New("en", "de")
	if err != nil {
		panic(err)
	}
	key := locale.Key("issue", "comment_added", "title")
	if err := cat.Set("en", key, "%[1]s commented on %[3]s"); err != nil {
		panic(err)
	}
	if err := cat.Set("de", key, "%[1]s hat %[3]s kommentiert"); err != nil {
		panic(err)
	}
	ev := activity.Event{ID: 42, Domain: "issue", Action: "comment_added", SubjectID: "7", ActorLabel: "Ana"}
	m := mobilepush.Render(cat, "de-AT", ev)
	fmt.Println(m.Title, "|", m.Tag, "|", m.Events)
	// Output: Ana hat #7 kommentiert | issue/7 | [{issue 42}]
}
