package inbox_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

func ledgerKey(recipient string) inbox.Key {
	return inbox.Key{Inbox: "ledger-test", Event: activity.EventRef{Domain: "issue", ID: 77}, Recipient: recipient}
}

// Once applies a database effect exactly once, even when attempts race,
// and not at all when the effect fails.
func TestLedgerOnceIsExactlyOnce(t *testing.T) {
	reset(t)
	ctx := context.Background()
	if err := testDB.Exec(`CREATE TABLE IF NOT EXISTS ledger_effects (k text)`).Error; err != nil {
		t.Fatal(err)
	}
	testDB.Exec(`TRUNCATE ledger_effects`)
	l := inbox.NewLedger(inbox.LedgerConfig{})
	var ran atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := l.Once(ctx, testDB, ledgerKey("ana"), func(tx *gorm.DB) error {
				return tx.Exec(`INSERT INTO ledger_effects VALUES ('ana')`).Error
			})
			if err != nil {
				t.Error(err)
			}
			if ok {
				ran.Add(1)
			}
		}()
	}
	wg.Wait()
	var n int64
	testDB.Raw(`SELECT count(*) FROM ledger_effects`).Scan(&n)
	if ran.Load() != 1 || n != 1 {
		t.Errorf("10 racing attempts: fn ran %d times, %d effect rows; want 1 and 1", ran.Load(), n)
	}

	// A failing effect records nothing: the next attempt runs it.
	boom := errors.New("boom")
	_, err := l.Once(ctx, testDB, ledgerKey("bo"), func(tx *gorm.DB) error {
		tx.Exec(`INSERT INTO ledger_effects VALUES ('bo')`)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	ok, err := l.Once(ctx, testDB, ledgerKey("bo"), func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO ledger_effects VALUES ('bo')`).Error
	})
	if err != nil || !ok {
		t.Fatalf("retry after a failed effect: ran %v, %v", ok, err)
	}
	testDB.Raw(`SELECT count(*) FROM ledger_effects WHERE k = 'bo'`).Scan(&n)
	if n != 1 {
		t.Errorf("%d effect rows for bo, want 1", n)
	}

	// Inside the caller's transaction: rolled back with it.
	_ = testDB.Transaction(func(tx *gorm.DB) error {
		if _, err := l.Once(ctx, tx, ledgerKey("cy"), func(*gorm.DB) error { return nil }); err != nil {
			t.Fatal(err)
		}
		return errors.New("roll back")
	})
	if _, found, _ := l.Lookup(ctx, testDB, ledgerKey("cy")); found {
		t.Error("a ledger row survived its transaction's rollback")
	}
}

// Send (Claim, MarkSent, Release) keeps an external effect to one success,
// shuts out a concurrent attempt, and lets a dead attempt's claim be taken
// over after the claim timeout.
func TestLedgerClaimAndSend(t *testing.T) {
	reset(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	l := inbox.NewLedger(inbox.LedgerConfig{ClaimTimeout: time.Minute, Now: clock})
	k := ledgerKey("ana@example.com")

	sends := 0
	send := func(err error) func(context.Context) error {
		return func(context.Context) error { sends++; return err }
	}
	// A failed send is released and returned.
	if ok, err := l.Send(ctx, testDB, k, send(errors.New("421 busy"))); ok || err == nil {
		t.Fatalf("failing send: %v, %v", ok, err)
	}
	e, _, _ := l.Lookup(ctx, testDB, k)
	if e.Status != inbox.StatusFailed || e.LastError != "421 busy" {
		t.Errorf("after a failed send: %+v", e)
	}
	// The retry sends; the one after skips.
	if ok, err := l.Send(ctx, testDB, k, send(nil)); !ok || err != nil {
		t.Fatalf("retry: %v, %v", ok, err)
	}
	if ok, err := l.Send(ctx, testDB, k, send(nil)); ok || err != nil {
		t.Fatalf("after success: %v, %v; want skipped", ok, err)
	}
	if sends != 2 {
		t.Errorf("%d sends, want 2", sends)
	}

	// A claim in flight shuts out another attempt, with a Retry-After.
	k2 := ledgerKey("bo@example.com")
	if ok, err := l.Claim(ctx, testDB, k2); !ok || err != nil {
		t.Fatalf("claim: %v, %v", ok, err)
	}
	advance(20 * time.Second)
	ok, err := l.Claim(ctx, testDB, k2)
	var ra *inbox.RetryAfterError
	if ok || !errors.Is(err, inbox.ErrInFlight) || !errors.As(err, &ra) || ra.Delay != 40*time.Second {
		t.Fatalf("second claim: %v, %v; want ErrInFlight, retry after 40s", ok, err)
	}
	// The claimer died: after the timeout the claim is taken over.
	advance(41 * time.Second)
	if ok, err := l.Claim(ctx, testDB, k2); !ok || err != nil {
		t.Fatalf("claim after the timeout: %v, %v", ok, err)
	}
	if err := l.MarkSent(ctx, testDB, k2); err != nil {
		t.Fatal(err)
	}
	e, _, _ = l.Lookup(ctx, testDB, k2)
	if e.Status != inbox.StatusSent || e.Attempts != 2 {
		t.Errorf("entry %+v: want sent after 2 attempts", e)
	}
	if err := l.MarkSent(ctx, testDB, ledgerKey("never-claimed")); err == nil {
		t.Error("MarkSent without a claim succeeded")
	}
	// PruneAllTenants keeps nothing older than asked.
	if n, err := l.PruneAllTenants(ctx, testDB, now.Add(time.Hour)); err != nil || n != 2 {
		t.Errorf("PruneAllTenants = %d, %v; want 2", n, err)
	}
}
