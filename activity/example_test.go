package activity_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// An app wraps the domain on its model, records from its handlers in one
// line, and reads the feed back.
func Example() {
	ctx := context.Background()
	db := testDB // the app's *gorm.DB
	ana := User{Name: "Ana"}
	db.Create(&ana)
	issue := Issue{Title: "Login fails on Safari", AuthorID: ana.ID}
	db.Create(&issue)
	comment := Comment{IssueID: issue.ID, Body: "Same on iOS"}
	db.Create(&comment)

	// Usually set by activity.Middleware for each request.
	ctx = activity.WithActor(ctx, &ana)

	if _, err := issues.RecordEvent(ctx, db, issue.ID, "comment_added", activity.Record(&comment)); err != nil {
		panic(err)
	}
	if _, err := issues.RecordEvent(ctx, db, issue.ID, "label_added", activity.Extra{"name": "bug"}); err != nil {
		panic(err)
	}
	// A page view: repeats within 15 minutes touch the same event.
	for range 3 {
		res, err := issues.RecordEvent(ctx, db, issue.ID, "comment_viewed", activity.Record(&comment), activity.ThrottleWithin(15*time.Minute))
		if err != nil {
			panic(err)
		}
		fmt.Println("throttled:", res.Throttled)
	}

	page, err := issues.Feed(ctx, db, activity.FeedQuery{Subject: issue.ID})
	if err != nil {
		panic(err)
	}
	for _, e := range page.Entries {
		fmt.Printf("%s %s %s (repeats %d)\n", e.ActorName(), e.Action, e.RecordName(), e.Repeats)
	}
	// Output:
	// throttled: false
	// throttled: true
	// throttled: true
	// Ana comment_viewed Same on iOS (repeats 2)
	// Ana label_added  (repeats 0)
	// Ana comment_added Same on iOS (repeats 0)
}

// Recording refuses a typo, naming the domain and the nearest action.
func ExampleDomain_RecordEvent_unknownAction() {
	_, err := issues.RecordEvent(context.Background(), testDB, int64(1), "coment_added", activity.Actor(activity.System("system")))
	fmt.Println(err)
	// Output: activity: unknown action "coment_added" for domain issue; did you mean "comment_added"?
}

// RecordEvents records an import in one statement; every event shares one
// correlation id.
func ExampleDomain_RecordEvents() {
	ctx := context.Background()
	issue := Issue{Title: "Imported"}
	testDB.Create(&issue)
	rows := []string{"First!", "Second", "Third"}
	evs := make([]activity.NewEvent, len(rows))
	for i, body := range rows {
		evs[i] = activity.NewEvent{Subject: issue.ID, Action: "comment_added", Options: []activity.Option{activity.Extra{"body": body}}}
	}
	res, err := issues.RecordEvents(ctx, testDB, evs, activity.Actor(activity.System("csv-import")),
		activity.Meta(activity.Metadata{CorrelationID: "import-2026-11-27"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(res.Events), res.CorrelationID, string(res.Events[2].Extra))
	// Output: 3 import-2026-11-27 {"body": "Third"}
}
