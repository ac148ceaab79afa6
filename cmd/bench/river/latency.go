package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/measure"
)

// latencyCall is the i-th recording of a latency run on either side: an
// issue, comment_added, by User 1 (what measure.Latency records).
func latencyCall(i int) measure.Call {
	return measure.Call{
		Subject: int64(1 + i%measure.FixtureIssues),
		Action:  "comment_added",
		Actor:   activity.Ref{Type: "users", ID: "1", Label: "User 1"},
	}
}

// riverLatency records n events at rate per second on River's side (each
// its own transaction on the app's pool: event row + InsertTx by an
// insert-only client with t's FetchCooldown) while a River client tuned
// by t works them on its own pool, and returns, for each after the first
// warm, the time from the commit's return to the start of the job's Work
// (0 when the job started first: negative counts those), and how long the paced
// recording took (longer than n/rate when the machine could not keep the
// rate).
func riverLatency(ctx context.Context, b *bench, t riverTuning, rate float64, n, warm int) (lat []time.Duration, negative int, took time.Duration, err error) {
	if err := clearRiver(ctx, b.pool); err != nil {
		return nil, 0, 0, err
	}
	inserter, err := riverInserter(b.pool, t)
	if err != nil {
		return nil, 0, 0, err
	}
	started := make([]atomic.Int64, n)
	var count atomic.Int64
	done := make(chan struct{})
	client, err := b.riverWorker(t, func(_ context.Context, job *river.Job[eventJob]) error {
		now := time.Now().UnixNano()
		if k := job.Args.Index; k >= 0 && k < n {
			started[k].CompareAndSwap(0, now)
		}
		if count.Add(1) == int64(n) {
			close(done)
		}
		return nil
	})
	if err != nil {
		return nil, 0, 0, err
	}
	if err := client.Start(ctx); err != nil {
		return nil, 0, 0, fmt.Errorf("river: start: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		client.Stop(sctx) //nolint:errcheck // a slow stop only delays the next run
	}()
	committed := make([]time.Time, n)
	var recErr atomic.Pointer[error]
	start := time.Now()
	measure.Paced(ctx, n, rate, func(i int) {
		_, err := riverRecord(ctx, b.pool, inserter, latencyCall(i), i)
		committed[i] = time.Now()
		if err != nil {
			recErr.CompareAndSwap(nil, &err)
		}
	})
	took = time.Since(start)
	if p := recErr.Load(); p != nil {
		return nil, 0, 0, *p
	}
	if err := measure.WaitDone(ctx, done, 60*time.Second, "River's latency run"); err != nil {
		return nil, 0, 0, err
	}
	for i := warm; i < n; i++ {
		d := time.Unix(0, started[i].Load()).Sub(committed[i])
		if d < 0 {
			negative++
			d = 0
		}
		lat = append(lat, d)
	}
	return lat, negative, took, nil
}

// runLatency measures commit-to-start latency at 500 and 2,000 events per
// second: ours (RecordEvent's return to the inbox's Process) against
// River's (the commit's return to the job's Work), each with its defaults
// and each tuned for latency. Each figure is the median of up to 3 runs,
// the four sides rotating their order each run.
func runLatency(ctx context.Context, b *bench) ([]measure.Figure, error) {
	if err := measure.FlushRedis(ctx); err != nil {
		return nil, err
	}
	rounds := min(b.rounds, 3)
	var figs []measure.Figure
	for _, r := range []struct {
		rate    float64
		seconds float64
	}{{500, 10}, {2000, 5}} {
		warm := int(r.rate) // the first second warms a fresh worker, on each side
		n := b.size(int(r.rate*r.seconds), int(r.rate/2)) + warm
		type pq struct{ p50, p99, took []float64 }
		res := make([]pq, 4) // ours defaults, River defaults, ours tuned, River tuned
		negatives := make([]int, 4)
		ours := func(t measure.Tuning) func() ([]time.Duration, int, time.Duration, error) {
			return func() ([]time.Duration, int, time.Duration, error) {
				if err := measure.ClearOutbox(ctx, b.db); err != nil {
					return nil, 0, 0, err
				}
				lr, err := measure.Latency(ctx, measure.LatencyRun{DB: b.db, Tuning: t, Rate: r.rate, N: n, Warm: warm})
				return lr.Latencies, lr.Negative, lr.Took, err
			}
		}
		theirs := func(t riverTuning) func() ([]time.Duration, int, time.Duration, error) {
			return func() ([]time.Duration, int, time.Duration, error) { return riverLatency(ctx, b, t, r.rate, n, warm) }
		}
		sides := []func() ([]time.Duration, int, time.Duration, error){ours(measure.Defaults), theirs(b.riverDefaults()), ours(measure.TunedForLatency), theirs(b.riverTuned())}
		names := []string{"ours, defaults", "River, defaults", "ours, tuned", "River, tuned"}
		for k := range rounds {
			for j := range sides {
				s := (j + k) % len(sides)
				b.logf("latency: %s ev/s, %d events, %s (run %d of %d)", measure.Thousands(int64(r.rate)), n, names[s], k+1, rounds)
				lat, neg, took, err := sides[s]()
				if err != nil {
					return nil, fmt.Errorf("%s at %g ev/s: %w", names[s], r.rate, err)
				}
				res[s].p50 = append(res[s].p50, measure.MS(measure.Percentile(lat, 50)))
				res[s].p99 = append(res[s].p99, measure.MS(measure.Percentile(lat, 99)))
				negatives[s] += neg
				res[s].took = append(res[s].took, took.Seconds())
			}
		}
		label := measure.Thousands(int64(r.rate)) + " ev/s"
		for _, pair := range []struct {
			what      string
			ours, riv int
		}{{"defaults", 0, 1}, {"tuned for latency", 2, 3}} {
			figs = append(figs,
				measure.Figure{Name: fmt.Sprintf("commit to start p50, %s, %s (vs River %s)", label, pair.what, pair.what), Unit: "ms",
					Ours: measure.Median(res[pair.ours].p50), Baseline: measure.Median(res[pair.riv].p50), Target: measure.Target{MaxRatio: 1}},
				measure.Figure{Name: fmt.Sprintf("commit to start p99, %s, %s (vs River %s)", label, pair.what, pair.what), Unit: "ms",
					Ours: measure.Median(res[pair.ours].p99), Baseline: measure.Median(res[pair.riv].p99), Target: measure.Target{MaxRatio: 1}},
			)
		}
		b.note("latency at %s: %d events a run (the first %d not counted), median of %d runs per side; runs' p50 (ms): ours defaults %s, River defaults %s, ours tuned %s, River tuned %s; p99: %s, %s, %s, %s; starts before the commit's return (counted as 0): %v; the paced recording took (s; %.1f s when the machine keeps the rate): %s, %s, %s, %s.",
			label, n, warm, rounds, fmtList(res[0].p50), fmtList(res[1].p50), fmtList(res[2].p50), fmtList(res[3].p50),
			fmtList(res[0].p99), fmtList(res[1].p99), fmtList(res[2].p99), fmtList(res[3].p99), negatives,
			float64(n)/r.rate, fmtList(res[0].took), fmtList(res[1].took), fmtList(res[2].took), fmtList(res[3].took))
	}
	b.note("latency: ours records with RecordEvent on the app's gorm pool (each its own commit) while a worker (relay, Redis, asynq server) runs one inbox: %s; %s. River's records the same event row and InsertTx (an insert-only client with the side's FetchCooldown, which spaces its insert notifications) in one pgx transaction on a pgxpool of the same size, while a River client in the same process works the default queue with MaxWorkers %d on a pool of its own (as our worker has its own connections): %s; %s. Both measure from the commit's return to the start of the handler, and both sides' handlers do nothing else.",
		measure.Defaults, measure.TunedForLatency, b.river.Workers, b.riverDefaults(), b.riverTuned())
	return figs, nil
}

func fmtList(xs []float64) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += "/"
		}
		s += fmt.Sprintf("%.1f", x)
	}
	return s
}
