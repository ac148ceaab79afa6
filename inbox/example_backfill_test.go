package inbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// A backfill hands the comments recorded before a warehouse inbox existed
// to that inbox, and to no other. Run it again after a crash: it resumes
// from its checkpoint.
func ExampleBackfiller() {
	ctx := context.Background()
	testDB.Exec(`TRUNCATE inbox_backfills`)
	warehouse := inbox.Func("example-warehouse", inbox.On("issue"), func(ctx context.Context, d *inbox.Delivery) error { return nil })
	bf, err := inbox.NewBackfiller(inbox.BackfillConfig{
		DB: testDB, Redis: redis, // the worker's database and Redis
		Domains: []*activity.Domain{issues},
		Inboxes: []inbox.Inbox{warehouse},
		Rate:    math.Inf(1), // default 1,000 events/s
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer bf.Close()
	b, err := bf.Create(ctx, inbox.BackfillSpec{
		Inbox: "example-warehouse",
		Query: inbox.BackfillQuery{Domain: "issue", Actions: []string{"comment_added"}, CorrelationID: "example-none"},
		By:    "console:ana",
	})
	if err != nil {
		panic(err)
	}
	b, err = bf.Run(ctx, b.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(b.Status, b.Done, "of", b.Total)
	// Output: done 0 of 0
}
