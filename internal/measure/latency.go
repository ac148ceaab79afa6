package measure

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// QuietLogger keeps the worker's and asynq's logs out of the table
// (TIDINGS_BENCH_LOG=debug or info shows them on stderr).
func QuietLogger() *slog.Logger {
	switch os.Getenv("TIDINGS_BENCH_LOG") {
	case "":
	case "debug":
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	default:
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Paced calls fn(i) n times at rate per second, each in its own goroutine,
// on a fixed schedule (a slow call does not delay the next).
func Paced(ctx context.Context, n int, rate float64, fn func(i int)) {
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}

// WaitDone waits for done, or fails after timeout.
func WaitDone(ctx context.Context, done <-chan struct{}, timeout time.Duration, what string) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("fanout: %s did not finish within %s", what, timeout)
	}
}

// Tuning is a side's settings for a figure: the library's defaults, or
// its knobs turned for latency.
type Tuning struct {
	Name string // "defaults", "tuned for latency"
	// WakeInterval is the recording domain's activity.DomainConfig.
	// WakeInterval (0: the default).
	WakeInterval time.Duration
	// Worker adjusts the worker's configuration (nil: defaults).
	Worker func(*inbox.Config)
}

// Defaults is the library as it ships.
var Defaults = Tuning{Name: "defaults"}

// TunedForLatency turns the library's knobs for latency: recording wakes
// relays at most every 5ms (not 100ms), the relay polls every 1ms while
// active (not 5ms), asynq polls Redis every 1ms (not 5ms).
var TunedForLatency = Tuning{
	Name:         "tuned for latency",
	WakeInterval: 5 * time.Millisecond,
	Worker: func(c *inbox.Config) {
		c.TaskCheckInterval = time.Millisecond
		c.Relay.MinPollInterval = time.Millisecond
	},
}

// String describes the settings, for notes.
func (t Tuning) String() string {
	var c inbox.Config
	if t.Worker != nil {
		t.Worker(&c)
	}
	wake := cmpOr(t.WakeInterval, activity.DefaultWakeInterval)
	return fmt.Sprintf("%s: WakeInterval %s, relay MinPollInterval %s, TaskCheckInterval %s", t.Name, wake,
		cmpOr(c.Relay.MinPollInterval, 5*time.Millisecond), cmpOr(c.TaskCheckInterval, inbox.DefaultTaskCheckInterval))
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// IssueDomain is the issue domain with t's wake-up interval.
func (t Tuning) IssueDomain() *activity.Domain {
	cfg := IssueDomainConfig(nil)
	cfg.WakeInterval = t.WakeInterval
	return activity.MustDomain(cfg)
}

// WorkerConfig is a worker of d on db with inboxes, quiet, adjusted by t.
func (t Tuning) WorkerConfig(db *gorm.DB, d *activity.Domain, inboxes ...inbox.Inbox) inbox.Config {
	c := inbox.Config{DB: db, Redis: Redis(), Domains: []*activity.Domain{d}, Inboxes: inboxes, Logger: QuietLogger()}
	if t.Worker != nil {
		t.Worker(&c)
	}
	return c
}

// startTimes is an inbox that notes when each event's delivery started.
type startTimes struct {
	name    string
	accepts func(action string) bool // nil: every action
	mu      sync.Mutex
	at      map[int64]time.Time
	count   atomic.Int64
	want    int64
	done    chan struct{}
}

func (s *startTimes) Name() string { return s.name }
func (s *startTimes) Accepts(_, action string) bool {
	return s.accepts == nil || s.accepts(action)
}
func (s *startTimes) Process(_ context.Context, d *inbox.Delivery) error {
	now := time.Now()
	s.mu.Lock()
	if _, ok := s.at[d.Event.ID]; !ok {
		s.at[d.Event.ID] = now
	}
	s.mu.Unlock()
	if s.count.Add(1) == s.want {
		close(s.done)
	}
	return nil
}

// LatencyRun is one commit-to-inbox latency measurement of the library.
type LatencyRun struct {
	DB     *gorm.DB // the app's pool: recording and the worker
	Tuning Tuning
	Rate   float64 // events per second
	N      int     // events recorded, the first Warm not counted
	Warm   int
	// Saturators, when above 0, record comment_viewed (which the inbox
	// does not take) at full speed on DB meanwhile.
	Saturators int
}

// LatencyResult is what a LatencyRun measured.
type LatencyResult struct {
	Latencies []time.Duration // from RecordEvent's return to Process's start, the warm-up left out
	Negative  int             // deliveries that started before RecordEvent returned (counted as 0)
	Took      time.Duration   // the paced recording
	Saturated int64           // the saturators' events
}

// Latency records run.N comment_added events at run.Rate on the pool (each
// its own commit) while a worker runs one inbox, and measures from
// RecordEvent's return (the commit) to the start of the inbox's Process.
// The outbox must be empty (ClearOutbox).
func Latency(ctx context.Context, run LatencyRun) (LatencyResult, error) {
	var res LatencyResult
	issues := run.Tuning.IssueDomain()
	in := &startTimes{name: "bench-latency", at: map[int64]time.Time{}, want: int64(run.N), done: make(chan struct{})}
	in.accepts = func(action string) bool { return action == "comment_added" }
	w, err := inbox.NewWorker(run.Tuning.WorkerConfig(run.DB, issues, in))
	if err != nil {
		return res, err
	}
	if err := w.Start(ctx); err != nil {
		return res, err
	}
	actor := activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "User 1"})
	var saturated atomic.Int64
	stopSaturating := func() {}
	if run.Saturators > 0 {
		sctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for k := range run.Saturators {
			wg.Go(func() {
				for i := 0; sctx.Err() == nil; i++ {
					if _, err := issues.RecordEvent(sctx, run.DB, int64(1+(k*131+i)%FixtureIssues), "comment_viewed", actor); err == nil {
						saturated.Add(1)
					}
				}
			})
		}
		stopSaturating = func() { cancel(); wg.Wait() }
	}
	committed := make([]time.Time, run.N)
	ids := make([]int64, run.N)
	var recErr atomic.Pointer[error]
	start := time.Now()
	Paced(ctx, run.N, run.Rate, func(i int) {
		r, err := issues.RecordEvent(ctx, run.DB, int64(1+i%FixtureIssues), "comment_added", actor)
		committed[i] = time.Now()
		if err != nil {
			recErr.CompareAndSwap(nil, &err)
			return
		}
		ids[i] = r.Event.ID
	})
	res.Took = time.Since(start)
	if p := recErr.Load(); p != nil {
		stopSaturating()
		w.Shutdown()
		return res, *p
	}
	err = WaitDone(ctx, in.done, 60*time.Second, "the latency run")
	stopSaturating()
	w.Shutdown()
	if err != nil {
		return res, err
	}
	res.Saturated = saturated.Load()
	res.Latencies = make([]time.Duration, 0, run.N-run.Warm)
	for i, id := range ids[run.Warm:] {
		i += run.Warm
		d := in.at[id].Sub(committed[i])
		if d < 0 { // the inbox started before RecordEvent's caller saw the commit
			res.Negative++
			d = 0
		}
		res.Latencies = append(res.Latencies, d)
	}
	return res, nil
}
