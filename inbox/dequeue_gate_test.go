package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
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
// (their keys rewritten per queue). The queues are served in strict
// priority (gate-a, then gate-b), so the call the gate holds is gate-b's;
// IdleCheckInterval is an hour and the gate has no active period, so a
// job is taken only by the dequeues of the wake-up its enqueue sent (a
// poll would otherwise find it, and hide a broken rewrite). An event for
// inbox a alone is taken through gate-b's call rewritten to gate-a; one
// for b alone through the call itself; one for both, both. Each job ends
// completed in its own queue, with nothing left active or leased in the
// other (a rewrite of some keys only would move it across).
func TestDequeueGateQueues(t *testing.T) {
	reset(t)
	a := newCollector("a", inbox.On("issue", "comment_added", "label_added"))
	b := newCollector("b", inbox.On("issue", "comment_deleted", "label_added"))
	w, err := inbox.NewWorker(inbox.Config{
		DB: testDB, Redis: redis, Domains: []*activity.Domain{issues}, Logger: testLogger(),
		Inboxes:           []inbox.Inbox{inbox.WithPolicy(a, inbox.Policy{Queue: "gate-a"}), inbox.WithPolicy(b, inbox.Policy{Queue: "gate-b"})},
		Queues:            map[string]int{"gate-a": 2, "gate-b": 1},
		StrictPriority:    true,
		TaskCheckInterval: time.Millisecond, IdleCheckInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.SetGateActivePeriod(0)
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	queue := func(q string) *asynq.QueueInfo {
		qs, err := insp.Queues()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(qs, q) {
			return &asynq.QueueInfo{Queue: q} // no job yet
		}
		info, err := insp.GetQueueInfo(q)
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	_, issueID := newIssue(t)
	completed := map[string]int{}
	for _, step := range []struct{ action, to string }{
		{"comment_added", "a"}, {"comment_deleted", "b"}, {"label_added", "both"}, {"comment_added", "a"},
	} {
		ev := record(t, testDB, issueID, step.action)
		wantA, wantB := 0, 0
		if step.to != "b" {
			wantA = 1
			completed["gate-a"]++
		}
		if step.to != "a" {
			wantB = 1
			completed["gate-b"]++
		}
		waitFor(t, 10*time.Second, fmt.Sprintf("%s (for %s) delivered by a wake-up's dequeues", step.action, step.to), func() bool {
			return a.count(ev.ID) == wantA && b.count(ev.ID) == wantB
		}, a.changed, b.changed)
		waitFor(t, 10*time.Second, fmt.Sprintf("%s's jobs completed in their own queues, none active", step.action), func() bool {
			qa, qb := queue("gate-a"), queue("gate-b")
			return qa.Completed == completed["gate-a"] && qb.Completed == completed["gate-b"] && qa.Active == 0 && qb.Active == 0 &&
				qa.Pending == 0 && qb.Pending == 0
		})
	}
	rc, err := inbox.RedisClient(redis)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for _, q := range []string{"gate-a", "gate-b"} {
		if n, err := rc.ZCard(context.Background(), "asynq:{"+q+"}:lease").Result(); err != nil || n != 0 {
			t.Errorf("%s's lease holds %d jobs (%v); want none: a job leased on a queue not its own", q, n, err)
		}
	}
}
