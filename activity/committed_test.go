package activity_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// TestOnCommitted: the functions registered with OnCommitted run once per
// recording that committed on its own (RecordEvent and RecordEvents on the
// pool), not for one inside the caller's transaction (committed or rolled
// back), a throttled touch or a refused call, and no longer once removed.
func TestOnCommitted(t *testing.T) {
	ctx := context.Background()
	d := newIssueDomain(clock.Now)
	u, i := fixture(t)
	var a, b atomic.Int64
	removeA := d.OnCommitted(func() { a.Add(1) })
	removeB := d.OnCommitted(func() { b.Add(1) })
	defer removeB()
	check := func(what string, wantA, wantB int64) {
		t.Helper()
		if a.Load() != wantA || b.Load() != wantB {
			t.Fatalf("after %s: called %d and %d times; want %d and %d", what, a.Load(), b.Load(), wantA, wantB)
		}
	}
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u)); err != nil {
		t.Fatal(err)
	}
	check("a recording on the pool", 1, 1)
	if _, err := d.RecordEvents(ctx, testDB, []activity.NewEvent{{Subject: i.ID, Action: "comment_added"}, {Subject: i.ID, Action: "label_added"}}, activity.Actor(&u)); err != nil {
		t.Fatal(err)
	}
	check("a bulk recording on the pool (one statement)", 2, 2)
	if err := testDB.Transaction(func(tx *gorm.DB) error {
		_, err := d.RecordEvent(ctx, tx, i.ID, "comment_added", activity.Actor(&u))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	check("a recording in a transaction", 2, 2)
	rollback := errors.New("roll back")
	if err := testDB.Transaction(func(tx *gorm.DB) error {
		if _, err := d.RecordEvents(ctx, tx, []activity.NewEvent{{Subject: i.ID, Action: "comment_added"}}, activity.Actor(&u)); err != nil {
			return err
		}
		return rollback
	}); !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	check("a bulk recording in a transaction rolled back", 2, 2)
	if _, err := d.RecordEvent(ctx, testDB, i.ID+1_000_000, "comment_added", activity.Actor(&u)); err == nil {
		t.Fatal("a recording for a missing subject succeeded")
	}
	check("a refused recording", 2, 2)
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_viewed", activity.Actor(&u), activity.ThrottleWithin(time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("a throttled recording that inserted", 3, 3)
	if res, err := d.RecordEvent(ctx, testDB, i.ID, "comment_viewed", activity.Actor(&u), activity.ThrottleWithin(time.Hour)); err != nil || !res.Throttled {
		t.Fatalf("second throttled recording: %+v, %v; want Throttled", res, err)
	}
	check("a throttled touch (no outbox row)", 3, 3)
	removeA()
	removeA() // twice is harmless
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u)); err != nil {
		t.Fatal(err)
	}
	check("a recording after the first was removed", 3, 4)
}
