package batch_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

// A window that reached its cap is flushed by its scheduled task, served
// by the worker (inbox.Config.Tasks), without any sweep.
func TestWorkerServesScheduledFlush(t *testing.T) {
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	delivered := make(chan int, 4)
	b := newBatcher(t, batch.Config{Inbox: uniqueInbox("worker"), MaxItems: 3, Scheduler: &batch.AsynqScheduler{Client: client},
		Deliver: func(_ context.Context, w *batch.Batch) error { delivered <- len(w.Events); return nil }})
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: redisOpt, DisableRelay: true,
		Domains: []*activity.Domain{activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added"}})},
		Inboxes: []inbox.Inbox{inbox.Func("noop", nil, func(context.Context, *inbox.Delivery) error { return nil })},
		Queues:  map[string]int{batch.DefaultQueue: 1},
		Tasks:   map[string]asynq.Handler{batch.TaskType: batch.Handler(b)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	joined := add(t, b, "bob", "", inbox.DailyAt(8, 0), nil, events(3, "12")...)
	b.Scheduled(t.Context(), joined...)
	select {
	case n := <-delivered:
		if n != 3 {
			t.Fatalf("the full window delivered %d events, want 3", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the worker did not flush the full window")
	}
}
