package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/measure"
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
		ours, err := measure.IdleCPU(ctx, rc, settle, window, func() (func(), error) { // as the peer benchmarks measure it
			return measure.IdleWorker(ctx, b.db, measure.Defaults, func(c *inbox.Config) { c.TaskCheckInterval = interval })
		})
		if err != nil {
			return nil, err
		}
		raw, err := measure.IdleCPU(ctx, rc, settle, window, func() (func(), error) {
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

func sleepCtx(ctx context.Context, d time.Duration) error { return measure.SleepCtx(ctx, d) }
