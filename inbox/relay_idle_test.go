package inbox_test

import (
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// TestRelayPollsSlowerWhileListening: with its LISTEN connection up, an
// idle relay's pause keeps doubling past PollInterval up to
// ListeningPollInterval (an hour here): a window in which polling at
// PollInterval (10ms) makes dozens of claims sees a few at most, and a
// recording is still delivered at once (its notification wakes the relay).
func TestRelayPollsSlowerWhileListening(t *testing.T) {
	reset(t)
	all := newCollector("all", inbox.Everything)
	cfg := inbox.Config{Inboxes: []inbox.Inbox{all}, IdleCheckInterval: time.Hour}
	cfg.Relay.PollInterval, cfg.Relay.MinPollInterval, cfg.Relay.ActivePeriod = 10*time.Millisecond, time.Millisecond, time.Millisecond
	cfg.Relay.ListeningPollInterval = time.Hour
	w := startWorker(t, cfg)
	waitFor(t, 10*time.Second, "the relay listening", w.Relay().Listening)
	// Measuring windows, not waits for a condition: the first lets the
	// pause double past a second, the second counts the claims.
	settle := time.NewTimer(1500 * time.Millisecond)
	<-settle.C
	before := w.Relay().Stats().Polls
	window := time.NewTimer(500 * time.Millisecond)
	<-window.C
	if n := w.Relay().Stats().Polls - before; n > 3 {
		t.Errorf("%d claims in 500ms of an idle relay whose LISTEN is up; want a few at most (polling every PollInterval, 10ms, makes about 50)", n)
	}
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	waitFor(t, 10*time.Second, "the event delivered (its notification wakes the relay)", func() bool { return all.count(ev.ID) == 1 }, all.changed)
}
