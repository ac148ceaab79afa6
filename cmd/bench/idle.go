package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/measure"
)

// idleSetting is one point of the idle-CPU curve: the worker's asynq
// TaskCheckInterval and its IdleCheckInterval (negative: asynq's polling,
// no wait for a wake-up).
type idleSetting struct {
	name      string
	taskCheck time.Duration
	idleCheck time.Duration
	target    bool // the defaults: the targets apply
}

func (s idleSetting) adjust(c *inbox.Config) {
	c.TaskCheckInterval = s.taskCheck
	c.IdleCheckInterval = s.idleCheck
}

// idleCurve is the curve the issue asks for: check interval against idle
// CPU and p50 latency. Polling rows are asynq's own behaviour (what the
// worker did before it waited for wake-ups); the defaults wait for one.
func idleCurve() []idleSetting {
	return []idleSetting{
		{name: "defaults (IdleCheckInterval 1s, TaskCheckInterval 5ms)", taskCheck: inbox.DefaultTaskCheckInterval, idleCheck: inbox.DefaultIdleCheckInterval, target: true},
		{name: "IdleCheckInterval 1s, TaskCheckInterval 1ms", taskCheck: time.Millisecond, idleCheck: inbox.DefaultIdleCheckInterval},
		{name: "IdleCheckInterval 100ms, TaskCheckInterval 5ms", taskCheck: inbox.DefaultTaskCheckInterval, idleCheck: 100 * time.Millisecond},
		{name: "polling, TaskCheckInterval 5ms", taskCheck: inbox.DefaultTaskCheckInterval, idleCheck: -1},
		{name: "polling, TaskCheckInterval 20ms", taskCheck: 20 * time.Millisecond, idleCheck: -1},
		{name: "polling, TaskCheckInterval 100ms", taskCheck: 100 * time.Millisecond, idleCheck: -1},
	}
}

// idleCPU measures what an idle worker costs, in percent of one core: the
// bench process (a worker with one inbox: asynq server, relay, LISTEN
// connection) plus the Redis server it polls, over a quiet window, and the
// p50 commit-to-start latency at 500 ev/s with the same settings, for each
// point of idleCurve. The CPU baseline is a bare asynq server polling
// every TaskCheckInterval; the latency baseline is raw asynq's p50 (its
// defaults but TaskCheckInterval 5ms, enqueued at the same rate).
func idleCPU(ctx context.Context, b *bench) ([]figure, error) {
	if err := clearOutbox(ctx, b); err != nil {
		return nil, err
	}
	window := b.duration(5*time.Second, time.Second)
	settle := b.duration(2*time.Second, 1200*time.Millisecond) // past the gate's active second
	rc, err := inbox.RedisClient(benchRedis())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	const rate = 500
	n := b.size(rate*4, rate) + rate
	base, err := rawAsynqLatency(ctx, n, rate)
	if err != nil {
		return nil, err
	}
	rawP50 := measure.MS(measure.Percentile(base[rate:], 50))
	var figs []figure
	for _, s := range idleCurve() {
		b.logf("fanout: idle CPU and p50, %s, %s per side", s.name, window)
		ours, err := measure.IdleCPU(ctx, rc, settle, window, func() (func(), error) { // as the peer benchmarks measure it
			return measure.IdleWorker(ctx, b.db, measure.Defaults, s.adjust)
		})
		if err != nil {
			return nil, err
		}
		raw, err := measure.IdleCPU(ctx, rc, settle, window, func() (func(), error) {
			srv := asynq.NewServer(benchRedis(), asynq.Config{Concurrency: 20, TaskCheckInterval: s.taskCheck,
				Queues: map[string]int{"default": 1}, Logger: quietAsynq{}, LogLevel: asynq.ErrorLevel})
			if err := srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })); err != nil {
				return nil, err
			}
			return srv.Shutdown, nil
		})
		if err != nil {
			return nil, err
		}
		if err := clearOutbox(ctx, b); err != nil {
			return nil, err
		}
		tuning := measure.Tuning{Name: s.name, Worker: s.adjust}
		res, err := measure.Latency(ctx, measure.LatencyRun{DB: b.db, Tuning: tuning, Rate: rate, N: n, Warm: rate})
		if err != nil {
			return nil, err
		}
		cpu := figure{Name: fmt.Sprintf("idle worker CPU, %s (process + Redis, %% of a core)", s.name), Unit: "%", Ours: ours, Baseline: raw}
		p50 := figure{Name: fmt.Sprintf("p50 commit to start at 500 ev/s, %s", s.name), Unit: "ms", Ours: measure.MS(measure.Percentile(res.Latencies, 50)), Baseline: rawP50}
		if s.target {
			cpu.Target = measure.Target{Max: 1.5}
			p50.Target = measure.Target{Max: 8}
		}
		figs = append(figs, cpu, p50)
	}
	b.note("idle CPU curve: a worker with one inbox and nothing to do (asynq server, relay polling the outbox every %s when idle while its LISTEN connection is up, every %s while it is down; a completer that sleeps with nothing to mark), measured as the bench process's CPU time (getrusage) plus the Redis server's (INFO cpu) over %s, after %s to settle; baseline: a bare asynq server polling every TaskCheckInterval. With IdleCheckInterval above 0 (the default, 1s) the worker's asynq server does not poll while idle: it waits for a wake-up (its relay's enqueue, an outbox notification, a retry coming due) or IdleCheckInterval; \"polling\" rows are asynq's own behaviour (IdleCheckInterval -1). Each setting's p50 is from RecordEvent's return to Process's start at 500 ev/s over %d events (the first %d not counted); its baseline is raw asynq's p50 at the same rate (TaskCheckInterval 5ms).",
		inbox.DefaultListeningPollInterval, time.Second, window, settle, n, rate)
	return figs, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error { return measure.SleepCtx(ctx, d) }
