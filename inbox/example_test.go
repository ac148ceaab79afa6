package inbox_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// An inbox of the app's own, run by a worker: the event reaches it after
// the commit.
func Example() {
	ctx := context.Background()
	testDB.Exec(`TRUNCATE activity_outbox, inbox_pending`) // (the example starts from an empty outbox)

	delivered := make(chan string, 1)
	greeter := inbox.Func("greeter", inbox.On("issue", "comment_added"),
		func(ctx context.Context, d *inbox.Delivery) error {
			delivered <- fmt.Sprintf("%s by %s, attempt %d of %d", d.Event.Action, d.Event.ActorLabel, d.Attempt, d.MaxAttempts)
			return nil
		})
	w, err := inbox.NewWorker(inbox.Config{
		DB:      testDB,
		Redis:   redis, // asynq.RedisClientOpt{Addr: "127.0.0.1:6379"}
		Domains: []*activity.Domain{issues},
		Inboxes: []inbox.Inbox{greeter},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer w.Shutdown()

	var issueID int64
	testDB.Raw(`INSERT INTO issues (title) VALUES ('Login fails') RETURNING id`).Scan(&issueID)
	_, err = issues.RecordEvent(ctx, testDB, issueID, "comment_added",
		activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "Ana"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-delivered)
	// Output: comment_added by Ana, attempt 1 of 11
}
