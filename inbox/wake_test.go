package inbox_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/workflow"
)

// TestRecordingSendsFewNotifications: 32 goroutines record 1,000 events
// while a LISTEN connection counts the notifications on every channel the
// library uses. Recording wakes relays at most once per WakeInterval per
// domain and process (each notifying commit takes PostgreSQL's server-wide
// notify lock), so a handful arrive, not one per event; the relay's
// polling finds the rest, and every event is delivered once.
func TestRecordingSendsFewNotifications(t *testing.T) {
	reset(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.DSN(dbName))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, ch := range []string{activity.OutboxChannel, workflow.NotifyChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			t.Fatal(err)
		}
	}
	var notes atomic.Int64
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				return
			}
			notes.Add(1)
		}
	}()

	all := newCollector("all", inbox.Everything)
	startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{all}})
	_, issueID := newIssue(t)

	const writers, perWriter = 32, 1000 / 32
	total := writers * perWriter
	var wg sync.WaitGroup
	start := time.Now()
	ids := make(chan int64, total)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWriter {
				ids <- record(t, testDB, issueID, "comment_added").ID
			}
		}()
	}
	wg.Wait()
	close(ids)
	recording := time.Since(start)
	waitFor(t, 20*time.Second, "every event delivered", func() bool {
		ev, _ := all.total()
		return ev >= total
	}, all.changed)
	elapsed := time.Since(start)
	cancel()
	<-listening

	for id := range ids {
		if n := all.count(id); n != 1 {
			t.Fatalf("event %d delivered %d times, want once", id, n)
		}
	}
	n := notes.Load()
	// At most one per WakeInterval (100ms), plus the first: a few per
	// second, against the 1,000 a notification per event would send.
	limit := int64(elapsed/activity.DefaultWakeInterval) + 2
	t.Logf("%d events recorded in %v, delivered in %v, %d notifications", total, recording.Round(time.Millisecond), elapsed.Round(time.Millisecond), n)
	if n > limit {
		t.Errorf("%d notifications for %d events over %v; want at most %d (one per %v)", n, total, elapsed, limit, activity.DefaultWakeInterval)
	}
}

// TestRelayHasItsOwnPool: with every connection of the application's pool
// held by writers, the relay (on connections of its own) still hands a
// committed event to its inbox.
func TestRelayHasItsOwnPool(t *testing.T) {
	reset(t)
	app, err := pgtest.Open(dbName)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := app.DB()
	defer sqlDB.Close()
	sqlDB.SetMaxOpenConns(2)
	// The writers: two transactions that hold both connections until the
	// test ends.
	for range 2 {
		tx := app.Begin()
		if tx.Error != nil {
			t.Fatal(tx.Error)
		}
		defer tx.Rollback()
	}
	all := newCollector("all", inbox.Everything)
	startWorker(t, inbox.Config{DB: app, Inboxes: []inbox.Inbox{all}})
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added") // committed on another pool
	waitFor(t, 10*time.Second, "the event delivered while the app's pool is exhausted", func() bool {
		return all.count(ev.ID) == 1
	}, all.changed)
	var relays int64
	if err := testDB.Raw(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?`, inbox.RelayApplicationName).Scan(&relays).Error; err != nil {
		t.Fatal(err)
	}
	if relays < 1 || relays > 3 {
		t.Errorf("%d connections named %q; want 1 to 3 (RelayConfig.MaxConns: Concurrency + 1)", relays, inbox.RelayApplicationName)
	}
}

// TestRelayWokenByItsProcessRecordings: a relay learns of the events its
// own process records on the pool as they commit (it registers its Wake
// with activity.Domain.OnCommitted), with LISTEN off, its polls an hour
// apart and the worker's idle check an hour: each event is delivered
// within the deadline only through that wake-up. The events are recorded
// with no wake-up of their own (DisableNotify), so nothing else could
// deliver them.
func TestRelayWokenByItsProcessRecordings(t *testing.T) {
	reset(t)
	quiet := activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added"}, DisableNotify: true})
	all := newCollector("all", inbox.Everything)
	cfg := inbox.Config{Domains: []*activity.Domain{quiet}, Inboxes: []inbox.Inbox{all}, IdleCheckInterval: time.Hour}
	cfg.Relay.DisableListen = true
	cfg.Relay.PollInterval, cfg.Relay.MinPollInterval, cfg.Relay.ActivePeriod = time.Hour, time.Hour, time.Millisecond
	startWorker(t, cfg)
	_, issueID := newIssue(t) // the relay's first poll (at its start) may find the first event: the next two cannot

	for range 3 {
		res, err := quiet.RecordEvent(context.Background(), testDB, issueID, "comment_added", activity.Actor(activity.Ref{Type: "users", ID: "1"}))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the event delivered through its commit's in-process wake-up", func() bool {
			return all.count(res.Event.ID) == 1
		}, all.changed)
	}
}
