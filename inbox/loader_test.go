package inbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// Each attempt sees the event as stored when it starts: an inbox that
// failed sees, on its retry, an edit made in between (a job carries no
// copy, and the worker keeps none for a retry), while another inbox
// taking the same event gets it too.
func TestRetrySeesTheStoredEvent(t *testing.T) {
	reset(t)
	var mu sync.Mutex
	var labels []string
	edited := make(chan struct{})
	flaky := newCollector("flaky-label", inbox.Everything)
	flaky.fn = func(_ context.Context, d *inbox.Delivery) error {
		mu.Lock()
		labels = append(labels, d.Event.ActorLabel)
		mu.Unlock()
		if d.Attempt == 1 {
			return errors.New("sink said no")
		}
		return nil
	}
	other := newCollector("other-label", inbox.Everything)
	startWorker(t, inbox.Config{
		Inboxes:                  []inbox.Inbox{inbox.WithPolicy(flaky, inbox.Policy{Backoff: func(int) time.Duration { <-edited; return 10 * time.Millisecond }}), other},
		DelayedTaskCheckInterval: 20 * time.Millisecond,
	})
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added", activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "Before"}))
	waitFor(t, 10*time.Second, "the first attempt", func() bool { return len(flaky.attemptTimes()) == 1 }, flaky.changed)
	if err := testDB.Exec(`UPDATE issue_events SET actor_label = 'After' WHERE id = ?`, ev.ID).Error; err != nil {
		t.Fatal(err)
	}
	close(edited)
	waitFor(t, 10*time.Second, "the retry", func() bool { return flaky.count(ev.ID) == 1 && other.count(ev.ID) == 1 }, flaky.changed, other.changed)
	mu.Lock()
	defer mu.Unlock()
	if len(labels) != 2 || labels[0] != "Before" || labels[1] != "After" {
		t.Errorf("labels seen by the attempts: %q, want [Before After]", labels)
	}
}
