package privacy_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/privacy"
)

// Erase a person, then export what is left of them: the event stays, by
// an erased person, without IP address or user agent.
func ExamplePrivacy_Erase() {
	ctx := context.Background()
	var userID, issueID int64
	testDB.Raw(`INSERT INTO users (name, email) VALUES ('Example Person', 'example.person@example.net') RETURNING id`).Scan(&userID)
	testDB.Raw(`INSERT INTO issues (title) VALUES ('Example') RETURNING id`).Scan(&issueID)
	p := activity.Person{Type: "users", ID: fmt.Sprint(userID)}.WithValues("Example Person", "example.person@example.net")

	rctx := activity.WithMetadata(activity.WithActor(ctx, activity.Ref{Type: "users", ID: p.ID, Label: "Example Person"}),
		activity.Metadata{IP: "192.0.2.99", UserAgent: "ExampleBrowser/1"})
	if _, err := issues.RecordEvent(rctx, testDB, issueID, "comment_added",
		activity.Extra(map[string]any{"email": "example.person@example.net", "body": "hi"})); err != nil {
		panic(err)
	}

	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}})
	if err != nil {
		panic(err)
	}
	rec, err := px.Erase(ctx, testDB, p, privacy.Request{By: "support:1", Reason: "example"})
	if err != nil {
		panic(err)
	}
	fmt.Println("events masked:", rec.Counts["issue_events"])

	var out bytes.Buffer
	if err := px.Export(ctx, testDB, p, &out); err != nil {
		panic(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.Contains(line, `"type":"event"`) {
			fmt.Println(strings.Contains(line, `"actor_label":"erased person"`), strings.Contains(line, "192.0.2.99"), strings.Contains(line, "example.person@"))
		}
	}
	// Output:
	// events masked: 1
	// true false false
}
