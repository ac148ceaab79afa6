package inbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/internal/rediscluster"
)

// stranding is a Redis Cluster on which a victim worker holds three
// deliveries of rescueEvents (it never finishes a job it takes).
type stranding struct {
	cl         *rediscluster.Cluster
	opt        inbox.RedisClusterOpt
	relay      inbox.RelayConfig
	victim     *inbox.Worker
	victimHeld map[int64]bool
	want       map[string]bool // "recipient/event id" of every notification
	queue      string
}

const rescueEvents = 40

func rescueInbox(t *testing.T) inbox.Inbox {
	t.Helper()
	n, err := notify.New(notify.Config{Name: "rescue-notify", Recipients: recipientsFromExtra,
		Policy: inbox.Policy{RetryWindow: time.Minute, Backoff: func(int) time.Duration { return 100 * time.Millisecond }}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// strand starts the cluster and the victim, records rescueEvents events
// and returns once the victim holds three of their jobs.
func strand(t *testing.T) *stranding {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a 6-node Redis Cluster")
	}
	reset(t)
	ctx := context.Background()
	// No automatic failover: the replica is promoted by hand once the
	// victim is gone (else its shutdown could hand its jobs back itself).
	s := &stranding{cl: rediscluster.StartT(t, rediscluster.Config{NodeTimeout: time.Minute}), victimHeld: map[int64]bool{}, want: map[string]bool{},
		queue: inbox.AppQueue("", inbox.DefaultQueue)}
	s.opt = inbox.RedisClusterOpt{Addrs: s.cl.Addrs()}
	s.relay = inbox.RelayConfig{MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		// The sweeper stays out of it: a stranded job exists in Redis.
		Pending: inbox.PendingConfig{CheckAfter: time.Hour, MaxCheckInterval: time.Hour}}

	held := make(chan int64, 3)
	hold := func(inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			held <- d.Event.ID
			<-ctx.Done()
			return ctx.Err()
		}
	}
	s.victim = startWorker(t, inbox.Config{Redis: s.opt, Inboxes: []inbox.Inbox{rescueInbox(t)}, Middleware: []inbox.Middleware{hold},
		Concurrency: 3, ShutdownTimeout: 100 * time.Millisecond, Relay: s.relay})

	_, issueID := newIssue(t)
	var entries []activity.NewEvent
	for i := range rescueEvents {
		entries = append(entries, activity.NewEvent{Subject: issueID, Action: "comment_added", Options: []activity.Option{
			activity.Actor(activity.Ref{Type: "users", ID: "1"}), activity.Extra(map[string]any{"to": []string{fmt.Sprint(700 + i)}})}})
	}
	res, err := issues.RecordEvents(ctx, testDB, entries)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range res.Events {
		s.want[fmt.Sprintf("%d/%d", 700+i, ev.ID)] = true
	}
	deadline := time.After(30 * time.Second)
	for len(s.victimHeld) < 3 {
		select {
		case id := <-held:
			s.victimHeld[id] = true
		case <-deadline:
			t.Fatalf("the victim took %d jobs in 30s, want 3", len(s.victimHeld))
		}
	}
	return s
}

// fail kills the master of the queue with the victim, then promotes the
// master's replica; it returns when the replica is the master.
func (s *stranding) fail(t *testing.T) time.Time {
	t.Helper()
	ctx := context.Background()
	master, err := s.cl.MasterOf(ctx, "asynq:{"+s.queue+"}:active")
	if err != nil {
		t.Fatal(err)
	}
	replica, err := s.cl.ReplicaOf(ctx, master)
	if err != nil {
		t.Fatal(err)
	}
	// The replica has every job the master had (asynq's writes after
	// this, its heartbeats, may be lost with the master, as in a crash).
	if err := s.cl.WaitReplicated(ctx, master, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	s.cl.Kill(master)
	s.victim.Shutdown() // its jobs cannot go back: their master is gone
	if err := s.cl.Takeover(ctx, replica); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// check asserts that every notification arrived once, none else.
func (s *stranding) check(t *testing.T) {
	t.Helper()
	var got []struct {
		Recipient string
		EventID   int64
	}
	if err := testDB.Raw(`SELECT recipient, event_id FROM notifications`).Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for k := range s.want {
		want[k] = true
	}
	extra := 0
	for _, g := range got {
		k := fmt.Sprintf("%s/%d", g.Recipient, g.EventID)
		if !want[k] {
			extra++
		}
		delete(want, k)
	}
	if len(want) > 0 || extra > 0 || len(got) != rescueEvents {
		t.Errorf("%d notifications for %d events: %d missing, %d unexpected or doubled", len(got), rescueEvents, len(want), extra)
	}
}

// tap records when each event was delivered.
type tap struct {
	mu        sync.Mutex
	delivered map[int64]time.Time
}

func (tp *tap) middleware(next inbox.ProcessFunc) inbox.ProcessFunc {
	return func(ctx context.Context, d *inbox.Delivery) error {
		err := next(ctx, d)
		if err == nil {
			tp.mu.Lock()
			tp.delivered[d.Event.ID] = time.Now()
			tp.mu.Unlock()
		}
		return err
	}
}

func (tp *tap) log(t *testing.T, ids map[int64]bool, since time.Time, what string) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for id := range ids {
		t.Logf("event %d, held by the victim: delivered %v after %s", id, tp.delivered[id].Sub(since).Round(time.Millisecond), what)
	}
}

func logOnFailure(t *testing.T, w *inbox.Worker) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("survivor's relay %+v sweeper %+v", w.Relay().Stats(), w.Relay().SweepStats())
		}
	})
}

// A worker dies with the Redis Cluster master of its queue while it runs
// three deliveries: those jobs are active on the promoted replica with
// nobody running them. The other worker's relay sees the queue's new
// master, finds in a census that no live worker holds them, and hands them
// back: every notification arrives, each once. Without the rescue they
// wait for asynq's recoverer (their 30 s lease, then a pass once a
// minute), past this test's deadline. The census also keeps the jobs the
// dying worker held while it lived: the survivor's first check, made
// while the victim runs them, hands back none.
func TestRedisClusterRescuesJobsActiveOnADeadMaster(t *testing.T) {
	s := strand(t)
	tp := &tap{delivered: map[int64]time.Time{}}
	survivor := startWorker(t, inbox.Config{Redis: s.opt, Inboxes: []inbox.Inbox{rescueInbox(t)}, Middleware: []inbox.Middleware{tp.middleware}, Relay: s.relay})
	logOnFailure(t, survivor)
	// The survivor delivers the others; its first check takes a census
	// while the victim still holds its three, and hands none back.
	waitFor(t, 60*time.Second, "the jobs the victim does not hold, and the survivor's first census", func() bool {
		return countNotifications(t) >= rescueEvents-3 && survivor.Relay().SweepStats().Censuses >= 1
	})
	// The census is over (Censuses counts it as it returns): whatever it
	// handed back is counted in Rescued.
	if st := survivor.Relay().SweepStats(); st.Rescued != 0 {
		t.Fatalf("survivor's sweeper %+v while the victim holds 3 of %d jobs: the census let the survivor take jobs a live worker held", st, rescueEvents)
	}
	if n := countNotifications(t); n != rescueEvents-3 {
		t.Fatalf("%d notifications while the victim holds 3 of %d jobs, want %d", n, rescueEvents, rescueEvents-3)
	}

	promoted := s.fail(t)
	waitFor(t, 25*time.Second, "every notification", func() bool { return countNotifications(t) >= rescueEvents })
	s.check(t)
	st := survivor.Relay().SweepStats()
	if st.Failovers < 1 || st.Rescued < 1 || st.Rescued > 3 {
		t.Errorf("survivor's sweeper %+v: want a failover seen and 1-3 jobs handed back (the victim's)", st)
	}
	tp.log(t, s.victimHeld, promoted, "the promotion")
	tp.mu.Lock()
	for id := range s.victimHeld {
		if at := tp.delivered[id]; at.Before(promoted) {
			t.Errorf("event %d, held by the victim, delivered by the survivor %v before the promotion", id, promoted.Sub(at))
		}
	}
	tp.mu.Unlock()
}

// The worker and its relay died with the master; the survivor starts
// after the promotion, so its relay never saw the old master: its first
// check looks at every queue's active jobs. It starts while another relay
// holds the rescue lock (as one would while rescuing other queues): that
// check is deferred, not dropped, and once the lock is free the three jobs
// come back, long before asynq's recoverer would.
func TestRedisClusterRescueByARelayStartedAfterTheFailover(t *testing.T) {
	s := strand(t)
	ctx := context.Background()
	// Every job is in Redis (the victim's relay emptied the outbox)
	// before the master dies.
	waitFor(t, 30*time.Second, "the outbox to be relayed", func() bool { return outboxLen(t) == 0 })
	promoted := s.fail(t)

	rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: s.cl.Addrs()})
	defer rdb.Close()
	lock := inbox.HeldKey("") + ":rescue"
	if err := rdb.Set(ctx, lock, "another relay", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	tp := &tap{delivered: map[int64]time.Time{}}
	survivor := startWorker(t, inbox.Config{Redis: s.opt, Inboxes: []inbox.Inbox{rescueInbox(t)}, Middleware: []inbox.Middleware{tp.middleware}, Relay: s.relay})
	logOnFailure(t, survivor)
	waitFor(t, 60*time.Second, "the jobs that were pending, and a check deferred to the lock's holder", func() bool {
		return countNotifications(t) >= rescueEvents-3 && survivor.Relay().SweepStats().Deferred >= 1
	})
	if n := countNotifications(t); n != rescueEvents-3 {
		t.Fatalf("%d notifications while another relay holds the rescue lock, want %d", n, rescueEvents-3)
	}
	if err := rdb.Del(ctx, lock).Err(); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	waitFor(t, 25*time.Second, "every notification", func() bool { return countNotifications(t) >= rescueEvents })
	s.check(t)
	if st := survivor.Relay().SweepStats(); st.Rescued != 3 || st.Censuses < 1 {
		t.Errorf("survivor's sweeper %+v: want a census and the victim's 3 jobs handed back", st)
	}
	tp.log(t, s.victimHeld, freed, "the lock was freed")
	t.Logf("promoted %v before the lock was freed", freed.Sub(promoted).Round(time.Millisecond))
}
