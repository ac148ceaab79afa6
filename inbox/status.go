package inbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// A worker lives in its own process; the pages that show its state (the
// operations page) run in the web process. So each running Worker
// publishes its status to Redis, one field of one hash per worker
// (StatusKey), every Config.StatusInterval, and any process reads it with
// ReadWorkerStatus. An entry not refreshed within three intervals (the
// worker died without its Shutdown) is dropped by the next reader.

// DefaultStatusInterval is the default Config.StatusInterval.
const DefaultStatusInterval = 2 * time.Second

// WorkerStatus is what a running worker publishes about itself.
type WorkerStatus struct {
	// Process names the worker: host, process id and a random suffix.
	Process string `json:"process"`
	App     string `json:"app,omitempty"`
	// Inboxes are the inboxes it runs, sorted.
	Inboxes     []string  `json:"inboxes"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	// ExpiresAt is when the entry is stale without a new heartbeat.
	ExpiresAt time.Time `json:"expires_at"`
	// Relay is its relay's state; nil when it runs none (DisableRelay).
	Relay *RelayStatus `json:"relay,omitempty"`
	// Breakers are its circuit breakers, one per sink, sorted by sink.
	Breakers []BreakerStatus `json:"breakers"`
}

// RelayStatus is a relay's state as its worker publishes it.
type RelayStatus struct {
	// Listening: the LISTEN connection is up (else it polls).
	Listening bool `json:"listening"`
	// Counters since the worker started (RelayStats).
	Batches    int64 `json:"batches"`
	Rows       int64 `json:"rows"`
	Enqueued   int64 `json:"enqueued"`
	Duplicates int64 `json:"duplicates"`
	Failed     int64 `json:"failed"`
	// The pending-delivery sweeper's counters (SweepStats).
	SweepChecked    int64 `json:"sweep_checked"`
	SweepReenqueued int64 `json:"sweep_reenqueued"`
	SweepFinished   int64 `json:"sweep_finished"`
}

// BreakerStatus is one sink's circuit breaker as its worker publishes it
// (BreakerState).
type BreakerStatus struct {
	Sink     string    `json:"sink"`
	State    string    `json:"state"` // BreakerClosed, BreakerOpen, BreakerHalfOpen
	Failures int       `json:"failures"`
	Since    time.Time `json:"since"`
	ProbeAt  time.Time `json:"probe_at,omitzero"`
	// LastError is the kind of the last failure (BreakerState.LastErrorKind),
	// never its text: Redis holds nothing personal.
	LastError string `json:"last_error,omitempty"`
	Held      int64  `json:"held"`
	// Misconfigured is why the sink refuses the app's configuration
	// (BreakerState.Misconfigured, the library's words), "" when it does
	// not.
	Misconfigured      string    `json:"misconfigured,omitempty"`
	MisconfiguredSince time.Time `json:"misconfigured_since,omitzero"`
}

// StatusKey is the Redis hash the workers of app publish their status in.
func StatusKey(app string) string {
	if app == "" {
		return "tidings:workers"
	}
	return app + ":tidings:workers"
}

// status builds the worker's WorkerStatus now.
func (w *Worker) status(process string, started time.Time) WorkerStatus {
	now := w.now()
	s := WorkerStatus{Process: process, App: w.cfg.App, Inboxes: w.names, StartedAt: started, HeartbeatAt: now,
		ExpiresAt: now.Add(3 * w.cfg.StatusInterval), Breakers: []BreakerStatus{}}
	if w.relay != nil {
		st, sw := w.relay.Stats(), w.relay.SweepStats()
		s.Relay = &RelayStatus{Listening: w.relay.Listening(), Batches: st.Batches, Rows: st.Rows, Enqueued: st.Enqueued,
			Duplicates: st.Duplicates, Failed: st.Failed, SweepChecked: sw.Checked, SweepReenqueued: sw.Reenqueued, SweepFinished: sw.Finished}
	}
	bs := w.Breakers()
	slices.SortFunc(bs, func(a, b BreakerState) int { return strings.Compare(a.Sink, b.Sink) })
	for _, b := range bs {
		s.Breakers = append(s.Breakers, BreakerStatus{Sink: b.Sink, State: b.State, Failures: b.Failures, Since: b.Since,
			ProbeAt: b.ProbeAt, LastError: b.LastErrorKind, Held: b.Held, Misconfigured: b.Misconfigured, MisconfiguredSince: b.MisconfiguredSince})
	}
	return s
}

// publisher publishes a worker's status until stopped.
type publisher struct {
	rdb     redis.UniversalClient
	key     string
	process string
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

func processName() string {
	host, _ := os.Hostname()
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// startStatus starts publishing, unless StatusInterval is negative.
func (w *Worker) startStatus() error {
	if w.cfg.StatusInterval < 0 {
		return nil
	}
	rdb, err := RedisClient(w.cfg.Redis)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &publisher{rdb: rdb, key: StatusKey(w.cfg.App), process: processName(), stop: cancel}
	started := w.now()
	publish := func() {
		pctx, cancel := context.WithTimeout(ctx, w.cfg.StatusInterval)
		defer cancel()
		w.closeAnsweredElsewhere(pctx, rdb)
		b, _ := json.Marshal(w.status(p.process, started))
		pipe := rdb.TxPipeline()
		pipe.HSet(pctx, p.key, p.process, b)
		pipe.Expire(pctx, p.key, 3*w.cfg.StatusInterval+time.Minute)
		if _, err := pipe.Exec(pctx); err != nil && ctx.Err() == nil {
			w.log.DebugContext(ctx, "inbox: publishing the worker's status failed", "error", err)
		}
	}
	publish()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(w.cfg.StatusInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				publish()
			}
		}
	}()
	w.statusPub = p
	return nil
}

// stopStatus stops publishing and removes the worker's entry.
func (w *Worker) stopStatus() {
	p := w.statusPub
	if p == nil {
		return
	}
	w.statusPub = nil
	p.stop()
	p.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = p.rdb.HDel(ctx, p.key, p.process).Err()
	_ = p.rdb.Close()
}

// ReadWorkerStatus returns the status of app's running workers, sorted by
// process, as they last published it: any process may read it (the web
// process shows the worker's relay and breakers). Entries past their
// ExpiresAt at now (a worker that died without Shutdown) are left out and
// removed.
func ReadWorkerStatus(ctx context.Context, rdb redis.UniversalClient, app string, now time.Time) ([]WorkerStatus, error) {
	if rdb == nil {
		return nil, errors.New("inbox: ReadWorkerStatus needs a Redis client")
	}
	key := StatusKey(app)
	all, err := rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("inbox: read worker status: %w", err)
	}
	out := make([]WorkerStatus, 0, len(all))
	var stale []string
	for field, v := range all {
		var s WorkerStatus
		if err := json.Unmarshal([]byte(v), &s); err != nil || !s.ExpiresAt.After(now) {
			stale = append(stale, field)
			continue
		}
		out = append(out, s)
	}
	if len(stale) > 0 {
		_ = rdb.HDel(ctx, key, stale...).Err()
	}
	slices.SortFunc(out, func(a, b WorkerStatus) int { return strings.Compare(a.Process, b.Process) })
	return out, nil
}
