package apns_test

import (
	"fmt"

	"github.com/tidingsdev/tidings/inbox/mobilepush"
	"github.com/tidingsdev/tidings/inbox/mobilepush/apns"
)

// The body APNs receives for a message: the alert in aps, the thread of
// the subject, and the events the app opens on a tap.
func ExamplePayload() {
	b, err := apns.Payload(mobilepush.Message{Title: "Ana commented on #7", Tag: "issue:7",
		Events: []mobilepush.Ref{{Domain: "issue", ID: 42}}})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	// Output: {"aps":{"alert":{"title":"Ana commented on #7"},"sound":"default","thread-id":"issue:7"},"events":[{"domain":"issue","id":42}]}
}
