package inbox_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// Redis restarts empty while 1,000 deliveries wait in it: the relay's
// epoch check notices the loss and the sweeper enqueues them again at
// once, long before CheckAfter (1 minute, the default, kept here): every
// delivery arrives, each once.
func TestRedisRestartedEmptyResumesPending(t *testing.T) {
	reset(t)
	rds := redistest.NewPrivate(t)
	opt := asynq.RedisClientOpt{Addr: rds.Addr()}
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() { _ = insp.Close() })
	rdb := goredis.NewClient(&goredis.Options{Addr: rds.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })

	// The queue is paused: the jobs wait in Redis, not yet run, so the
	// restart loses them all (the pause goes with it).
	if err := insp.PauseQueue(inbox.DefaultQueue); err != nil {
		t.Fatal(err)
	}
	all := newCollector("loss-all", inbox.Everything)
	w := startWorker(t, inbox.Config{
		Redis: opt, Inboxes: []inbox.Inbox{all},
		Relay: inbox.RelayConfig{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond},
	})
	_, issueID := newIssue(t)

	const events = 1000
	var mu sync.Mutex
	var ids []int64
	var wg sync.WaitGroup
	errs := make(chan error, events)
	for g := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := g; k < events; k += 10 {
				res, err := issues.RecordEvent(context.Background(), testDB, issueID, "comment_added",
					activity.Actor(activity.Ref{Type: "users", ID: "1"}))
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				ids = append(ids, res.Event.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("RecordEvent: %v", err)
	}
	waitFor(t, 30*time.Second, "1,000 jobs waiting in Redis and 1,000 pending rows", func() bool {
		var pending int64
		if err := testDB.Raw(`SELECT count(*) FROM inbox_pending`).Scan(&pending).Error; err != nil {
			t.Fatal(err)
		}
		q, err := insp.GetQueueInfo(inbox.DefaultQueue)
		return err == nil && q.Pending == events && pending == events && outboxLen(t) == 0
	})
	waitFor(t, 10*time.Second, "the relay's epoch marker", func() bool {
		return rdb.Exists(context.Background(), inbox.EpochKey("")).Val() == 1
	})
	if ev, _ := all.total(); ev != 0 {
		t.Fatalf("%d events delivered from a paused queue", ev)
	}

	rds.Stop(t)
	rds.Start(t)
	t.Cleanup(func() {
		if t.Failed() {
			ev, n := all.total()
			t.Logf("collector: %d events, %d deliveries of %d; relay %+v; sweeper %+v", ev, n, events, w.Relay().Stats(), w.Relay().SweepStats())
		}
	})
	// 20s: a third of CheckAfter. Without the epoch check the sweeper
	// first looks at these rows a minute after their enqueue.
	waitFor(t, 20*time.Second, "every pending delivery once Redis is back empty", func() bool {
		ev, _ := all.total()
		return ev == events
	}, all.changed)
	waitFor(t, 10*time.Second, "the queue to settle", func() bool { return quiet(t, opt) })
	for _, id := range ids {
		if c := all.count(id); c != 1 {
			t.Errorf("event %d delivered %d times, want once", id, c)
		}
	}
	if s := w.Relay().SweepStats(); s.RedisLosses == 0 || s.Reenqueued < events {
		t.Errorf("sweeper %+v: want a loss noticed and %d deliveries enqueued again", s, events)
	}
}
