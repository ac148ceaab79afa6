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
// events (relay + worker), and the memory the backfill takes at a tenth of
// the size and at the full size.
//
// It needs Redis like the fan-out group (database 7, flushed).
func backfillGroup() group {
	return group{
		name:  "backfill",
		about: "backfill of 1,000,000 past events into a no-op inbox against the fan-out of as many; its peak RSS and Go heap against a backfill of 100,000",
		run:   runBackfill,
	}
}

// The two backfills' events, told apart by correlation id.
const (
	backfillCorrelation      = "bench-backfill"
	backfillSmallCorrelation = "bench-backfill-small"
)

// backfillRun is what one backfill took.
type backfillRun struct {
	events   int
	took     time.Duration
	startRSS int64  // kB, after a GC, before the backfill
	peakRSS  int64  // kB: VmHWM (reset at the start), or the highest VmRSS sampled if higher
	peakHeap uint64 // bytes: highest Go heap in use (live and unswept objects) sampled
	peakLive uint64 // bytes: highest live heap, as the last GC marked it
}

func (r backfillRun) rate() float64 { return float64(r.events) / r.took.Seconds() }

func runBackfill(ctx context.Context, b *bench) ([]figure, error) {
	events := b.size(1_000_000, 5_000)
	small := b.size(100_000, 500)
	if err := clearOutbox(ctx, b); err != nil {
		return nil, err
	}
	b.logf("backfill: recording %d + %d past events", small, events)
	for _, set := range []struct {
		corr string
		n    int
	}{{backfillSmallCorrelation, small}, {backfillCorrelation, events}} {
		for done := 0; done < set.n; done += 100_000 {
			n := min(100_000, set.n-done)
			if err := b.db.WithContext(ctx).Exec(`INSERT INTO issue_events (subject_id, action, actor_type, actor_id, actor_label, correlation_id)
SELECT 1 + g % ?, 'comment_added', 'users', (1 + g % 1000)::text, 'User', ? FROM generate_series(1, ?) g`, fixtureIssues, set.corr, n).Error; err != nil {
				return nil, err
			}
		}
	}
	if err := b.db.WithContext(ctx).Exec(`VACUUM ANALYZE issue_events`).Error; err != nil {
		return nil, err
	}
	var minID, maxID int64
	if err := b.db.WithContext(ctx).Raw(`SELECT min(id), max(id) FROM issue_events WHERE correlation_id = ?`, backfillCorrelation).Row().Scan(&minID, &maxID); err != nil {
		return nil, err
	}

	b.logf("backfill: %d events, then %d, backfiller + worker; then relay + worker on the %d", small, events, events)
	tenth, err := runOneBackfill(ctx, b, backfillSmallCorrelation, small, "")
	if err != nil {
		return nil, err
	}
	full, err := runOneBackfill(ctx, b, backfillCorrelation, events, b.heapProfile)
	if err != nil {
		return nil, err
	}
	fanRate, err := backfillFanout(ctx, b, events)
	if err != nil {
		return nil, err
	}
	if err := clearOutbox(ctx, b); err != nil {
		return nil, err
	}
	mb := func(kb int64) float64 { return float64(kb) / 1024 }
	mib := func(n uint64) float64 { return float64(n) / (1 << 20) }
	b.note("backfill: past events selected by correlation id, handed by a Backfiller (batches of 500 in a transaction each, checkpoint per batch, 16 concurrent enqueues, jobs of references, no rate cap) to one no-op inbox and processed by a worker (asynq concurrency 20) in the same process; %d events in %s, %d events (IDs %d-%d) in %s. Baseline of the rate: the same %d events' outbox rows drained by a worker's relay to one no-op inbox. One run each.",
		small, tenth.took.Round(time.Millisecond), events, minID, maxID, full.took.Round(time.Millisecond), events)
	b.note("backfill memory, %s vs %s events: RSS %.0f vs %.0f MB before (after a GC), peak %.0f vs %.0f MB (VmHWM, reset at the backfill's start, and VmRSS sampled every 20ms during it); Go heap in use (runtime/metrics %s, live and not yet swept objects, sampled every 20ms) peak %.1f vs %.1f MB, live heap after a GC (%s) peak %.1f vs %.1f MB. The process holds the backfiller, the worker processing its jobs, and the bench, measured only while the backfill runs.",
		thousands(int64(events)), thousands(int64(small)), mb(full.startRSS), mb(tenth.startRSS), mb(full.peakRSS), mb(tenth.peakRSS),
		heapObjects, mib(full.peakHeap), mib(tenth.peakHeap), heapLive, mib(full.peakLive), mib(tenth.peakLive))
	return []figure{
		{Name: fmt.Sprintf("backfill deliveries/s, %s events (vs fan-out of the same)", thousands(int64(events))), Unit: "del/s", Ours: full.rate(), Baseline: fanRate, Target: target{MinRatio: 0.5}},
		{Name: fmt.Sprintf("backfill peak RSS, %s events (vs %s)", thousands(int64(events)), thousands(int64(small))), Unit: "MB", Ours: mb(full.peakRSS), Baseline: mb(tenth.peakRSS), Target: target{MaxRatio: 1.2}},
		{Name: fmt.Sprintf("backfill peak Go heap in use, %s events (vs %s)", thousands(int64(events)), thousands(int64(small))), Unit: "MB", Ours: mib(full.peakHeap), Baseline: mib(tenth.peakHeap)},
	}, nil
}

// runOneBackfill backfills the n events of correlation id corr into a
// no-op inbox through a worker, and measures the process's memory while
// it runs (heapProfile: where to write a heap profile at its high-water,
// or "").
func runOneBackfill(ctx context.Context, b *bench, corr string, n int, heapProfile string) (backfillRun, error) {
	r := backfillRun{events: n}
	if err := clearOutbox(ctx, b); err != nil {
		return r, err
	}
	var count atomic.Int64
	done := make(chan struct{})
	sink := &noop{name: "bench-warehouse", count: &count, want: int64(n), done: done}
	w, err := inbox.NewWorker(inbox.Config{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues}, Inboxes: []inbox.Inbox{sink},
		DisableRelay: true, Logger: quietLogger()})
	if err != nil {
		return r, err
	}
	bf, err := inbox.NewBackfiller(inbox.BackfillConfig{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues},
		Inboxes: []inbox.Inbox{sink}, Rate: math.Inf(1), Logger: quietLogger(), ProgressEvery: 10 * time.Second})
	if err != nil {
		return r, err
	}
	defer bf.Close()
	spec, err := bf.Create(ctx, inbox.BackfillSpec{Inbox: sink.name, Query: inbox.BackfillQuery{Domain: "issue", CorrelationID: corr}, By: "bench"})
	if err != nil {
		return r, err
	}
	if spec.Total != int64(n) {
		return r, fmt.Errorf("backfill: selected %d events, want %d", spec.Total, n)
	}
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	r.startRSS = rssKB("VmRSS")
	mem := startMemSampler(20*time.Millisecond, heapProfile)
	start := time.Now()
	if err := w.Start(ctx); err != nil {
		mem.done()
		return r, err
	}
	runErr := make(chan error, 1)
	go func() {
		_, err := bf.Run(ctx, spec.ID)
		runErr <- err
	}()
	err = waitDone(ctx, done, 30*time.Minute, "the backfill")
	r.took = time.Since(start)
	hwm := rssKB("VmHWM")
	peak := mem.done()
	w.Shutdown()
	if err != nil {
		return r, err
	}
	if err := <-runErr; err != nil {
		return r, err
	}
	r.peakRSS, r.peakHeap, r.peakLive = max(hwm, peak.rssKB), peak.heap, peak.live
	b.logf("backfill: %d events at %.0f/s, peak RSS %d MB, peak heap in use %d MB", n, r.rate(), r.peakRSS/1024, r.peakHeap>>20)
	return r, nil
}

// backfillFanout drains the n events' outbox rows through a worker's
// relay to one no-op inbox and returns deliveries per second.
func backfillFanout(ctx context.Context, b *bench, n int) (float64, error) {
	if err := clearOutbox(ctx, b); err != nil {
		return 0, err
	}
	if err := b.db.WithContext(ctx).Exec(`INSERT INTO `+activity.OutboxTable+` (domain, event_id, action, subject_id)
SELECT 'issue', id, action, subject_id::text FROM issue_events WHERE correlation_id = ? ORDER BY id`, backfillCorrelation).Error; err != nil {
		return 0, err
	}
	var count atomic.Int64
	done := make(chan struct{})
	sink := &noop{name: "bench-fanout", count: &count, want: int64(n), done: done}
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
	return float64(n) / elapsed.Seconds(), nil
}
