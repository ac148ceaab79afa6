package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/tidingsdev/tidings/internal/measure"
)

// riverDeliveries inserts n jobs (insert-only client, InsertManyFastTx in
// batches), then starts a River client tuned by t whose Work does nothing
// but count, and returns jobs worked per second from its Start until the
// last job ran.
func riverDeliveries(ctx context.Context, b *bench, t riverTuning, n int) (float64, error) {
	if err := clearRiver(ctx, b.pool); err != nil {
		return 0, err
	}
	inserter, err := riverInserter(b.pool, t)
	if err != nil {
		return 0, err
	}
	const batch = 1000
	for from := 0; from < n; from += batch {
		params := make([]river.InsertManyParams, 0, batch)
		for i := from; i < min(n, from+batch); i++ {
			params = append(params, river.InsertManyParams{Args: eventJob{EventID: int64(1 + i/2), Index: i}})
		}
		tx, err := b.pool.Begin(ctx)
		if err != nil {
			return 0, err
		}
		if _, err := inserter.InsertManyFastTx(ctx, tx, params); err != nil {
			tx.Rollback(ctx) //nolint:errcheck // the insert's error is the one to report
			return 0, fmt.Errorf("river: fill: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return 0, err
		}
	}
	var count atomic.Int64
	done := make(chan struct{})
	client, err := b.riverWorker(t, func(context.Context, *river.Job[eventJob]) error {
		if count.Add(1) == int64(n) {
			close(done)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		return 0, fmt.Errorf("river: start: %w", err)
	}
	err = measure.WaitDone(ctx, done, 5*time.Minute, "River's backlog")
	elapsed := time.Since(start)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	client.Stop(sctx) //nolint:errcheck // a slow stop only delays the next run
	if err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), nil
}

// runDeliveries drains a backlog to no-op handlers: ours, 10,000 events to
// 2 inboxes through a worker (relay, Redis, asynq server, each job's event
// loaded from PostgreSQL); River's, as many jobs worked by a River client
// whose Work does nothing (it loads no event). Each side with its
// defaults and tuned for latency; the median of up to 3 rotating rounds.
func runDeliveries(ctx context.Context, b *bench) ([]measure.Figure, error) {
	events := b.size(10000, 1000)
	const inboxes = 2
	n := events * inboxes
	rounds := min(b.rounds, 3)
	b.logf("deliveries: %d events x %d inboxes against %d River jobs, %d rounds per side, 4 sides", events, inboxes, n, rounds)
	m, err := measure.AlternateN(rounds,
		func() (float64, error) { return measure.Deliveries(ctx, b.db, measure.Defaults, events, inboxes) },
		func() (float64, error) { return riverDeliveries(ctx, b, b.riverDefaults(), n) },
		func() (float64, error) {
			return measure.Deliveries(ctx, b.db, measure.TunedForLatency, events, inboxes)
		},
		func() (float64, error) { return riverDeliveries(ctx, b, b.riverTuned(), n) },
	)
	if err != nil {
		return nil, err
	}
	b.note("deliveries: a backlog of %d deliveries (ours: %d events x %d no-op inboxes, the worker loading each job's event; River's: %d jobs of a no-op Work that loads nothing, MaxWorkers %d), timed from the worker's start to the last delivery; median of %d rotating rounds. No target against River (issue 27's is >= 0.9x of raw asynq, in cmd/bench's fan-out group).",
		n, events, inboxes, n, b.river.Workers, rounds)
	return []measure.Figure{
		{Name: "deliveries/s draining a backlog, defaults (vs River defaults)", Unit: "del/s", Ours: m[0], Baseline: m[1]},
		{Name: "deliveries/s draining a backlog, tuned for latency (vs River tuned)", Unit: "del/s", Ours: m[2], Baseline: m[3]},
	}, nil
}
