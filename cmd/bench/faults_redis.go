package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// redisLossBound is the resume target of issue 26: deliveries resume
// within 5 s of Redis answering again empty.
const redisLossBound = 5 * time.Second

// redisLossFigures: jobs wait in Redis (their queue paused) when Redis
// loses its data (FLUSHDB on the bench's Redis: the same loss as a restart
// without persistence, minus the reconnect). Resume is the time from the
// flush to the last of the jobs delivered: the relay's epoch check
// (PendingConfig.LossCheckInterval, 1s) notices, the sweeper enqueues the
// pending deliveries again. Its floor, measured in the same run on a
// healthy Redis: as many jobs waiting in a paused queue, from the resume
// of the queue to the last one delivered (the deliveries themselves).
// Without the check the sweeper first looks CheckAfter (1 minute) after
// each enqueue.
func redisLossFigures(ctx context.Context, b *bench) ([]figure, error) {
	runs := 5
	n := b.size(1000, 100)
	b.logf("faults: Redis flushed with %d deliveries waiting, %d runs", n, runs)
	var resume, floor []time.Duration
	var again int64
	for run := range runs {
		r, f, a, err := redisLossRun(ctx, b, run, n)
		if err != nil {
			return nil, err
		}
		resume, floor = append(resume, r), append(floor, f)
		again += a
		b.logf("faults: run %d: all %d deliveries %v after the flush (healthy: %v)", run+1, n, r.Round(time.Millisecond), f.Round(time.Millisecond))
	}
	p50, worst := percentile(resume, 50), percentile(resume, 100)
	fp50, fmax := percentile(floor, 50), percentile(floor, 100)
	b.note("faults: Redis flushed (FLUSHDB, every master on a cluster) with %d deliveries waiting in a paused queue, %d runs; resume = flush to the last delivery, p50 %.0f ms, max %.0f ms; the same number waiting on a healthy Redis, queue resumed to the last delivery: p50 %.0f ms, max %.0f ms; %d deliveries enqueued again by the sweeper over the runs. The relay reads its epoch marker every second (PendingConfig.LossCheckInterval); without it the sweeper first checks a delivery CheckAfter (1 minute) after its enqueue.",
		n, runs, ms(p50), ms(worst), ms(fp50), ms(fmax), again)
	return []figure{
		{Name: "time to resume after Redis loses its data, p50, vs the same jobs delivered from a healthy Redis", Unit: "ms", Ours: ms(p50), Baseline: ms(fp50), Target: target{Max: ms(redisLossBound)}},
		{Name: "time to resume after Redis loses its data, max, vs the 5 s bound", Unit: "ms", Ours: ms(worst), Baseline: ms(redisLossBound), Target: target{MaxRatio: 1}},
	}, nil
}

// lossCounter is an inbox that counts the distinct events delivered to it
// and closes done at want.
type lossCounter struct {
	name string
	mu   sync.Mutex
	seen map[int64]bool
	want int
	done chan struct{}
}

func (c *lossCounter) Name() string                  { return c.name }
func (c *lossCounter) Accepts(_, action string) bool { return action == "label_added" }
func (c *lossCounter) Process(_ context.Context, d *inbox.Delivery) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[d.Event.ID] = true
	if len(c.seen) == c.want {
		close(c.done)
	}
	return nil
}

// expect resets the counter to wait for want more events.
func (c *lossCounter) expect(want int) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.want = len(c.seen) + want
	c.done = make(chan struct{})
	return c.done
}

// redisLossRun is one loss: it returns the time from the flush to the
// last delivery, the floor (a paused queue of as many jobs resumed on a
// healthy Redis), and the deliveries the sweeper enqueued again.
func redisLossRun(ctx context.Context, b *bench, run, n int) (time.Duration, time.Duration, int64, error) {
	if err := clearOutbox(ctx, b); err != nil {
		return 0, 0, 0, err
	}
	if err := b.db.WithContext(ctx).Exec(`TRUNCATE ` + inbox.PendingTable).Error; err != nil {
		return 0, 0, 0, err
	}
	insp := asynq.NewInspector(benchRedis())
	defer insp.Close()
	c := &lossCounter{name: fmt.Sprintf("bench-loss-%d-%d", time.Now().UnixNano(), run), seen: map[int64]bool{}}
	w, err := inbox.NewWorker(inbox.Config{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues}, Inboxes: []inbox.Inbox{c},
		Relay: inbox.RelayConfig{PollInterval: 50 * time.Millisecond}, Logger: quietLogger()})
	if err != nil {
		return 0, 0, 0, err
	}
	if err := w.Start(ctx); err != nil {
		return 0, 0, 0, err
	}
	defer w.Shutdown()

	// waiting records n events with the queue paused and returns once all
	// n jobs wait in Redis and in inbox_pending.
	waiting := func() error {
		if err := insp.PauseQueue(inbox.DefaultQueue); err != nil {
			return err
		}
		if err := recordLabels(ctx, b, n); err != nil {
			return err
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var pending int64
			if err := b.db.WithContext(ctx).Raw(`SELECT count(*) FROM ` + inbox.PendingTable).Scan(&pending).Error; err != nil {
				return err
			}
			q, err := insp.GetQueueInfo(inbox.DefaultQueue)
			if err == nil && pending == int64(n) && q.Pending == n {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("faults: %d pending rows after 2 minutes, want %d (%v)", pending, n, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait := func(done <-chan struct{}, what string) error {
		select {
		case <-done:
			return nil
		case <-time.After(2 * time.Minute):
			return fmt.Errorf("faults: %s: not all %d delivered within 2 minutes", what, n)
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	// The floor: a healthy Redis.
	if err := waiting(); err != nil {
		return 0, 0, 0, err
	}
	done := c.expect(n)
	start := time.Now()
	if err := insp.UnpauseQueue(inbox.DefaultQueue); err != nil {
		return 0, 0, 0, err
	}
	if err := wait(done, "healthy"); err != nil {
		return 0, 0, 0, err
	}
	healthy := time.Since(start)
	// Their rows go with the completer's next batch; the loss run counts
	// its own.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		var pending int64
		if err := b.db.WithContext(ctx).Raw(`SELECT count(*) FROM ` + inbox.PendingTable).Scan(&pending).Error; err != nil {
			return 0, 0, 0, err
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, 0, fmt.Errorf("faults: %d pending rows a minute after their delivery", pending)
		}
	}

	// The loss.
	if err := waiting(); err != nil {
		return 0, 0, 0, err
	}
	before := w.Relay().SweepStats().Reenqueued
	done = c.expect(n)
	start = time.Now()
	if err := flushBenchRedis(ctx); err != nil {
		return 0, 0, 0, err
	}
	if err := wait(done, "after the flush"); err != nil {
		return 0, 0, 0, err
	}
	resume := time.Since(start)
	return resume, healthy, w.Relay().SweepStats().Reenqueued - before, nil
}

// recordLabels records n label_added events, 8 at a time.
func recordLabels(ctx context.Context, b *bench, n int) error {
	actor := activity.Actor(activity.Ref{Type: "users", ID: "2", Label: "User 2"})
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || failed.Load() != nil {
					return
				}
				if _, err := b.issues.RecordEvent(ctx, b.db, 1+i%fixtureIssues, "label_added", actor); err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	wg.Wait()
	if p := failed.Load(); p != nil {
		return *p
	}
	return nil
}
