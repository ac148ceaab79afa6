package inbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// LISTEN wakes the relay right after a commit (polling is set to an hour,
// so nothing else could), and the relay reconnects when the LISTEN
// connection is killed.
func TestListenWakesTheRelayAndReconnects(t *testing.T) {
	reset(t)
	c := newCollector("listened", inbox.Everything)
	w := startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{c}, Relay: inbox.RelayConfig{PollInterval: time.Hour}})
	waitFor(t, 10*time.Second, "the LISTEN connection", w.Relay().Listening)
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	waitFor(t, 5*time.Second, "a delivery woken by NOTIFY", func() bool { return c.count(ev.ID) == 1 }, c.changed)

	// Kill the listener's backend.
	var pids []int
	testDB.Raw(`SELECT pid FROM pg_stat_activity WHERE application_name = ? AND datname = current_database()`, inbox.ListenApplicationName).Scan(&pids)
	if len(pids) != 1 {
		t.Fatalf("%d listener connections, want 1", len(pids))
	}
	if err := testDB.Exec(`SELECT pg_terminate_backend(?)`, pids[0]).Error; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a new LISTEN connection", func() bool {
		var n []int
		testDB.Raw(`SELECT pid FROM pg_stat_activity WHERE application_name = ? AND datname = current_database() AND pid <> ?`, inbox.ListenApplicationName, pids[0]).Scan(&n)
		return len(n) == 1 && w.Relay().Listening()
	})
	ev2 := record(t, testDB, issueID, "comment_added")
	waitFor(t, 5*time.Second, "a delivery after reconnecting", func() bool { return c.count(ev2.ID) == 1 }, c.changed)
}

// Without LISTEN, polling alone delivers.
func TestPollingWithoutListen(t *testing.T) {
	reset(t)
	c := newCollector("polled", inbox.Everything)
	startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{c}, Relay: inbox.RelayConfig{DisableListen: true, PollInterval: 50 * time.Millisecond}})
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	waitFor(t, 5*time.Second, "a polled delivery", func() bool { return c.count(ev.ID) == 1 }, c.changed)
}

// A relay limited to some domains leaves other domains' rows in the
// outbox, saying why.
func TestRelayLeavesRowsOfOtherDomains(t *testing.T) {
	reset(t)
	testDB.Exec(`INSERT INTO activity_outbox (domain, event_id, action, subject_id) VALUES ('invoice', 5, 'paid', '9')`)
	r, err := inbox.NewRelay(inbox.RelayConfig{DB: testDB, Redis: redis, Inboxes: []inbox.Inbox{newCollector("x", inbox.Everything)}, Domains: issuesOnly()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.RelayOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var lastError string
	testDB.Raw(`SELECT last_error FROM activity_outbox WHERE domain = 'invoice'`).Scan(&lastError)
	if lastError != `domain "invoice" is not among this relay's Domains` {
		t.Errorf("last_error = %q", lastError)
	}
}
