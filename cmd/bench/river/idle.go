package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/measure"
)

// backendsCPU returns the CPU seconds so far of each PostgreSQL backend
// connected to db's database, by pid (read from /proc: the server must be
// on this machine; elsewhere the map is empty and the figures count the
// process and Redis only).
func backendsCPU(ctx context.Context, db *gorm.DB) (map[int]float64, error) {
	var pids []int
	if err := db.WithContext(ctx).Raw(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`).Scan(&pids).Error; err != nil {
		return nil, err
	}
	out := map[int]float64{}
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue // not on this machine, or gone
		}
		// Fields after the command's closing parenthesis: state is the
		// first, utime the 12th, stime the 13th (clock ticks, 100 a second).
		_, rest, ok := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if !ok || len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		out[pid] = (ut + st) / 100
	}
	return out, nil
}

// idleCPU starts something, lets it settle, and returns the CPU spent
// over window by the process, the Redis server of rc (nil: none) and the
// PostgreSQL backends of the bench database, in percent of one core. A
// backend that exits during the window is not counted; one that starts
// during it is counted whole.
func idleCPU(ctx context.Context, b *bench, rc redis.UniversalClient, settle, window time.Duration, start func() (stop func(), err error)) (float64, error) {
	stop, err := start()
	if err != nil {
		return 0, err
	}
	defer stop()
	if err := measure.SleepCtx(ctx, settle); err != nil {
		return 0, err
	}
	pg0, err := backendsCPU(ctx, b.db)
	if err != nil {
		return 0, err
	}
	p0, r0, err := measure.CPUNow(ctx, rc)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := measure.SleepCtx(ctx, window); err != nil {
		return 0, err
	}
	p1, r1, err := measure.CPUNow(ctx, rc)
	if err != nil {
		return 0, err
	}
	elapsed := time.Since(t0).Seconds()
	pg1, err := backendsCPU(ctx, b.db)
	if err != nil {
		return 0, err
	}
	pg := 0.0
	for pid, s := range pg1 {
		pg += s - pg0[pid]
	}
	return 100 * ((p1 - p0) + (r1 - r0) + pg) / elapsed, nil
}

// runIdle measures what a worker with nothing to do costs: ours (a
// worker with one inbox: relay, LISTEN connection, asynq server polling
// Redis) against a River client working the default queue (its producer's
// fetch polls, leader election, maintenance), each with its defaults and
// tuned for latency. The median of up to 2 rotating rounds.
func runIdle(ctx context.Context, b *bench) ([]measure.Figure, error) {
	if err := measure.ClearOutbox(ctx, b.db); err != nil {
		return nil, err
	}
	if err := clearRiver(ctx, b.pool); err != nil {
		return nil, err
	}
	rc, err := inbox.RedisClient(measure.Redis())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	window := b.duration(10*time.Second, time.Second)
	settle := b.duration(2*time.Second, 300*time.Millisecond)
	rounds := min(b.rounds, 2)
	b.logf("idle: %s per side after %s to settle, %d rounds, 4 sides", window, settle, rounds)
	ours := func(t measure.Tuning) func() (float64, error) {
		return func() (float64, error) {
			return idleCPU(ctx, b, rc, settle, window, func() (func(), error) { return measure.IdleWorker(ctx, b.db, t, nil) })
		}
	}
	theirs := func(t riverTuning) func() (float64, error) {
		return func() (float64, error) {
			return idleCPU(ctx, b, nil, settle, window, func() (func(), error) {
				client, err := b.riverWorker(t, func(context.Context, *river.Job[eventJob]) error { return nil })
				if err != nil {
					return nil, err
				}
				if err := client.Start(ctx); err != nil {
					return nil, fmt.Errorf("river: start: %w", err)
				}
				return func() {
					sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
					defer cancel()
					client.Stop(sctx) //nolint:errcheck // a slow stop only delays the next run
				}, nil
			})
		}
	}
	m, err := measure.AlternateN(rounds, ours(measure.Defaults), theirs(b.riverDefaults()), ours(measure.TunedForLatency), theirs(b.riverTuned()))
	if err != nil {
		return nil, err
	}
	b.note("idle: CPU over %s after %s to settle, in percent of one core: the bench process, the PostgreSQL backends of the bench database (from /proc), and for ours the Redis server (INFO cpu: it includes whatever else that server serves meanwhile); median of %d rotating rounds. Ours at its defaults has the absolute target of issue 27 (1.5%% of a core; cmd/bench's fan-out group measures the process and Redis only).",
		window, settle, rounds)
	return []measure.Figure{
		{Name: "idle worker CPU, defaults (process + Redis + PostgreSQL backends, % of a core; vs River defaults)", Unit: "%", Ours: m[0], Baseline: m[1], Target: measure.Target{Max: 1.5}},
		{Name: "idle worker CPU, tuned for latency (vs River tuned)", Unit: "%", Ours: m[2], Baseline: m[3]},
	}, nil
}
