package batch_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

// A channel of your own batching through the shared step: Process adds
// the event to the recipient's window in the ledger's transaction, a task
// per window flushes it at its due time, and a sweep catches the rest.
func ExampleBatcher() {
	var db *gorm.DB // the app's
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:6379"})
	defaults := &inbox.Defaults{}
	b, err := batch.New(batch.Config{
		Inbox: "sms", DB: db, MaxItems: 20,
		Deliver: func(ctx context.Context, w *batch.Batch) error {
			return sendSMS(ctx, w.Recipient, fmt.Sprintf("%d updates", len(w.Events)))
		},
		Wanted:    batch.WantedOn(defaults, "sms"), // a mute set mid-window drops items
		Scheduler: &batch.AsynqScheduler{Client: client},
	})
	if err != nil {
		panic(err)
	}
	sms := inbox.Func("sms", inbox.On("issue"), func(ctx context.Context, d *inbox.Delivery) error {
		var joined batch.Joined
		_, err := d.Once(ctx, d.DB, "ana", func(tx *gorm.DB) error {
			joined, err = b.Add(ctx, tx, batch.AddRequest{Recipient: "ana", Schedule: inbox.DailyAt(8, 0), Location: time.UTC, Event: d.Event})
			return err
		})
		if err == nil {
			b.Scheduled(ctx, joined) // after the commit
		}
		return err
	})
	_, _ = inbox.NewWorker(inbox.Config{DB: db, Inboxes: []inbox.Inbox{sms},
		Queues: map[string]int{batch.DefaultQueue: 1},
		Tasks:  map[string]asynq.Handler{batch.TaskType: batch.Handler(b)}})
	go func() { _ = b.Run(context.Background(), time.Minute) }() // the sweep
}

func sendSMS(context.Context, string, string) error { return nil }
