package inbox

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/internal/pgtest"
)

// loaderFixture records n comment_added events of a new issue in the inbox
// tests' database (made by their TestMain) and returns a loader on it with
// the events' ids, in order.
func loaderFixture(t *testing.T, n int) (*loader, []int64) {
	return loaderFixtureOf(t, n, func(int) string { return "comment_added" })
}

// loaderFixtureOf is loaderFixture with the i-th event's action.
func loaderFixtureOf(t *testing.T, n int, action func(i int) string) (*loader, []int64) {
	t.Helper()
	db, err := pgtest.Open("tidings_test_inbox")
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		t.Cleanup(func() { _ = sqlDB.Close() })
	}
	dom := activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added", "comment_deleted", "label_added", "looped"}})
	var issue int64
	if err := db.Raw(`INSERT INTO issues (title) VALUES ('read ahead') RETURNING id`).Scan(&issue).Error; err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, n)
	for i := range ids {
		res, err := dom.RecordEvent(context.Background(), db, issue, action(i),
			activity.Actor(activity.Ref{Type: "users", ID: "7", Label: "Ana"}))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.Event.ID
	}
	relayAs(t, db, ids)
	return newLoader(db, map[string]*activity.Domain{"issue": dom}), ids
}

// relayAs does to ids what a relay's batch does: deletes their outbox rows
// and writes an inbox_pending row each (inbox "loader-test", checked in an
// hour), in one statement. The loader reads ahead only such events.
func relayAs(t *testing.T, db *gorm.DB, ids []int64) {
	t.Helper()
	err := db.Exec(`WITH o AS (DELETE FROM activity_outbox WHERE domain = 'issue' AND event_id = ANY(?) RETURNING event_id, action)
INSERT INTO inbox_pending (domain, event_id, inbox, action, queue, check_at) SELECT 'issue', event_id, 'loader-test', action, 'default', now() + interval '1 hour' FROM o`, pgarray.Int8(ids)).Error
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.Exec(`DELETE FROM inbox_pending WHERE inbox = 'loader-test' AND event_id = ANY(?)`, pgarray.Int8(ids)).Error
	})
}

func loadAll(t *testing.T, l *loader, ids []int64) {
	t.Helper()
	for _, id := range ids {
		ev, err := l.load(context.Background(), activity.EventRef{Domain: "issue", ID: id}, "comment_added", 0, false)
		if err != nil {
			t.Fatal(err)
		}
		if ev.ID != id || ev.ActorLabel != "Ana" {
			t.Fatalf("load %d: got event %d by %q", id, ev.ID, ev.ActorLabel)
		}
	}
}

// A worker draining a backlog (the loader reading ahead since jobs found
// their events read ahead before) loads the jobs' events in order with a
// query per growing window of ids, not one per job; each job still gets its
// own event.
func TestLoaderReadsAheadUnderLoad(t *testing.T) {
	l, ids := loaderFixture(t, 200)
	l.ahead["issue"] = &readAhead{hits: 1} // as after a job found its event read ahead
	loadAll(t, l, ids)
	// 1 + 16 + 32 + 64 + 128 >= 200: five queries.
	if l.stats.Queries > 5 || l.stats.Hits < 190 {
		t.Errorf("200 jobs in order: %+v, want at most 5 queries and 190 events read ahead taken", l.stats)
	}
}

// Where the worker's jobs are a few of the domain's events (another action
// recorded at full speed), the window stays at its smallest: it grows with
// what jobs took, not with what it read.
func TestLoaderReadAheadStaysSmallWhenSparse(t *testing.T) {
	l, all := loaderFixtureOf(t, 160, func(i int) string {
		if i%4 == 0 {
			return "comment_added"
		}
		return "label_added"
	})
	var ids []int64
	for i := 0; i < len(all); i += 4 {
		ids = append(ids, all[i])
	}
	l.ahead["issue"] = &readAhead{hits: 1}
	loadAll(t, l, ids)
	if n := l.ahead["issue"].n; n != minAhead || l.stats.Queries > 12 || l.stats.ReadAhead > 40 {
		t.Errorf("40 jobs among 160 events: window %d, %+v; want %d, at most 12 queries, only the jobs' events kept", n, l.stats, minAhead)
	}
}

// A quiet worker (a job at a time, nothing read ahead used) reads no more
// than its jobs ask for.
func TestLoaderQuietReadsNoFurther(t *testing.T) {
	l, ids := loaderFixture(t, 20)
	loadAll(t, l, ids)
	if l.stats.Queries != 20 || l.stats.ReadAhead != 0 || len(l.shared) != 0 {
		t.Errorf("20 jobs one at a time: %+v, %d kept, want 20 queries and nothing read ahead or kept", l.stats, len(l.shared))
	}
}

// An event read ahead is kept for its time and no longer: after it, a job
// loads the event as stored (an edit, an erasure since), a retry never
// takes the copy, and a worker that goes quiet drops every copy without a
// job coming.
func TestLoaderReadAheadIsShortLived(t *testing.T) {
	l, ids := loaderFixture(t, 40)
	l.keep = 100 * time.Millisecond
	swept := make(chan int, 100)
	l.afterSweep = func(kept int) { swept <- kept }
	l.ahead["issue"] = &readAhead{hits: 1}
	loadAll(t, l, ids[:1])
	l.mu.Lock()
	kept := len(l.shared)
	l.mu.Unlock()
	if kept < 16 {
		t.Fatalf("%d events read ahead kept, want 16", kept)
	}
	if err := l.db.Exec(`UPDATE issue_events SET actor_label = 'erased' WHERE id = ANY(?)`, pgarray.Int8(ids)).Error; err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if ev, err := l.load(ctx, activity.EventRef{Domain: "issue", ID: ids[1]}, "comment_added", 0, true); err != nil || ev.ActorLabel != "erased" {
		t.Errorf("a retry got %q (%v), want the stored event", ev.ActorLabel, err)
	}
	if ev, err := l.load(ctx, activity.EventRef{Domain: "issue", ID: ids[2]}, "comment_added", 0, false); err != nil || ev.ActorLabel != "Ana" {
		t.Errorf("a first attempt within the time got %q (%v), want the copy read ahead", ev.ActorLabel, err)
	}
	// The sweep timer drops the copies once their time is up.
	deadline := time.After(5 * time.Second)
	for kept > 0 {
		select {
		case kept = <-swept:
		case <-deadline:
			t.Fatalf("%d copies still kept 5s after their time", kept)
		}
	}
	if ev, err := l.load(ctx, activity.EventRef{Domain: "issue", ID: ids[3]}, "comment_added", 0, false); err != nil || ev.ActorLabel != "erased" {
		t.Errorf("a first attempt after the time got %q (%v), want the stored event", ev.ActorLabel, err)
	}
}

// Forget drops every copy at once.
func TestLoaderForget(t *testing.T) {
	l, ids := loaderFixture(t, 20)
	l.ahead["issue"] = &readAhead{hits: 1}
	loadAll(t, l, ids[:1])
	l.Forget()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.shared) != 0 {
		t.Errorf("%d copies kept after Forget", len(l.shared))
	}
}

// The loader reads ahead only events the relay handed out (an
// inbox_pending row): an event still in the outbox may be the person's
// whom an erasure is masking, holding the outbox row until it commits
// and not counting it as in flight; its job, handed out after the
// erasure, must load the erased event, not a copy read before.
func TestLoaderReadsAheadOnlyRelayedEvents(t *testing.T) {
	l, ids := loaderFixtureOf(t, 40, func(int) string { return "comment_added" })
	held := ids[5] // the person's event, still in the outbox
	if err := l.db.Exec(`WITH p AS (DELETE FROM inbox_pending WHERE inbox = 'loader-test' AND event_id = ? RETURNING event_id, action)
INSERT INTO activity_outbox (domain, event_id, action, subject_id) SELECT 'issue', event_id, action, '1' FROM p`, held).Error; err != nil {
		t.Fatal(err)
	}
	l.ahead["issue"] = &readAhead{hits: 1}
	loadAll(t, l, ids[:1]) // reads ids[1..16] ahead
	l.mu.Lock()
	_, copied := l.shared[activity.EventRef{Domain: "issue", ID: held}]
	kept := len(l.shared)
	l.mu.Unlock()
	if copied || kept != 15 {
		t.Errorf("read ahead: %d kept, the unrelayed event among them: %v; want the 15 relayed ones only", kept, copied)
	}
	// The erasure masks it; the relay hands it out after; its job's first
	// attempt, within the copies' time, sees the erased event.
	if err := l.db.Exec(`UPDATE issue_events SET actor_label = 'erased' WHERE id = ?`, held).Error; err != nil {
		t.Fatal(err)
	}
	relayAs(t, l.db, []int64{held})
	if ev, err := l.load(context.Background(), activity.EventRef{Domain: "issue", ID: held}, "comment_added", 0, false); err != nil || ev.ActorLabel != "erased" {
		t.Errorf("the first attempt of a job relayed after the erasure got %q (%v), want the erased event", ev.ActorLabel, err)
	}
}
