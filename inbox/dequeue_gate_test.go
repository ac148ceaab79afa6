package inbox_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// TestDequeueGateIdle: a worker running its relay does not poll Redis
// while idle; its relay's enqueue wakes it, and so does a retry coming
// due. IdleCheckInterval is an hour here, so only a wake-up can deliver:
// an event within the deadline, then its retry, and Shutdown returns
// although asynq's processor is waiting in the gate.
func TestDequeueGateIdle(t *testing.T) {
	reset(t)
	ctx := context.Background()
	rc, err := inbox.RedisClient(redis)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	// asynq's dequeue script is the only caller of RPOPLPUSH; Redis counts
	// the commands its scripts call.
	dequeues := func() int64 {
		info, err := rc.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\n") {
			if rest, ok := strings.CutPrefix(line, "cmdstat_rpoplpush:calls="); ok {
				n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
				return n
			}
		}
		return 0
	}
	var attempts atomic.Int64
	all := newCollector("all", inbox.Everything)
	all.fn = func(context.Context, *inbox.Delivery) error {
		if attempts.Add(1) == 1 {
			return inbox.RetryAfter(time.Second, errors.New("first attempt fails"))
		}
		return nil
	}
	w := startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{all}, TaskCheckInterval: time.Millisecond, IdleCheckInterval: time.Hour})
	waitFor(t, 10*time.Second, "the relay listening", w.Relay().Listening)

	// Idle: a window of polling at 1ms would be hundreds of dequeues.
	before := dequeues()
	window := time.NewTimer(500 * time.Millisecond) // a measuring window, not a wait for a condition
	<-window.C
	if n := dequeues() - before; n > 10 {
		t.Errorf("%d dequeues in 500ms of an idle worker; want a few (asynq polling every 1ms makes hundreds)", n)
	}

	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	waitFor(t, 10*time.Second, "the event delivered after its retry (a wake-up each: IdleCheckInterval is an hour)", func() bool {
		return all.count(ev.ID) == 1
	}, all.changed)
	if n := attempts.Load(); n != 2 {
		t.Errorf("%d attempts; want 2", n)
	}
	done := make(chan struct{})
	go func() { w.Shutdown(); close(done) }()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	select {
	case <-done:
	case <-deadline.C:
		t.Fatal("Shutdown did not return within 15s: asynq's processor is stuck in the gate")
	}
}

// TestDequeueGateQueues: with several queues the gate waits only after a
// round that found all of them empty, and a wake-up's dequeues cover each
// (their keys rewritten per queue): an event for two inboxes on two queues
// is delivered on both with IdleCheckInterval an hour, twice.
func TestDequeueGateQueues(t *testing.T) {
	reset(t)
	a := newCollector("a", inbox.Everything)
	b := newCollector("b", inbox.Everything)
	startWorker(t, inbox.Config{
		Inboxes:           []inbox.Inbox{inbox.WithPolicy(a, inbox.Policy{Queue: "gate-a"}), inbox.WithPolicy(b, inbox.Policy{Queue: "gate-b"})},
		TaskCheckInterval: time.Millisecond, IdleCheckInterval: time.Hour,
	})
	_, issueID := newIssue(t)
	for range 2 {
		ev := record(t, testDB, issueID, "comment_added")
		waitFor(t, 10*time.Second, "the event delivered on both queues", func() bool {
			return a.count(ev.ID) == 1 && b.count(ev.ID) == 1
		}, a.changed, b.changed)
	}
}
