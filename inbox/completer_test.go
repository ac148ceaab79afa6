package inbox_test

import (
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// TestCompleterSleepsWhileIdle: the worker's completer (which deletes the
// inbox_pending rows of finished jobs) runs no timer while nothing waits:
// an idle worker's completer does not wake (its 100ms ticker was a third
// of an idle worker's wake-ups). A finished job still has its row deleted
// within the deadline, and the completer then sleeps again.
func TestCompleterSleepsWhileIdle(t *testing.T) {
	reset(t)
	all := newCollector("all", inbox.Everything)
	w := startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{all}})
	// A measuring window, not a wait for a condition: a completer ticking
	// every 100ms wakes 4 or 5 times in it.
	idle := func(what string) {
		t.Helper()
		before := w.CompleterWakes()
		window := time.NewTimer(450 * time.Millisecond)
		<-window.C
		if n := w.CompleterWakes() - before; n != 0 {
			t.Errorf("%s: the completer woke %d times in 450ms with nothing to mark; want 0", what, n)
		}
	}
	idle("before any job")

	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	waitFor(t, 10*time.Second, "the event delivered", func() bool { return all.count(ev.ID) == 1 }, all.changed)
	waitFor(t, 10*time.Second, "its inbox_pending row deleted by the completer", func() bool {
		var n int64
		if err := testDB.Raw(`SELECT count(*) FROM inbox_pending`).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
	if w.CompleterWakes() == 0 {
		t.Error("the row was deleted without the completer waking")
	}
	idle("after the job's row was deleted")
}
