package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// durabilityFigures measures what keeping each delivery in PostgreSQL
// until it is done (inbox_pending: written by the relay in its delete
// statement, deleted by the worker in batches) costs on the happy path,
// against the same worker deleting outbox rows at enqueue
// (PendingConfig.Disable: Redis the only copy), in the same run:
// throughput draining a backlog to two no-op inboxes, and commit-to-inbox
// latency at 500 events/s.
func durabilityFigures(ctx context.Context, b *bench) ([]figure, error) {
	events := b.size(10000, 1000)
	const inboxes = 2
	deliveries := events * inboxes
	rounds := min(b.rounds, 3)
	b.logf("fanout: durability cost, %d events x %d inboxes, %d rounds per side", events, inboxes, rounds)
	drain := func(disable bool) func() (float64, error) {
		return func() (float64, error) {
			if err := clearOutbox(ctx, b); err != nil {
				return 0, err
			}
			if err := b.db.WithContext(ctx).Exec(`TRUNCATE ` + inbox.PendingTable).Error; err != nil {
				return 0, err
			}
			if err := fillOutbox(ctx, b, events); err != nil {
				return 0, err
			}
			var count atomic.Int64
			done := make(chan struct{})
			var ins []inbox.Inbox
			for k := range inboxes {
				ins = append(ins, &noop{name: fmt.Sprintf("bench-noop-%d", k), count: &count, want: int64(deliveries), done: done})
			}
			w, err := inbox.NewWorker(inbox.Config{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues}, Inboxes: ins,
				Relay: inbox.RelayConfig{Pending: inbox.PendingConfig{Disable: disable}}, Logger: quietLogger()})
			if err != nil {
				return 0, err
			}
			start := time.Now()
			if err := w.Start(ctx); err != nil {
				return 0, err
			}
			err = waitDone(ctx, done, 5*time.Minute, "the durability run")
			// Ours is done when PostgreSQL knows every delivery is done.
			for err == nil && !disable {
				var n int64
				if err = b.db.WithContext(ctx).Raw(`SELECT count(*) FROM ` + inbox.PendingTable).Scan(&n).Error; err != nil || n == 0 {
					break
				}
				if time.Since(start) > 5*time.Minute {
					err = fmt.Errorf("fanout: %d pending deliveries left after the run", n)
				}
				time.Sleep(5 * time.Millisecond)
			}
			elapsed := time.Since(start)
			w.Shutdown()
			if err != nil {
				return 0, err
			}
			return float64(deliveries) / elapsed.Seconds(), nil
		}
	}
	o, base, err := alternate(rounds, drain(false), drain(true))
	if err != nil {
		return nil, err
	}
	figs := []figure{{Name: "fan-out deliveries/s, deliveries kept in PostgreSQL until done vs deleted at enqueue", Unit: "del/s", Ours: o, Baseline: base, Target: target{MinRatio: 0.9}}}

	n := b.size(5000, 250)
	latency := func(disable bool) ([]time.Duration, error) {
		if err := clearOutbox(ctx, b); err != nil {
			return nil, err
		}
		in := newStartTimes("bench-latency", int64(n))
		in.accepts = func(action string) bool { return action == "comment_added" }
		w, err := inbox.NewWorker(inbox.Config{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues}, Inboxes: []inbox.Inbox{in},
			Relay: inbox.RelayConfig{Pending: inbox.PendingConfig{Disable: disable}}, Logger: quietLogger()})
		if err != nil {
			return nil, err
		}
		if err := w.Start(ctx); err != nil {
			return nil, err
		}
		defer w.Shutdown()
		actor := activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "User 1"})
		committed := make([]time.Time, n)
		ids := make([]int64, n)
		var recErr atomic.Pointer[error]
		paced(ctx, n, 500, func(i int) {
			res, err := b.issues.RecordEvent(ctx, b.db, int64(1+i%fixtureIssues), "comment_added", actor)
			committed[i] = time.Now()
			if err != nil {
				recErr.CompareAndSwap(nil, &err)
				return
			}
			ids[i] = res.Event.ID
		})
		if p := recErr.Load(); p != nil {
			return nil, *p
		}
		if err := waitDone(ctx, in.done, time.Minute, "the durability latency run"); err != nil {
			return nil, err
		}
		out := make([]time.Duration, 0, n)
		for i, id := range ids {
			out = append(out, max(in.at[id].Sub(committed[i]), 0))
		}
		return out, nil
	}
	ours, err := latency(false)
	if err != nil {
		return nil, err
	}
	old, err := latency(true)
	if err != nil {
		return nil, err
	}
	b.note("durability cost: throughput drains %d events to %d no-op inboxes (median of %d alternating rounds), ours timed until the last job ran and every inbox_pending row was deleted; latency records %d events at 500 ev/s, commit to inbox start. Baseline: the same worker with RelayConfig.Pending.Disable (outbox rows deleted at enqueue, Redis the only copy).",
		events, inboxes, rounds, n)
	figs = append(figs,
		figure{Name: "fan-out latency p50 at 500 ev/s, kept in PostgreSQL vs deleted at enqueue", Unit: "ms", Ours: ms(percentile(ours, 50)), Baseline: ms(percentile(old, 50)), Target: target{Max: 10, MaxRatio: 1.15}},
		figure{Name: "fan-out latency p99 at 500 ev/s, kept in PostgreSQL vs deleted at enqueue", Unit: "ms", Ours: ms(percentile(ours, 99)), Baseline: ms(percentile(old, 99)), Target: target{Max: 50, MaxRatio: 1.15}},
	)
	return figs, nil
}

// durabilityGroup measures the happy-path cost of keeping deliveries in
// PostgreSQL until done (point 1 of the outage work).
func durabilityGroup() group {
	return group{
		name:  "durability",
		about: "happy-path cost of keeping each delivery in PostgreSQL until done: fan-out deliveries/s and latency against deleting at enqueue",
		run: func(ctx context.Context, b *bench) ([]figure, error) {
			if err := flushBenchRedis(ctx); err != nil {
				return nil, err
			}
			return durabilityFigures(ctx, b)
		},
	}
}
