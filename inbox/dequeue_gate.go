package inbox

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// asynq's processor polls: when every queue came back empty it sleeps
// TaskCheckInterval (half to one and a half of it) and asks Redis again,
// whatever happens meanwhile. At the default 5ms that is some 200 Lua
// calls a second per queue on an idle worker, most of its idle CPU
// (measured: 164 dequeues a second against 5 other commands).
//
// The dequeueGate is a go-redis hook on the worker's own asynq
// connection that turns that poll into a wait on a wake-up where one
// exists. It sees asynq's dequeue script (one call per queue per round);
// after a round that found every queue empty it holds the round's last
// call, waiting for a wake-up, and on one runs the dequeue again (every
// queue) and answers with what it found:
//   - the worker's relay wakes it after each task it enqueued, so the
//     job is taken as soon as it is in Redis, not at the next poll;
//   - an outbox notification (LISTEN) wakes it too, and so does asynq's
//     forwarder moving due retries or scheduled tasks to a queue;
//   - for ActivePeriod after a wake-up or a job it waits TaskCheckInterval,
//     then polls the queues itself every twice that (asynq's wait plus its
//     mean sleep: Redis sees no more polls than before), each wait ended by
//     a wake-up, rather than answering "empty": asynq's own sleep, which
//     no wake-up ends, made about half the jobs of the worker's own relay
//     wait for it (0.5-1.5x TaskCheckInterval); jobs another process's
//     relay enqueued are found about as soon as before;
//   - idle, it waits IdleCheckInterval at most: the ceiling for jobs that
//     arrive without a wake-up (another app's enqueue, a re-driven dead
//     letter).
//
// The hook recognizes the dequeue script by its keys (pending, paused,
// active, lease of one queue); should asynq change it, the hook sees no
// dequeue and the worker polls as asynq does (TestDequeueGateIdle fails).
type dequeueGate struct {
	queues     []string      // the server's queues (asynq's names)
	activeWait time.Duration // the wait while active: TaskCheckInterval
	idleWait   time.Duration // the wait while idle: IdleCheckInterval
	activeFor  time.Duration // how long a wake-up or a job keeps it active

	wake       chan struct{}
	stop       chan struct{}
	stopOnce   sync.Once
	lastActive atomic.Int64 // unix nanoseconds of the last wake-up or job
	empty      atomic.Int32 // consecutive empty dequeues (the processor's goroutine)
	dequeues   atomic.Int64 // dequeue calls seen, for tests
	waits      atomic.Int64 // waits that a wake-up ended, for tests
}

// gateActivePeriod is how long a wake-up or a job keeps the gate active
// (waiting at most TaskCheckInterval). An outbox notification precedes
// the enqueue of its rows by a relay poll or two; a second covers it.
const gateActivePeriod = time.Second

func newDequeueGate(queues []string, taskCheck, idleCheck time.Duration) *dequeueGate {
	return &dequeueGate{queues: queues, activeWait: taskCheck, idleWait: idleCheck, activeFor: gateActivePeriod,
		wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

// Wake ends a wait at once (or the next one, if none is under way) and
// keeps the gate active for a while.
func (g *dequeueGate) Wake() {
	g.lastActive.Store(time.Now().UnixNano())
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// close ends any wait for good: asynq's shutdown waits for its processor,
// which may be waiting in the hook.
func (g *dequeueGate) close() { g.stopOnce.Do(func() { close(g.stop) }) }

// gatedRedis makes asynq's server connection with the gate's hook.
type gatedRedis struct {
	asynq.RedisConnOpt
	gate *dequeueGate
}

func (o gatedRedis) MakeRedisClient() any {
	c := o.RedisConnOpt.MakeRedisClient()
	if u, ok := c.(redis.UniversalClient); ok {
		u.AddHook(o.gate)
	}
	return c
}

func (g *dequeueGate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *dequeueGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (g *dequeueGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		switch scriptKind(cmd) {
		case scriptForward:
			err := next(ctx, cmd)
			if c, ok := cmd.(*redis.Cmd); ok && err == nil {
				if n, _ := c.Int64(); n > 0 {
					g.Wake() // due retries or scheduled tasks are pending now
				}
			}
			return err
		case scriptDequeue:
			return g.dequeue(ctx, next, cmd)
		}
		return next(ctx, cmd)
	}
}

// dequeue runs one queue's dequeue; when it ends a round of empty queues,
// it waits for a wake-up and tries them all again.
func (g *dequeueGate) dequeue(ctx context.Context, next redis.ProcessHook, cmd redis.Cmder) error {
	g.dequeues.Add(1)
	err := next(ctx, cmd)
	switch {
	case err == nil:
		g.empty.Store(0)
		g.lastActive.Store(time.Now().UnixNano())
		return nil
	case !errors.Is(err, redis.Nil):
		return err
	}
	if int(g.empty.Add(1)) < len(g.queues) {
		return err // more queues to try in this round
	}
	g.empty.Store(0)
	c, ok := cmd.(*redis.Cmd)
	if !ok {
		return err
	}
	for polled := false; ; polled = true {
		wait := g.idleWait
		active := time.Since(time.Unix(0, g.lastActive.Load())) < g.activeFor
		if active {
			wait = g.activeWait
			if polled {
				// After a poll of its own: the wait plus asynq's mean
				// sleep, so it polls Redis no more often than before.
				wait *= 2
			}
		}
		if wait <= 0 {
			return err
		}
		t := time.NewTimer(wait)
		woken := false
		select {
		case <-g.wake:
			woken = true
		case <-t.C:
		case <-g.stop:
		case <-ctx.Done():
		}
		t.Stop()
		if !woken && (!active || ctx.Err() != nil || g.stopped()) {
			return err // idle (asynq's own sleep follows, as before), or stopping
		}
		if woken {
			g.waits.Add(1)
		}
		// Woken, or active: every queue again, this one first. While
		// active the gate polls here instead of answering "empty": asynq
		// would then sleep TaskCheckInterval (half to one and a half of
		// it), a sleep no wake-up ends, and a job enqueued meanwhile would
		// wait it out.
		if found, e := g.retry(ctx, next, c); found || e != nil {
			return e
		}
	}
}

// stopped reports whether close was called.
func (g *dequeueGate) stopped() bool {
	select {
	case <-g.stop:
		return true
	default:
		return false
	}
}

// retry runs the dequeue of every queue, c's first, each in a command of
// its own whose answer becomes c's: found when one had a job.
func (g *dequeueGate) retry(ctx context.Context, next redis.ProcessHook, c *redis.Cmd) (found bool, err error) {
	args := c.Args()
	this := queueOfKey(args[3])
	for i, q := range append([]string{this}, g.queues...) {
		if i > 0 && q == this {
			continue
		}
		a := append([]any(nil), args...)
		a[3], a[4], a[5], a[6] = asynqKey(q, "pending"), asynqKey(q, "paused"), asynqKey(q, "active"), asynqKey(q, "lease")
		a[8] = asynqKey(q, "t:")
		try := redis.NewCmd(ctx, a...)
		g.dequeues.Add(1)
		if e := next(ctx, try); e == nil {
			g.lastActive.Store(time.Now().UnixNano())
			c.SetVal(try.Val())
			c.SetErr(nil)
			return true, nil
		} else if !errors.Is(e, redis.Nil) {
			c.SetErr(e)
			return false, e
		}
	}
	c.SetVal(nil)
	c.SetErr(redis.Nil)
	return false, nil
}

// asynqKey is asynq's key of queue q: "asynq:{q}:pending".
func asynqKey(q, suffix string) string { return "asynq:{" + q + "}:" + suffix }

// queueOfKey returns q of "asynq:{q}:pending".
func queueOfKey(k any) string {
	s, _ := k.(string)
	s = strings.TrimPrefix(s, "asynq:{")
	if i := strings.LastIndex(s, "}:"); i >= 0 {
		return s[:i]
	}
	return s
}

type script int

const (
	scriptOther script = iota
	scriptDequeue
	scriptForward
)

// scriptKind tells asynq's dequeue and forward scripts by their keys:
// dequeue EVALSHA sha 4 {q}:pending {q}:paused {q}:active {q}:lease lease prefix;
// forward EVALSHA sha 2 {q}:scheduled|retry {q}:pending ...
func scriptKind(cmd redis.Cmder) script {
	name := cmd.Name()
	if name != "evalsha" && name != "eval" {
		return scriptOther
	}
	a := cmd.Args()
	if len(a) < 5 {
		return scriptOther
	}
	k1, _ := a[3].(string)
	k2, _ := a[4].(string)
	if !strings.HasPrefix(k1, "asynq:{") {
		return scriptOther
	}
	switch {
	case len(a) == 9 && strings.HasSuffix(k1, "}:pending") && strings.HasSuffix(k2, "}:paused"):
		return scriptDequeue
	case (strings.HasSuffix(k1, "}:retry") || strings.HasSuffix(k1, "}:scheduled")) && strings.HasSuffix(k2, "}:pending"):
		return scriptForward
	}
	return scriptOther
}
