package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// idleCPU measures what an idle worker costs, in percent of one core: the
// bench process (a worker with one inbox: asynq server, relay, LISTEN
// connection) plus the Redis server it polls, over a quiet window, for
// several asynq TaskCheckInterval settings (the knob that trades it
// against pick-up latency). The baseline is a bare asynq server with the
// same settings.
func idleCPU(ctx context.Context, b *bench) ([]figure, error) {
	if err := clearOutbox(ctx, b); err != nil {
		return nil, err
	}
	window := b.duration(5*time.Second, time.Second)
	settle := b.duration(time.Second, 200*time.Millisecond)
	rc, err := inbox.RedisClient(benchRedis())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var figs []figure
	for _, interval := range []time.Duration{inbox.DefaultTaskCheckInterval, 20 * time.Millisecond, 100 * time.Millisecond} {
		b.logf("fanout: idle CPU with TaskCheckInterval %s, %s per side", interval, window)
		ours, err := measureIdle(ctx, rc, settle, window, func() (func(), error) {
			in := &noop{name: "bench-idle", count: new(atomic.Int64), done: make(chan struct{})}
			w, err := inbox.NewWorker(inbox.Config{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues},
				Inboxes: []inbox.Inbox{in}, TaskCheckInterval: interval, Logger: quietLogger()})
			if err != nil {
				return nil, err
			}
			if err := w.Start(ctx); err != nil {
				return nil, err
			}
			return w.Shutdown, nil
		})
		if err != nil {
			return nil, err
		}
		raw, err := measureIdle(ctx, rc, settle, window, func() (func(), error) {
			srv := asynq.NewServer(benchRedis(), asynq.Config{Concurrency: 20, TaskCheckInterval: interval,
				Queues: map[string]int{"default": 1}, Logger: quietAsynq{}, LogLevel: asynq.ErrorLevel})
			if err := srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })); err != nil {
				return nil, err
			}
			return srv.Shutdown, nil
		})
		if err != nil {
			return nil, err
		}
		figs = append(figs, figure{Name: fmt.Sprintf("idle worker CPU, TaskCheckInterval %s (process + Redis, %% of a core)", interval), Unit: "%", Ours: ours, Baseline: raw})
	}
	b.note("idle CPU: a worker with one inbox and nothing to do (asynq server polling its queue every TaskCheckInterval, relay polling the outbox every %s when idle, a LISTEN connection), measured as the bench process's CPU time (getrusage) plus the Redis server's (INFO cpu) over %s, after %s to settle; baseline: a bare asynq server with the same settings. TaskCheckInterval is inbox.Config.TaskCheckInterval: each step up adds about half of it to the average pick-up latency.",
		time.Second, window, settle)
	return figs, nil
}

// measureIdle starts something, lets it settle, and returns the CPU the
// process and Redis spent over window, in percent of one core.
func measureIdle(ctx context.Context, rc redis.UniversalClient, settle, window time.Duration, start func() (stop func(), err error)) (float64, error) {
	stop, err := start()
	if err != nil {
		return 0, err
	}
	defer stop()
	if err := sleepCtx(ctx, settle); err != nil {
		return 0, err
	}
	p0, r0, err := cpuNow(ctx, rc)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := sleepCtx(ctx, window); err != nil {
		return 0, err
	}
	p1, r1, err := cpuNow(ctx, rc)
	if err != nil {
		return 0, err
	}
	return 100 * ((p1 - p0) + (r1 - r0)) / time.Since(t0).Seconds(), nil
}

// cpuNow returns the process's CPU seconds and the Redis server's.
func cpuNow(ctx context.Context, rc redis.UniversalClient) (proc, rds float64, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, err
	}
	proc = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	info, err := rc.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, 0, fmt.Errorf("idle: Redis INFO cpu: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			rds += f
		}
	}
	return proc, rds, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
