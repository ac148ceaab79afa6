package activity_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

func TestThrottleWithin(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	c := Comment{IssueID: i.ID, Body: "first"}
	testDB.Create(&c)
	// A domain with a clock of its own, moved by this test alone.
	clk := &testClock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	dom := newIssueDomain(clk.Now)
	view := func() activity.Result {
		t.Helper()
		res, err := dom.RecordEvent(ctx, testDB, i.ID, "comment_viewed",
			activity.Actor(&u), activity.Record(&c), activity.ThrottleWithin(15*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	first := view()
	if first.Throttled {
		t.Fatal("first view reported Throttled")
	}
	clk.Advance(10 * time.Minute)
	second := view()
	if !second.Throttled || second.Event.ID != first.Event.ID {
		t.Fatalf("second view within the window: Throttled=%v id=%d; want the first event (%d) touched", second.Throttled, second.Event.ID, first.Event.ID)
	}
	if !second.Event.OccurredAt.Equal(clk.Now()) || second.Event.Repeats != 1 {
		t.Errorf("touched event: occurred_at %v (want %v), repeats %d (want 1)", second.Event.OccurredAt, clk.Now(), second.Event.Repeats)
	}
	if !second.Event.CreatedAt.Equal(first.Event.CreatedAt) {
		t.Errorf("created_at moved: %v -> %v", first.Event.CreatedAt, second.Event.CreatedAt)
	}
	if ev, ob := counts(t, i.ID); ev != 1 || ob != 1 {
		t.Errorf("after a throttled repeat: %d events, %d outbox rows; want 1 and 1 (no new fan-out)", ev, ob)
	}

	// The window runs from the last occurrence, which moved: 14 minutes
	// after it is still inside...
	clk.Advance(14 * time.Minute)
	if third := view(); !third.Throttled || third.Event.Repeats != 2 {
		t.Errorf("third view 14m after the second: Throttled=%v repeats=%d", third.Throttled, third.Event.Repeats)
	}
	// ...and 16 minutes after it is a new event.
	clk.Advance(16 * time.Minute)
	fourth := view()
	if fourth.Throttled || fourth.Event.ID == first.Event.ID {
		t.Errorf("view after the window: Throttled=%v id=%d; want a new event", fourth.Throttled, fourth.Event.ID)
	}
	if ev, ob := counts(t, i.ID); ev != 2 || ob != 2 {
		t.Errorf("after the window: %d events, %d outbox rows; want 2 and 2", ev, ob)
	}

	// A different record, actor or action is a different key.
	other, err := dom.RecordEvent(ctx, testDB, i.ID, "comment_viewed", activity.Actor(&u), activity.ThrottleWithin(15*time.Minute))
	if err != nil || other.Throttled {
		t.Errorf("view without a record: Throttled=%v err=%v; want a new event", other.Throttled, err)
	}
}

// TestThrottleRace fires 32 goroutines at the same throttled key at the same
// instant, 20 rounds: each round must leave exactly one row and no error.
func TestThrottleRace(t *testing.T) {
	ctx := context.Background()
	const writers, rounds = 32, 20
	for round := 0; round < rounds; round++ {
		u, i := fixture(t)
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		throttled := make(chan bool, writers)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := issues.RecordEvent(ctx, testDB, i.ID, "comment_viewed", activity.Actor(&u), activity.ThrottleWithin(15*time.Minute))
				if err != nil {
					errs <- err
					return
				}
				throttled <- res.Throttled
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		close(throttled)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		inserted := 0
		for th := range throttled {
			if !th {
				inserted++
			}
		}
		ev, ob := counts(t, i.ID)
		if ev != 1 || ob != 1 || inserted != 1 {
			t.Fatalf("round %d: %d events, %d outbox rows, %d calls inserted; want exactly 1 each", round, ev, ob, inserted)
		}
		var repeats int
		testDB.Table("issue_events").Where("subject_id = ?", i.ID).Select("repeats").Scan(&repeats)
		if repeats != writers-1 {
			t.Fatalf("round %d: repeats = %d, want %d", round, repeats, writers-1)
		}
	}
}

// TestThrottleInTransactions: throttled calls inside concurrent caller
// transactions still collapse (the lock is held until each commits).
func TestThrottleInTransactions(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- testDB.Transaction(func(tx *gorm.DB) error {
				_, err := issues.RecordEvent(ctx, tx, i.ID, "comment_viewed", activity.Actor(&u), activity.ThrottleWithin(time.Hour))
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ev, _ := counts(t, i.ID); ev != 1 {
		t.Errorf("8 transactions on one key left %d events; want 1", ev)
	}
}

func TestThrottleRefusesStricterIsolation(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	for _, level := range []string{"REPEATABLE READ", "SERIALIZABLE"} {
		tx := testDB.Begin()
		if err := tx.Exec("SET TRANSACTION ISOLATION LEVEL " + level).Error; err != nil {
			t.Fatal(err)
		}
		_, err := issues.RecordEvent(ctx, tx, i.ID, "comment_viewed", activity.Actor(&u), activity.ThrottleWithin(time.Minute))
		tx.Rollback()
		if !errors.Is(err, activity.ErrThrottleIsolation) {
			t.Errorf("%s: err = %v, want ErrThrottleIsolation", level, err)
		}
	}
	if ev, ob := counts(t, i.ID); ev != 0 || ob != 0 {
		t.Errorf("refused calls wrote %d events, %d outbox rows", ev, ob)
	}
	// Unthrottled recording is fine at any level.
	tx := testDB.Begin()
	tx.Exec("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
	if _, err := issues.RecordEvent(ctx, tx, i.ID, "comment_added", activity.Actor(&u)); err != nil {
		t.Errorf("unthrottled at SERIALIZABLE: %v", err)
	}
	tx.Commit()
}
