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

// Redis restarts empty while 1,000 deliveries wait in it: the relays'
// epoch check notices the loss and the sweeper enqueues them again at
// once, long before CheckAfter (1 minute, the default, kept here): every
// delivery arrives, each once. Then a FLUSHALL with 200 waiting: the same.
// Two workers of one app share the marker and the rows.
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
	cfg := inbox.Config{
		Redis: opt, Inboxes: []inbox.Inbox{all},
		Relay: inbox.RelayConfig{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond},
	}
	w := startWorker(t, cfg)
	w2 := startWorker(t, cfg)
	_, issueID := newIssue(t)
	ids := recordWaiting(t, rdb, issueID, 1000)
	waitFor(t, 10*time.Second, "the relays' epoch marker", func() bool {
		return rdb.Exists(context.Background(), inbox.EpochKey("")).Val() == 1
	})
	if ev, _ := all.total(); ev != 0 {
		t.Fatalf("%d events delivered from a paused queue", ev)
	}
	stats := func() inbox.SweepStats {
		a, b := w.Relay().SweepStats(), w2.Relay().SweepStats()
		return inbox.SweepStats{Checked: a.Checked + b.Checked, Reenqueued: a.Reenqueued + b.Reenqueued, Finished: a.Finished + b.Finished, RedisLosses: a.RedisLosses + b.RedisLosses}
	}

	rds.Stop(t)
	rds.Start(t)
	t.Cleanup(func() {
		if t.Failed() {
			ev, n := all.total()
			t.Logf("collector: %d events, %d deliveries; relays %+v %+v; sweepers %+v", ev, n, w.Relay().Stats(), w2.Relay().Stats(), stats())
		}
	})
	// 20s: a third of CheckAfter. Without the epoch check the sweeper
	// first looks at these rows a minute after their enqueue.
	waitFor(t, 20*time.Second, "every pending delivery once Redis is back empty", func() bool {
		ev, _ := all.total()
		return ev == len(ids)
	}, all.changed)
	waitFor(t, 10*time.Second, "the queue to settle", func() bool { return quiet(t, opt) })
	if s := stats(); s.RedisLosses == 0 || s.Reenqueued < int64(len(ids)) {
		t.Errorf("sweepers %+v: want a loss noticed and %d deliveries enqueued again", s, len(ids))
	}

	// FLUSHALL on a running Redis, 200 waiting.
	waitFor(t, 10*time.Second, "the delivered rows to be deleted", func() bool {
		var pending int64
		if err := testDB.Raw(`SELECT count(*) FROM inbox_pending`).Scan(&pending).Error; err != nil {
			t.Fatal(err)
		}
		return pending == 0
	})
	if err := insp.PauseQueue(inbox.DefaultQueue); err != nil {
		t.Fatal(err)
	}
	more := recordWaiting(t, rdb, issueID, 200)
	ids = append(ids, more...)
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "every pending delivery after a FLUSHALL", func() bool {
		ev, _ := all.total()
		return ev == len(ids)
	}, all.changed)
	waitFor(t, 10*time.Second, "the queue to settle", func() bool { return quiet(t, opt) })
	for _, id := range ids {
		if c := all.count(id); c != 1 {
			t.Errorf("event %d delivered %d times, want once", id, c)
		}
	}
}

// recordWaiting records that many comment_added events with the default
// queue paused and returns their IDs once every job waits in Redis and in
// inbox_pending.
func recordWaiting(t *testing.T, rdb *goredis.Client, issueID int64, events int) []int64 {
	t.Helper()
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
	waitFor(t, 30*time.Second, "the jobs waiting in Redis and their pending rows", func() bool {
		var pending int64
		if err := testDB.Raw(`SELECT count(*) FROM inbox_pending`).Scan(&pending).Error; err != nil {
			t.Fatal(err)
		}
		// LLEN, not the Inspector: it sees only the queues listed in
		// asynq:queues, which a restarted Redis has forgotten.
		n, err := rdb.LLen(context.Background(), "asynq:{"+inbox.DefaultQueue+"}:pending").Result()
		return err == nil && n == int64(events) && pending == int64(events) && outboxLen(t) == 0
	})
	return ids
}
