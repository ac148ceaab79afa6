package batch_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

// A channel of your own batching through the shared step: Process adds
// the event to the recipient's window in the ledger's transaction, and
// the window is flushed once at its due time: by a task per window
// (Config.Scheduler, batch.AsynqScheduler, served by batch.Handler on the
// worker: inbox.Config.Tasks[batch.TaskType]) and a sweep for the rest
// (Batcher.Run; the entry point, package tidings, schedules both). Here the
// flush is called by hand, a day later.
func ExampleBatcher() {
	ctx := context.Background()
	db := testDB // the app's *gorm.DB
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b, err := batch.New(batch.Config{
		Inbox: uniqueInbox("sms"), DB: db, MaxItems: 20,
		Deliver: func(ctx context.Context, w *batch.Batch) error {
			return sendSMS(ctx, w.Recipient, fmt.Sprintf("%d updates", len(w.Events)))
		},
		Wanted: batch.WantedOn(&inbox.Defaults{}, "sms"), // a mute set mid-window drops items
		Now:    func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	// What the inbox's Process does for each event, in d.Once's transaction:
	for _, ev := range []activity.Event{event("12", "comment_added", "bo"), event("12", "label_added", "bo")} {
		if err := db.Transaction(func(tx *gorm.DB) error {
			_, err := b.Add(ctx, tx, batch.AddRequest{Recipient: "ana", Schedule: inbox.DailyAt(8, 0), Location: time.UTC, Event: ev})
			return err
		}); err != nil {
			panic(err)
		}
	}
	res, err := b.Flush(ctx, now.Add(24*time.Hour)) // past 08:00 the next day
	fmt.Println(res.Sent, err)
	// Output:
	// sms to ana: 2 updates
	// 1 <nil>
}

func sendSMS(_ context.Context, to, text string) error {
	fmt.Println("sms to", to+":", text)
	return nil
}

// The worker's side of the same channel: the scheduled flushes' tasks on
// the batch queue, served by the worker.
var _ = func(db *gorm.DB, b *batch.Batcher, sms inbox.Inbox) (*inbox.Worker, error) {
	return inbox.NewWorker(inbox.Config{DB: db, Redis: asynq.RedisClientOpt{Addr: "127.0.0.1:6379"}, Inboxes: []inbox.Inbox{sms},
		Queues: map[string]int{batch.DefaultQueue: 1},
		Tasks:  map[string]asynq.Handler{batch.TaskType: batch.Handler(b)}})
}
