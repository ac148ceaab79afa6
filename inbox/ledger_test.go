package inbox_test

import (
	"context"
	"errors"
	"fmt"
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

// A claim and its mark in a caller's transaction leave the transaction's
// commit as it was (synchronous): the WAL flush is skipped only for the
// ledger's own one-statement transactions on the pool.
func TestLedgerClaimInTransactionKeepsItsCommitSynchronous(t *testing.T) {
	reset(t)
	ctx := context.Background()
	l := inbox.NewLedger(inbox.LedgerConfig{})
	err := testDB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if ok, err := l.Claim(ctx, tx, ledgerKey("tx")); err != nil || !ok {
			t.Fatalf("Claim in a transaction = %v, %v; want true", ok, err)
		}
		if err := l.MarkSent(ctx, tx, ledgerKey("tx")); err != nil {
			t.Fatal(err)
		}
		var setting string
		if err := tx.Raw(`SELECT current_setting('synchronous_commit')`).Row().Scan(&setting); err != nil {
			t.Fatal(err)
		}
		if setting == "off" {
			t.Errorf("after a claim and a mark in the caller's transaction, synchronous_commit = %q: its commit would not wait for the WAL flush", setting)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// On the pool: claimed and marked as before.
	if ok, err := l.Claim(ctx, testDB, ledgerKey("pool")); err != nil || !ok {
		t.Fatalf("Claim on the pool = %v, %v; want true", ok, err)
	}
	if err := l.MarkSent(ctx, testDB, ledgerKey("pool")); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"tx", "pool"} {
		if e, found, err := l.Lookup(ctx, testDB, ledgerKey(r)); err != nil || !found || e.Status != inbox.StatusSent {
			t.Errorf("%s: Lookup = %+v %v %v; want sent", r, e, found, err)
		}
	}
}

// MarkSent calls made while a mark's statement is in flight wait and go
// together in the next statement, each with its own outcome: a claimed
// key is marked, an unclaimed one is an error, and a second mark of one
// key (a statement takes a key once) finds it marked, as ungrouped marks
// do.
func TestLedgerMarksMadeAtOnceShareAStatement(t *testing.T) {
	reset(t)
	ctx := context.Background()
	l := inbox.NewLedger(inbox.LedgerConfig{})
	claimed := []string{"blocker", "dup"}
	for i := range 20 {
		claimed = append(claimed, fmt.Sprintf("r%02d", i))
	}
	for _, r := range claimed {
		if ok, err := l.Claim(ctx, testDB, ledgerKey(r)); err != nil || !ok {
			t.Fatalf("Claim(%s) = %v, %v", r, ok, err)
		}
	}
	// Hold the blocker's row, so that its mark's statement stays in
	// flight while the others are made.
	tx := testDB.Begin()
	defer tx.Rollback()
	if err := tx.Exec(`SELECT 1 FROM inbox_deliveries WHERE recipient = 'blocker' FOR UPDATE`).Error; err != nil {
		t.Fatal(err)
	}
	errs := map[string]chan error{}
	mark := func(name, recipient string) {
		ch := make(chan error, 1)
		errs[name] = ch
		go func() { ch <- l.MarkSent(ctx, testDB, ledgerKey(recipient)) }()
	}
	mark("blocker", "blocker")
	waitFor(t, 10*time.Second, "the blocker's mark waiting for its row", func() bool {
		var waiting int64
		testDB.Raw(`SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()`).Scan(&waiting)
		return waiting > 0
	})
	for _, r := range claimed[2:] {
		mark(r, r)
	}
	mark("unclaimed", "nobody")
	mark("dup1", "dup")
	mark("dup2", "dup")
	waitFor(t, 10*time.Second, "23 marks waiting", func() bool { return l.PendingMarks() == 23 })
	if err := tx.Rollback().Error; err != nil {
		t.Fatal(err)
	}
	got := map[string]error{}
	for name, ch := range errs {
		select {
		case err := <-ch:
			got[name] = err
		case <-time.After(10 * time.Second):
			t.Fatalf("MarkSent %s: no answer within 10s", name)
		}
	}
	for _, r := range claimed[2:] {
		if got[r] != nil {
			t.Errorf("MarkSent(%s) = %v, want nil", r, got[r])
		}
	}
	if got["blocker"] != nil {
		t.Errorf("MarkSent(blocker) = %v, want nil", got["blocker"])
	}
	if got["unclaimed"] == nil {
		t.Errorf("MarkSent of an unclaimed key in a shared statement = nil, want an error")
	}
	if (got["dup1"] == nil) == (got["dup2"] == nil) {
		t.Errorf("two marks of one key = %v and %v; want one nil and one error", got["dup1"], got["dup2"])
	}
	var sent int64
	testDB.Raw(`SELECT count(*) FROM inbox_deliveries WHERE status = 'sent'`).Scan(&sent)
	if sent != int64(len(claimed)) {
		t.Errorf("%d rows sent, want %d", sent, len(claimed))
	}
	// The blocker's statement, the 22 others' (20, the unclaimed key,
	// one mark of dup), the second mark of dup.
	if n := l.MarkStatements(); n != 3 {
		t.Errorf("%d statements for 24 marks, want 3", n)
	}
}
