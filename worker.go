package tidings

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/hibiken/asynq"
)

// running is the worker side while it runs.
type running struct {
	scheduler  *asynq.Scheduler
	stopEngine context.CancelFunc
	engineDone chan struct{}
	once       sync.Once
	stopped    chan struct{} // closed when stop returned
}

// ErrRunning is returned by Start when the worker side already runs.
var ErrRunning = errors.New("tidings: the worker side is already running")

// Start starts the worker side and returns: the relay (outbox to Redis),
// the inbox worker (the in-app inbox, the rule engine, webhooks and the
// app's inboxes, on their queues), and the scheduler of the retention,
// partition maintenance and batch sweep jobs, each enqueued on a queue
// this worker serves. Stop stops it. Several processes may run it at once:
// scheduled jobs are unique per tick.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running != nil {
		return ErrRunning
	}
	if c.closed {
		return errors.New("tidings: Start after Close")
	}
	r := &running{stopped: make(chan struct{})}
	if c.engine != nil {
		// The engine must know which actions have rules before the relay
		// hands out events.
		if err := c.engine.Refresh(ctx); err != nil {
			return err
		}
	}
	sched, err := c.newScheduler()
	if err != nil {
		return err
	}
	// The worker's loops (the relay, the completer marking finished
	// deliveries) end at Stop, not with ctx: Run and Serve cancel ctx at
	// SIGTERM, before Stop, and the completer's last marks would fail.
	if err := c.worker.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if c.engine != nil {
		ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r.stopEngine, r.engineDone = cancel, make(chan struct{})
		go func() { defer close(r.engineDone); _ = c.engine.Run(ectx) }()
	}
	if err := sched.Start(); err != nil {
		r.stopAll(c)
		return err
	}
	r.scheduler = sched
	c.running = r
	return nil
}

// Stop stops the worker side gracefully: the scheduler, the rule engine's
// refreshes, then the relay (its open batch rolls back) and the worker,
// which lets running jobs finish for Config.Worker.ShutdownTimeout and
// hands the others back to their queue. It returns when all is stopped,
// or with ctx's error when ctx ends first (the stop goes on). A Stop
// while another is under way waits for it; stopping a client that does not
// run does nothing.
func (c *Client) Stop(ctx context.Context) error {
	c.mu.Lock()
	r := c.running
	if r == nil {
		r = c.stopping
	}
	c.running, c.stopping = nil, r
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	go r.stop(c)
	select {
	case <-r.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop stops what r started, once; later calls return at once.
func (r *running) stop(c *Client) {
	r.once.Do(func() { defer close(r.stopped); r.stopAll(c) })
}

func (r *running) stopAll(c *Client) {
	if r.scheduler != nil {
		r.scheduler.Shutdown()
	}
	if r.stopEngine != nil {
		r.stopEngine()
		<-r.engineDone
	}
	c.worker.Shutdown()
}

// Run starts the worker side, waits until ctx ends or the process gets
// SIGINT or SIGTERM (unless Config.IgnoreSignals), and stops it
// gracefully. It is what a worker process's main calls.
func (c *Client) Run(ctx context.Context) error {
	if !c.cfg.IgnoreSignals {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	c.cfg.Logger.Info("tidings: worker running")
	<-ctx.Done()
	c.cfg.Logger.Info("tidings: worker stopping")
	err := c.Stop(context.WithoutCancel(ctx))
	c.cfg.Logger.Info("tidings: worker stopped")
	return err
}
