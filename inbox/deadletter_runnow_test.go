package inbox_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/inbox"
)

// "Run now" on asynq's archived task (asynqmon, the demo's Queues page)
// delivers it: its dead letter leaves the open list, marked delivered.
// A re-drive is tracked in PostgreSQL again (inbox_pending) until done.
func TestRunNowResolvesTheDeadLetter(t *testing.T) {
	reset(t)
	ctx := context.Background()
	var broken atomic.Bool
	broken.Store(true)
	c := newCollector("runnow", inbox.Everything)
	c.fn = func(context.Context, *inbox.Delivery) error {
		if broken.Load() {
			return inbox.Permanent(errors.New("template missing"))
		}
		return nil
	}
	w := startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{c}})
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	open := func() []inbox.DeadLetter {
		p, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: "runnow"})
		if err != nil {
			t.Fatal(err)
		}
		return p.Letters
	}
	waitFor(t, 10*time.Second, "the dead letter", func() bool { return len(open()) == 1 }, c.changed)
	var pending int64
	waitFor(t, 10*time.Second, "the pending row to go (the letter is the record now)", func() bool {
		testDB.Raw(`SELECT count(*) FROM inbox_pending`).Scan(&pending)
		return pending == 0
	})

	broken.Store(false)
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	if err := insp.RunTask(inbox.DefaultQueue, inbox.TaskID("runnow", ev.Ref())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the delivery", func() bool { return c.count(ev.ID) == 1 }, c.changed)
	waitFor(t, 10*time.Second, "the letter to leave the open list", func() bool { return len(open()) == 0 })
	p, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{Inbox: "runnow", IncludeRedriven: true})
	if err != nil || len(p.Letters) != 1 || p.Letters[0].DeliveredAt == nil {
		t.Fatalf("letters %+v %v; want the one letter, marked delivered", p.Letters, err)
	}

	// It fails again later (a new event, the same story), is re-driven:
	// PostgreSQL tracks the re-driven job until it is done.
	broken.Store(true)
	ev2 := record(t, testDB, issueID, "comment_added")
	waitFor(t, 10*time.Second, "the second dead letter", func() bool { return len(open()) == 1 }, c.changed)
	broken.Store(false)
	if err := w.DeadLetters().Redrive(ctx, "runnow", ev2.Ref()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the re-driven delivery", func() bool { return c.count(ev2.ID) == 1 }, c.changed)
	waitFor(t, 10*time.Second, "the re-driven job to be marked done", func() bool {
		testDB.Raw(`SELECT count(*) FROM inbox_pending`).Scan(&pending)
		return pending == 0
	})
}
