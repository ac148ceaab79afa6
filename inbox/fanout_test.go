package inbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// After a commit each accepting inbox processes the event once; a rolled
// back transaction or savepoint fans out nothing; an inbox that does not
// accept the action gets no job at all.
func TestFanOutAfterCommitOnly(t *testing.T) {
	reset(t)
	ctx := context.Background()
	comments := newCollector("comments", inbox.On("issue", "comment_added"))
	all := newCollector("everything", inbox.Everything)
	labels := newCollector("labels", inbox.On("issue", "label_added"))
	startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{comments, all, labels}})
	_, issueID := newIssue(t)

	// Committed: recorded in a transaction that commits.
	var committed, rolledBack, savepointed activity.Event
	err := testDB.Transaction(func(tx *gorm.DB) error {
		committed = record(t, tx, issueID, "comment_added")
		// A savepoint that rolls back: its event must not fan out.
		_ = tx.Transaction(func(sp *gorm.DB) error {
			savepointed = record(t, sp, issueID, "comment_added")
			return errors.New("roll back the savepoint")
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Rolled back: the whole transaction.
	_ = testDB.Transaction(func(tx *gorm.DB) error {
		rolledBack = record(t, tx, issueID, "comment_added")
		return errors.New("roll back")
	})
	// On the pool, outside any transaction.
	onPool := record(t, testDB, issueID, "comment_added")

	waitFor(t, 10*time.Second, "both committed events in both accepting inboxes", func() bool {
		return comments.count(committed.ID) >= 1 && comments.count(onPool.ID) >= 1 &&
			all.count(committed.ID) >= 1 && all.count(onPool.ID) >= 1
	}, comments.changed, all.changed)
	waitFor(t, 10*time.Second, "the outbox and queue to settle", func() bool { return quiet(t, redis) })

	for _, c := range []*collector{comments, all} {
		for _, ev := range []activity.Event{committed, onPool} {
			if n := c.count(ev.ID); n != 1 {
				t.Errorf("inbox %s processed committed event %d %d times, want once", c.name, ev.ID, n)
			}
		}
		for _, ev := range []activity.Event{rolledBack, savepointed} {
			if n := c.count(ev.ID); n != 0 {
				t.Errorf("inbox %s processed rolled-back event %d %d times, want never", c.name, ev.ID, n)
			}
		}
	}
	if ev, n := labels.total(); ev != 0 || n != 0 {
		t.Errorf("the labels inbox processed %d deliveries; it accepts no comment_added", n)
	}
	// Not even a job was enqueued for it.
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	for _, ev := range []activity.Event{committed, onPool} {
		_, err := insp.GetTaskInfo(inbox.DefaultQueue, inbox.TaskID("labels", ev.Ref()))
		if !errors.Is(err, asynq.ErrTaskNotFound) {
			t.Errorf("task for labels/%d: err = %v, want ErrTaskNotFound", ev.ID, err)
		}
		// The accepting inboxes' tasks are retained, completed, under their IDs.
		info, err := insp.GetTaskInfo(inbox.DefaultQueue, inbox.TaskID("comments", ev.Ref()))
		if err != nil || info.State != asynq.TaskStateCompleted {
			t.Errorf("task for comments/%d: %v, %v; want completed and retained", ev.ID, info, err)
		}
	}
	_ = ctx
}

// An event of an action no inbox accepts leaves the outbox without a job.
func TestUnwantedEventsLeaveTheOutbox(t *testing.T) {
	reset(t)
	labels := newCollector("labels", inbox.On("issue", "label_added"))
	r, err := inbox.NewRelay(inbox.RelayConfig{DB: testDB, Redis: redis, Inboxes: []inbox.Inbox{labels}, DisableListen: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, issueID := newIssue(t)
	record(t, testDB, issueID, "comment_added")
	record(t, testDB, issueID, "label_added")
	n, err := r.Drain(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("Drain = %d, %v; want 2 rows", n, err)
	}
	if s := r.Stats(); s.Enqueued != 1 || s.Unwanted != 1 || s.Deleted != 2 {
		t.Fatalf("stats %+v: want 1 enqueued, 1 unwanted, 2 deleted", s)
	}
	if outboxLen(t) != 0 {
		t.Fatal("outbox not empty")
	}
}
