package inbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/internal/redistest"
)

// TestDequeueGateActivePollsItself: while active, a round that found the
// queues empty is not answered "empty" (asynq would then sleep, and no
// wake-up ends its sleep): the gate polls the queues itself, every
// TaskCheckInterval, and answers with the job that arrives without a
// wake-up. Close ends such a call. The dequeue here is a script of
// asynq's dequeue's shape (keys pending, paused, active, lease; then the
// lease and the task key prefix) that pops pending into active.
func TestDequeueGateActivePollsItself(t *testing.T) {
	ctx := context.Background()
	opt, err := redistest.Flush(ctx, 12)
	if err != nil {
		t.Fatal(err)
	}
	g := newDequeueGate([]string{"q"}, 5*time.Millisecond, time.Hour)
	g.activeFor = time.Hour // active throughout, whatever the machine's pace
	defer g.close()
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	rdb.AddHook(g)
	keys := []string{asynqKey("q", "pending"), asynqKey("q", "paused"), asynqKey("q", "active"), asynqKey("q", "lease")}
	const script = `return redis.call('RPOPLPUSH', KEYS[1], KEYS[3])`
	dequeue := func() <-chan *redis.Cmd {
		out := make(chan *redis.Cmd, 1)
		go func() { out <- rdb.Eval(ctx, script, keys, 30, asynqKey("q", "t:")) }()
		return out
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after 10s waiting for %s", what)
			}
			<-tick.C
		}
	}
	answer := func(ch <-chan *redis.Cmd) *redis.Cmd {
		t.Helper()
		deadline := time.NewTimer(10 * time.Second)
		defer deadline.Stop()
		select {
		case c := <-ch:
			return c
		case <-deadline.C:
			t.Fatal("the dequeue did not return within 10s")
			return nil
		}
	}

	g.Wake() // active, and a wake-up pending: the first wait ends at once
	before := g.dequeues.Load()
	call := dequeue()
	// The call's own dequeue, the woken retry, then a poll of the gate's:
	// the gate of before answered "empty" after the retry.
	waitUntil("the gate polling after a woken retry found nothing", func() bool {
		select {
		case c := <-call:
			t.Fatalf("the dequeue answered %v (%v) while active with no job; want it held, polling", c.Val(), c.Err())
		default:
		}
		return g.dequeues.Load()-before >= 3
	})
	if err := rdb.LPush(ctx, keys[0], "job-1").Err(); err != nil { // no wake-up
		t.Fatal(err)
	}
	if c := answer(call); c.Err() != nil || c.Val() != "job-1" {
		t.Fatalf("the dequeue answered %v (%v); want job-1, found by the gate's own poll", c.Val(), c.Err())
	}

	// Close ends a held call (asynq's shutdown waits for it).
	before = g.dequeues.Load()
	call = dequeue()
	waitUntil("the second call held", func() bool { return g.dequeues.Load()-before >= 2 })
	g.close()
	if c := answer(call); !errors.Is(c.Err(), redis.Nil) {
		t.Fatalf("the dequeue after close answered %v (%v); want redis.Nil", c.Val(), c.Err())
	}
}
