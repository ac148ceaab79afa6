package inbox_test

import (
	"context"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// A live delivery relayed while a backfill's job of the same event and
// inbox holds their inbox_pending row takes the row over: the backfill's
// job, ending, leaves it, so the live delivery stays findable (the
// sweeper re-enqueues it if Redis loses it; an erasure waits for it).
func TestBackfillJobLeavesTheLiveDeliverysPendingRow(t *testing.T) {
	reset(t)
	ctx := context.Background()
	c := newCollector("overlap", inbox.Everything)
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: redis, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{c}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	untrack, err := w.TrackBackfill(ctx, "overlap", issues, ev.ID, "comment_added")
	if err != nil {
		t.Fatal(err)
	}
	r, err := inbox.NewRelay(inbox.RelayConfig{DB: testDB, Redis: redis, Inboxes: []inbox.Inbox{c}, Domains: issuesOnly(), DisableListen: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := r.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("Drain = %d, %v; want the live row", n, err)
	}
	untrack()
	var rows int64
	if err := testDB.Raw(`SELECT count(*) FROM `+inbox.PendingTable+` WHERE domain = 'issue' AND event_id = ? AND inbox = 'overlap'`, ev.ID).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("%d inbox_pending rows of the live delivery after the backfill's job ended; want 1 (the backfill's job deleted the row the relay's delivery relies on)", rows)
	}
}
