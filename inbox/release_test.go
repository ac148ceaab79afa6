package inbox_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/inbox"
)

// loopbackSink is an inbox whose deliveries dial a TCP listener on
// loopback, a sink that is down while the listener is closed (connection
// refused: a transport failure of the sink).
type loopbackSink struct {
	addr      string
	delivered chan int64

	mu sync.Mutex
	ln net.Listener
}

func (s *loopbackSink) Name() string                       { return "release-sink" }
func (s *loopbackSink) Accepts(domain, action string) bool { return true }
func (s *loopbackSink) Sink() string                       { return "tcp://" + s.addr }
func (s *loopbackSink) Process(ctx context.Context, d *inbox.Delivery) error {
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return inbox.Unreachable(s.Sink(), err)
	}
	_ = c.Close()
	s.delivered <- d.Event.ID
	return nil
}

func (s *loopbackSink) listen(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	s.ln, s.addr = ln, ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
}

func (s *loopbackSink) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.ln.Close()
}

// A successful probe releases every job held for the sink from asynq's
// retry set. The breaker's probe interval is an hour (OpenFor and
// MaxOpenFor), so the jobs held while the sink is down wait in the retry
// set until an hour from now: only the release brings them back within
// the bound. The worker's clock then jumps past the probe time, a new
// event's delivery is the probe, finds the sink answering, and every held
// job is delivered within seconds, once.
func TestProbeReleasesEveryHeldJob(t *testing.T) {
	reset(t)
	sink := &loopbackSink{addr: "127.0.0.1:0", delivered: make(chan int64, 100)}
	sink.listen(t)
	t.Cleanup(sink.stop)
	var skew atomic.Int64 // added to the worker's clock
	const probeEvery = time.Hour
	w := startWorker(t, inbox.Config{
		Inboxes:                  []inbox.Inbox{sink},
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		Relay:                    inbox.RelayConfig{PollInterval: 50 * time.Millisecond},
		Breakers:                 inbox.BreakerConfig{Failures: 1, OpenFor: probeEvery, MaxOpenFor: probeEvery},
		Now:                      func() time.Time { return time.Now().Add(time.Duration(skew.Load())) },
		Logger:                   testLogger(),
	})
	_, issueID := newIssue(t)

	sink.stop()
	const held = 5
	for range held {
		record(t, testDB, issueID, "comment_added")
	}
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	queue := inbox.PolicyOf(sink).Queue
	deadline := time.Now().Add(30 * time.Second)
	for {
		tasks, err := insp.ListRetryTasks(queue)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			t.Fatal(err)
		}
		if len(tasks) == held {
			for _, task := range tasks {
				if d := time.Until(task.NextProcessAt); d < probeEvery-time.Minute {
					t.Fatalf("a held job retries in %v; the test needs them an hour out (the probe interval)", d)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs in the retry set after 30s", len(tasks), held)
		}
		select {
		case id := <-sink.delivered:
			t.Fatalf("event %d delivered while the sink is down", id)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if b := w.Breakers(); len(b) != 1 || b[0].State != inbox.BreakerOpen {
		t.Fatalf("breakers %+v; want the sink's open", b)
	}

	// The sink answers again, the probe time comes (on the worker's clock),
	// and a new event's delivery probes.
	sink.listen(t)
	skew.Store(int64(probeEvery + time.Second))
	back := time.Now()
	record(t, testDB, issueID, "comment_added")
	const bound = 10 * time.Second // asynq's forwarder and a loaded machine; without the release: an hour
	got := map[int64]int{}
	timeout := time.NewTimer(bound)
	defer timeout.Stop()
	for len(got) < held+1 {
		select {
		case id := <-sink.delivered:
			got[id]++
		case <-timeout.C:
			t.Fatalf("%d of %d events delivered %v after the sink answered again; the held jobs were not released (they retry in an hour)", len(got), held+1, bound)
		}
	}
	t.Logf("%d held jobs and the probe delivered %v after the sink's return", held, time.Since(back).Round(time.Millisecond))
	for id, n := range got {
		if n != 1 {
			t.Errorf("event %d delivered %d times", id, n)
		}
	}
	if b := w.Breakers(); len(b) != 1 || b[0].State != inbox.BreakerClosed {
		t.Errorf("breakers %+v; want the sink's closed", b)
	}
}

// A worker whose breaker is open closes it when another worker notes the
// sink answering (SinksKey), without a job of its own to find out: its
// published status, which the operations page and WorkerBreakersCheck
// read, does not show a sink down that answers. Here the probe is an hour
// away and no job comes; the note alone closes it, at the next status.
func TestBreakerClosesWhenAnotherWorkerSawTheSinkAnswer(t *testing.T) {
	reset(t)
	sink := &loopbackSink{addr: "127.0.0.1:0", delivered: make(chan int64, 10)}
	sink.listen(t)
	sink.stop()
	w := startWorker(t, inbox.Config{
		Inboxes:        []inbox.Inbox{sink},
		Relay:          inbox.RelayConfig{PollInterval: 50 * time.Millisecond},
		Breakers:       inbox.BreakerConfig{Failures: 1, OpenFor: time.Hour, MaxOpenFor: time.Hour},
		StatusInterval: 50 * time.Millisecond,
		Logger:         testLogger(),
	})
	_, issueID := newIssue(t)
	record(t, testDB, issueID, "comment_added")
	state := func() string {
		if b := w.Breakers(); len(b) == 1 {
			return b[0].State
		}
		return ""
	}
	waitFor(t, 30*time.Second, "the sink's breaker to open", func() bool { return state() == inbox.BreakerOpen })

	rdb, err := inbox.RedisClient(redis)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.HSet(context.Background(), inbox.SinksKey(""), sink.Sink(), time.Now().UnixNano()).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the breaker to close on the other worker's note", func() bool { return state() == inbox.BreakerClosed })
}
