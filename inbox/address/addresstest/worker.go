package addresstest

import (
	"context"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// Attempt is one attempt the worker made.
type Attempt struct {
	Event activity.EventRef
	N     int
	Err   error
	At    time.Time
}

// StartWorker runs a worker of the world's domain with in, breakers and
// delays scaled down, from an empty Redis and outbox, until the test
// ends; the channel gets each attempt.
func (w *World) StartWorker(t testing.TB, in inbox.Inbox, breakers inbox.BreakerConfig) (*inbox.Worker, <-chan Attempt) {
	t.Helper()
	ctx := context.Background()
	if _, err := redistest.Flush(ctx, w.redisDB); err != nil {
		t.Fatal(err)
	}
	// Events of earlier tests (processed by hand, never relayed) would
	// reach this inbox too: the worker starts from an empty outbox.
	if err := w.DB.Exec(`DELETE FROM activity_outbox`).Error; err != nil {
		t.Fatal(err)
	}
	attempts := make(chan Attempt, 10000)
	record := func(next inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			err := next(ctx, d)
			attempts <- Attempt{Event: d.Event.Ref(), N: d.Attempt, Err: err, At: time.Now()}
			return err
		}
	}
	wk, err := inbox.NewWorker(inbox.Config{
		DB: w.DB, Redis: w.Redis, Domains: []*activity.Domain{w.Issues}, Inboxes: []inbox.Inbox{in},
		Middleware:               []inbox.Middleware{record},
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		Breakers:                 breakers,
		Relay:                    inbox.RelayConfig{PollInterval: 50 * time.Millisecond},
		Logger:                   Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := wk.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wk.Shutdown)
	return wk, attempts
}

// NextAttempt returns the worker's next attempt, failing the test after
// Wait.
func NextAttempt(t testing.TB, ch <-chan Attempt) Attempt {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(Wait):
		t.Fatal("no attempt within the deadline")
	}
	return Attempt{}
}
