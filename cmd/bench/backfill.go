package main

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// backfillGroup measures a backfill (inbox.Backfiller) of past events into
// a no-op inbox, processed by a worker, against the fan-out of the same
// events (relay + worker), and the process's memory while the backfill
// runs.
//
// It needs Redis like the fan-out group (database 7, flushed).
func backfillGroup() group {
	return group{
		name:  "backfill",
		about: "backfill of 1,000,000 past events into a no-op inbox against the fan-out of as many, RSS while it runs",
		run:   runBackfill,
	}
}

const backfillCorrelation = "bench-backfill"

func runBackfill(ctx context.Context, b *bench) ([]figure, error) {
	events := b.size(1_000_000, 5_000)
	if err := clearOutbox(ctx, b); err != nil {
		return nil, err
	}
	b.logf("backfill: recording %d past events", events)
	for done := 0; done < events; done += 100_000 {
		n := min(100_000, events-done)
		if err := b.db.WithContext(ctx).Exec(`INSERT INTO issue_events (subject_id, action, actor_type, actor_id, actor_label, correlation_id)
SELECT 1 + g % ?, 'comment_added', 'users', (1 + g % 1000)::text, 'User', ? FROM generate_series(1, ?) g`, fixtureIssues, backfillCorrelation, n).Error; err != nil {
			return nil, err
		}
	}
	if err := b.db.WithContext(ctx).Exec(`VACUUM ANALYZE issue_events`).Error; err != nil {
		return nil, err
	}
	var minID, maxID int64
	if err := b.db.WithContext(ctx).Raw(`SELECT min(id), max(id) FROM issue_events WHERE correlation_id = ?`, backfillCorrelation).Row().Scan(&minID, &maxID); err != nil {
		return nil, err
	}
	var ourRate, fanRate float64
	var startRSS, tenthRSS, peakRSS int64
	var took time.Duration
	ours := func() (float64, error) {
		if err := clearOutbox(ctx, b); err != nil {
			return 0, err
		}
		var count atomic.Int64
		done := make(chan struct{})
		var tenth atomic.Int64
		sink := &noop{name: "bench-warehouse", count: &count, want: int64(events), done: done}
		tenthHook := func(next inbox.ProcessFunc) inbox.ProcessFunc {
			return func(ctx context.Context, d *inbox.Delivery) error {
				err := next(ctx, d)
				if count.Load() == int64(events/10) {
					tenth.CompareAndSwap(0, rssKB("VmRSS"))
				}
				return err
			}
		}
		w, err := inbox.NewWorker(inbox.Config{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues}, Inboxes: []inbox.Inbox{sink},
			Middleware: []inbox.Middleware{tenthHook}, DisableRelay: true, Logger: quietLogger()})
		if err != nil {
			return 0, err
		}
		bf, err := inbox.NewBackfiller(inbox.BackfillConfig{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues},
			Inboxes: []inbox.Inbox{sink}, Rate: math.Inf(1), Logger: quietLogger(), ProgressEvery: 10 * time.Second})
		if err != nil {
			return 0, err
		}
		defer bf.Close()
		spec, err := bf.Create(ctx, inbox.BackfillSpec{Inbox: sink.name, Query: inbox.BackfillQuery{Domain: "issue", CorrelationID: backfillCorrelation}, By: "bench"})
		if err != nil {
			return 0, err
		}
		if spec.Total != int64(events) {
			return 0, fmt.Errorf("backfill: selected %d events, want %d", spec.Total, events)
		}
		runtime.GC()
		debug.FreeOSMemory()
		resetPeakRSS()
		startRSS = rssKB("VmRSS")
		start := time.Now()
		if err := w.Start(ctx); err != nil {
			return 0, err
		}
		runErr := make(chan error, 1)
		go func() {
			_, err := bf.Run(ctx, spec.ID)
			runErr <- err
		}()
		err = waitDone(ctx, done, 30*time.Minute, "the backfill")
		took = time.Since(start)
		peakRSS, tenthRSS = rssKB("VmHWM"), tenth.Load()
		w.Shutdown()
		if err != nil {
			return 0, err
		}
		if err := <-runErr; err != nil {
			return 0, err
		}
		ourRate = float64(events) / took.Seconds()
		return ourRate, nil
	}
	fanout := func() (float64, error) {
		if err := clearOutbox(ctx, b); err != nil {
			return 0, err
		}
		if err := b.db.WithContext(ctx).Exec(`INSERT INTO `+activity.OutboxTable+` (domain, event_id, action, subject_id)
SELECT 'issue', id, action, subject_id::text FROM issue_events WHERE correlation_id = ? ORDER BY id`, backfillCorrelation).Error; err != nil {
			return 0, err
		}
		var count atomic.Int64
		done := make(chan struct{})
		sink := &noop{name: "bench-fanout", count: &count, want: int64(events), done: done}
		w, err := inbox.NewWorker(inbox.Config{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues}, Inboxes: []inbox.Inbox{sink}, Logger: quietLogger()})
		if err != nil {
			return 0, err
		}
		start := time.Now()
		if err := w.Start(ctx); err != nil {
			return 0, err
		}
		err = waitDone(ctx, done, 30*time.Minute, "the fan-out")
		elapsed := time.Since(start)
		w.Shutdown()
		if err != nil {
			return 0, err
		}
		fanRate = float64(events) / elapsed.Seconds()
		return fanRate, nil
	}
	b.logf("backfill: %d events, backfiller + worker against relay + worker, 1 round each", events)
	if _, err := ours(); err != nil {
		return nil, err
	}
	if _, err := fanout(); err != nil {
		return nil, err
	}
	if err := clearOutbox(ctx, b); err != nil {
		return nil, err
	}
	b.note("backfill: %d past events (IDs %d-%d, selected by correlation id) handed by a Backfiller (batches of 500 in a transaction each, checkpoint per batch, 16 concurrent enqueues, events carried in the jobs, no rate cap) to one no-op inbox and processed by a worker (asynq concurrency 20) in %s; baseline: the same events' outbox rows drained by the worker's relay to one no-op inbox. Process RSS (backfiller, worker and bench together) %d MB at the start, %d MB when a tenth was processed, peak %d MB (VmHWM, reset at the start).",
		events, minID, maxID, took.Round(time.Millisecond), startRSS/1024, tenthRSS/1024, peakRSS/1024)
	return []figure{
		{Name: fmt.Sprintf("backfill deliveries/s, %s events (vs fan-out of the same)", thousands(int64(events))), Unit: "del/s", Ours: ourRate, Baseline: fanRate, Target: target{MinRatio: 0.5}},
		{Name: fmt.Sprintf("backfill peak RSS, %s events (vs RSS at 10%%)", thousands(int64(events))), Unit: "MB", Ours: float64(peakRSS) / 1024, Baseline: float64(tenthRSS) / 1024, Target: target{MaxRatio: 1.2}},
	}, nil
}
