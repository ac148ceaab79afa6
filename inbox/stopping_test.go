package inbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// A job that waits on inbox.Stopping hears of a graceful stop at once and,
// returning inbox.Stopped, goes back to the queue without spending an
// attempt: the next worker runs it as attempt 1. A job on its last
// attempt is not told (asynq would archive it, not hand it back).
func TestStoppingHandsBackWithoutSpendingAnAttempt(t *testing.T) {
	reset(t)
	type start struct {
		inbox   string
		told    bool // Stopping gave a channel
		attempt int
	}
	started := make(chan start, 4)
	waiting := newCollector("waiting", inbox.Everything)
	waiting.fn = func(ctx context.Context, d *inbox.Delivery) error {
		stop := inbox.Stopping(ctx)
		started <- start{d.Inbox, stop != nil, d.Attempt}
		select {
		case <-stop:
			return inbox.Stopped("waiting for a turn that never comes", nil)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	lastOnly := newCollector("last", inbox.Everything)
	lastOnly.fn = func(ctx context.Context, d *inbox.Delivery) error {
		started <- start{d.Inbox, inbox.Stopping(ctx) != nil, d.Attempt}
		return nil
	}
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: redis, Domains: []*activity.Domain{issues},
		Inboxes:         []inbox.Inbox{waiting, inbox.WithPolicy(lastOnly, inbox.Policy{MaxRetry: inbox.NoRetry})},
		ShutdownTimeout: time.Minute, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	for range 2 {
		select {
		case s := <-started:
			if s.attempt != 1 || s.told != (s.inbox == "waiting") {
				t.Fatalf("%+v: want attempt 1, told of stops unless on its last attempt (inbox last)", s)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the jobs did not start")
		}
	}
	if lastOnly.count(ev.ID) != 1 {
		t.Fatalf("the one-attempt job ran %d times", lastOnly.count(ev.ID))
	}
	// Shutdown returns when the waiting job gave up: without the signal
	// it would wait out the minute of ShutdownTimeout and the test's
	// deadline would fail it first.
	stopped := make(chan struct{})
	go func() { w.Shutdown(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown waited for the job: it was not told the worker stops")
	}

	again := newCollector("waiting", inbox.Everything)
	again.fn = func(ctx context.Context, d *inbox.Delivery) error {
		started <- start{d.Inbox, inbox.Stopping(ctx) != nil, d.Attempt}
		return nil
	}
	startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{again}})
	waitFor(t, 10*time.Second, "the handed-back job", func() bool { return again.count(ev.ID) == 1 }, again.changed)
	if s := <-started; s.attempt != 1 || !s.told {
		t.Errorf("the handed-back job ran as attempt %d (told of stops: %v); want attempt 1, told", s.attempt, s.told)
	}
}
