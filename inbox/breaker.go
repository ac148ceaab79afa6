package inbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrSinkDown matches an error of a delivery whose sink (an SMTP server, a
// Slack workspace, a webhook host) could not be reached: Unreachable wraps
// one. A delivery held because its sink's circuit breaker is open fails
// with a *HeldError, which matches ErrHeld (outcome.go).
var ErrSinkDown = errors.New("inbox: sink unreachable")

// UnreachableError reports that a sink did not answer at all (connection
// refused or reset, timeout, DNS failure, a 421 "service not available"):
// a transport failure, as opposed to an answer about this delivery. The
// worker's circuit breaker for Sink counts it.
type UnreachableError struct {
	Sink string // "smtp://mail.example.com:587", "slack:T0123", "https://hooks.example.com"
	Err  error
}

// Unreachable wraps err as a transport failure of sink. Unreachable(_, nil)
// is nil.
func Unreachable(sink string, err error) error {
	if err == nil {
		return nil
	}
	return &UnreachableError{Sink: sink, Err: err}
}

func (e *UnreachableError) Error() string        { return fmt.Sprintf("%s unreachable: %v", e.Sink, e.Err) }
func (e *UnreachableError) Unwrap() error        { return e.Err }
func (e *UnreachableError) Is(target error) bool { return target == ErrSinkDown }

// HeldError is the error of an attempt that the worker did not run because
// its sink's breaker is open. It does not count against the retry window.
type HeldError struct {
	Sink  string
	Until time.Time // when the breaker lets a probe through

	openedAt time.Time // when the breaker opened: another worker's later "answered" closes it
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("inbox: delivery held: %s is down (circuit breaker open until %s)", e.Sink, e.Until.Format(time.RFC3339))
}
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// InboxWithSink is an Inbox that names the outside service it delivers to,
// so the worker can hold its deliveries while that service is down (see
// BreakerConfig).
type InboxWithSink interface {
	Inbox
	Sink() string
}

// BreakerConfig configures the worker's circuit breakers, one per sink.
//
// A breaker is closed while its sink answers. After Failures consecutive
// transport failures (Unreachable errors) it opens: the sink's deliveries
// are held (not run, no retry window spent, nothing dead-lettered) for
// OpenFor. Then it is half-open: one delivery runs as the probe (the
// others stay held); if the sink answers (success, or any answer that is
// not a transport failure) the breaker closes and the held deliveries
// run, else it opens again for twice as long, up to MaxOpenFor.
//
// Held is not failed: a held attempt, and a transport failure of a sink
// with a breaker, is retried at the sink's next probe time (while the
// breaker is still closed: the inbox's Backoff for the sink's consecutive
// failures, at most OpenFor), never after a Backoff grown by asynq's count
// of the job's attempts, and counts against no retry window. When a probe succeeds, the
// worker releases at once every job held for the sink (they wait in
// asynq's retry set: it moves them to their queue) and notes in Redis
// (SinksKey) that the sink answers, so other workers sharing the Redis
// close their own breaker for it at their next held attempt instead of
// holding the released jobs again. So held deliveries go within one probe
// interval (MaxOpenFor at worst) of the sink's return.
//
// Breakers live in the worker process: each worker learns on its own that
// a sink is down, and from the others that it is back.
type BreakerConfig struct {
	// Failures is how many consecutive transport failures open a breaker.
	// Default 5.
	Failures int
	// OpenFor is how long a breaker stays open before its first probe.
	// Default 10s.
	OpenFor time.Duration
	// MaxOpenFor caps the doubling open time after failed probes: the
	// longest a sink's return can go unnoticed, so the longest held mail
	// waits after its server answers again. Default 30s (a probe is one
	// delivery attempt per sink and worker, cheap at that rate).
	MaxOpenFor time.Duration
	// Disable runs every delivery, whatever its sink's state.
	Disable bool
}

// BreakerState is one sink's breaker as Worker.Breakers reports it.
type BreakerState struct {
	Sink      string
	State     string // "closed", "open", "half-open"
	Failures  int    // consecutive transport failures
	Since     time.Time
	ProbeAt   time.Time // open: when the next probe may run
	LastError string
	// LastErrorKind is the kind of the last failure (its Go type and the
	// worker's sentinels, never its text, which may name someone): what
	// the worker publishes to Redis (WorkerStatus) in place of LastError.
	LastErrorKind string
	Held          int64 // attempts held while open, since the worker started
	// Misconfigured is why the sink refused the app's configuration
	// (a MisconfiguredError's Reason) at its last refusal, "" when it has
	// not, or accepted a delivery since: a configuration failure, not an
	// outage (the breaker stays closed; health reports it as down).
	Misconfigured      string
	MisconfiguredSince time.Time
}

// Breaker states.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
)

// BreakerConfig defaults.
const (
	DefaultBreakerOpenFor    = 10 * time.Second
	DefaultBreakerMaxOpenFor = 30 * time.Second
)

// breakers holds a worker's circuit breakers.
type breakers struct {
	cfg BreakerConfig
	now func() time.Time
	log *slog.Logger

	mu    sync.Mutex
	sinks map[string]*breaker
	// onChange, when set, is called (outside the lock) after a transition.
	onChange func(BreakerState)
	// onAnswered, when set, is called (outside the lock) when a probe
	// closes a breaker: the worker releases the held jobs.
	onAnswered func(sink string, at time.Time)
	// answered holds, by sink, what SinkBreaker.OnAnswered registered:
	// called after onAnswered.
	answered map[string][]func(at time.Time)
}

type breaker struct {
	BreakerState
	openFor      time.Duration
	probeStarted time.Time
	openedAt     time.Time // when it left closed (kept through half-open and reopening)
}

func newBreakers(cfg BreakerConfig, now func() time.Time, log *slog.Logger) *breakers {
	cfg.Failures, cfg.OpenFor, cfg.MaxOpenFor = max(cfg.Failures, 0), max(cfg.OpenFor, 0), max(cfg.MaxOpenFor, 0) // negative: the default
	setDefault(&cfg.Failures, 5)
	setDefault(&cfg.OpenFor, DefaultBreakerOpenFor)
	setDefault(&cfg.MaxOpenFor, DefaultBreakerMaxOpenFor)
	if cfg.MaxOpenFor < cfg.OpenFor {
		cfg.MaxOpenFor = cfg.OpenFor
	}
	return &breakers{cfg: cfg, now: now, log: log, sinks: map[string]*breaker{}}
}

func (bs *breakers) get(sink string) *breaker {
	b := bs.sinks[sink]
	if b == nil {
		b = &breaker{BreakerState: BreakerState{Sink: sink, State: BreakerClosed, Since: bs.now()}, openFor: bs.cfg.OpenFor}
		bs.sinks[sink] = b
	}
	return b
}

// allow reports whether a delivery to sink may run now; when not, the
// error to return (a HeldError asking to come back at the probe time).
func (bs *breakers) allow(sink string, probeTimeout time.Duration) error {
	if bs.cfg.Disable || sink == "" {
		return nil
	}
	bs.mu.Lock()
	b := bs.get(sink)
	now := bs.now()
	var changed *BreakerState
	var held error
	switch b.State {
	case BreakerOpen:
		if now.Before(b.ProbeAt) {
			b.Held++
			held = RetryAfter(b.ProbeAt.Sub(now), &HeldError{Sink: sink, Until: b.ProbeAt, openedAt: b.openedAt})
			break
		}
		b.State, b.Since, b.probeStarted = BreakerHalfOpen, now, now
		s := b.BreakerState
		changed = &s
	case BreakerHalfOpen:
		if now.Sub(b.probeStarted) < probeTimeout {
			b.Held++
			wait := min(b.openFor, 5*time.Second)
			held = RetryAfter(wait, &HeldError{Sink: sink, Until: now.Add(wait), openedAt: b.openedAt})
			break
		}
		b.probeStarted = now // the probe never reported back: another one
	}
	bs.mu.Unlock()
	if changed != nil {
		bs.log.LogAttrs(context.Background(), slog.LevelInfo, "inbox: circuit breaker half-open: one delivery probes the sink", slog.String("sink", sink))
		bs.notify(*changed)
	}
	return held
}

// report records an attempt's outcome for sink.
func (bs *breakers) report(sink string, err error) {
	if bs.cfg.Disable || sink == "" || errors.Is(err, ErrHeld) {
		return
	}
	bs.mu.Lock()
	b := bs.get(sink)
	now := bs.now()
	var changed *BreakerState
	var level slog.Level
	var msg string
	answered := false
	var mis *MisconfiguredError
	switch {
	case errors.As(err, &mis):
		if b.Misconfigured != mis.Reason {
			b.Misconfigured, b.MisconfiguredSince = mis.Reason, now
			b.LastError, b.LastErrorKind = truncate(err.Error(), 500), errorKind(err)
			level, msg = slog.LevelError, "inbox: the sink refuses the configuration: its deliveries fail (dead letters) until the configuration is fixed"
		}
	case err == nil && b.Misconfigured != "":
		b.Misconfigured, b.MisconfiguredSince = "", time.Time{}
		level, msg = slog.LevelInfo, "inbox: the sink accepts the configuration again"
	}
	if errors.Is(err, ErrSinkDown) {
		b.Failures++
		b.LastError, b.LastErrorKind = truncate(err.Error(), 500), errorKind(err)
		switch {
		case b.State == BreakerHalfOpen:
			b.openFor = min(b.openFor*2, bs.cfg.MaxOpenFor)
			b.State, b.Since, b.ProbeAt = BreakerOpen, now, now.Add(b.openFor)
			level, msg = slog.LevelWarn, "inbox: circuit breaker open again: the probe failed; deliveries to the sink stay held"
		case b.State == BreakerClosed && b.Failures >= bs.cfg.Failures:
			b.State, b.Since, b.ProbeAt, b.openedAt = BreakerOpen, now, now.Add(b.openFor), now
			level, msg = slog.LevelWarn, "inbox: circuit breaker open: the sink is down; its deliveries are held (no retries spent) until a probe succeeds"
		}
	} else {
		if b.State != BreakerClosed {
			level = max(level, slog.LevelInfo)
			msg = strings.TrimPrefix(msg+"; circuit breaker closed: the sink answers again; held deliveries resume", "; ")
			if !strings.HasPrefix(msg, "inbox: ") {
				msg = "inbox: " + msg
			}
			answered = true
			b.State, b.Since, b.ProbeAt = BreakerClosed, now, time.Time{}
		}
		b.Failures, b.openFor = 0, bs.cfg.OpenFor
	}
	if msg != "" {
		s := b.BreakerState
		changed = &s
	}
	bs.mu.Unlock()
	if changed != nil {
		bs.log.LogAttrs(context.Background(), level, msg, slog.String("sink", sink), slog.String("state", changed.State),
			slog.Int("failures", changed.Failures), slog.Time("probe_at", changed.ProbeAt), slog.String("last_error", changed.LastError),
			slog.String("misconfigured", changed.Misconfigured))
		bs.notify(*changed)
	}
	if answered {
		if bs.onAnswered != nil {
			bs.onAnswered(sink, now)
		}
		bs.mu.Lock()
		fs := bs.answered[sink]
		bs.mu.Unlock()
		for _, f := range fs {
			f(now)
		}
	}
}

// closedElsewhere closes sink's breaker because another worker saw the
// sink answer at at, after this breaker opened at opened. It reports
// whether the breaker is closed now (false: it opened again since).
func (bs *breakers) closedElsewhere(sink string, opened, at time.Time) bool {
	bs.mu.Lock()
	b := bs.get(sink)
	if b.State == BreakerClosed {
		bs.mu.Unlock()
		return true
	}
	if !b.openedAt.Equal(opened) || !at.After(opened) {
		bs.mu.Unlock()
		return false
	}
	b.State, b.Since, b.ProbeAt = BreakerClosed, bs.now(), time.Time{}
	b.Failures, b.openFor = 0, bs.cfg.OpenFor
	s := b.BreakerState
	bs.mu.Unlock()
	bs.log.LogAttrs(context.Background(), slog.LevelInfo, "inbox: circuit breaker closed: another worker saw the sink answer again; held deliveries resume",
		slog.String("sink", sink), slog.Time("answered_at", at))
	bs.notify(s)
	return true
}

// sinkDelay is when a delivery that just failed with a transport failure
// of sink (already reported) runs again: at the breaker's next probe time,
// not after the inbox's backoff for asynq's count, which would grow with
// every held attempt. While the breaker is still closed, the backoff for
// the sink's consecutive failures, at most OpenFor.
func (bs *breakers) sinkDelay(sink string, backoff Backoff) time.Duration {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.get(sink)
	switch b.State {
	case BreakerOpen:
		return max(b.ProbeAt.Sub(bs.now()), time.Millisecond)
	case BreakerHalfOpen:
		return min(b.openFor, 5*time.Second)
	}
	return min(backoff(max(b.Failures, 1)), bs.cfg.OpenFor)
}

func (bs *breakers) notify(s BreakerState) {
	bs.mu.Lock()
	f := bs.onChange
	bs.mu.Unlock()
	if f != nil {
		f(s)
	}
}

// states returns every breaker's state, by sink.
// notClosed returns, by sink, when each breaker that is not closed left
// closed.
func (bs *breakers) notClosed() map[string]time.Time {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	var out map[string]time.Time
	for sink, b := range bs.sinks {
		if b.State != BreakerClosed {
			if out == nil {
				out = map[string]time.Time{}
			}
			out[sink] = b.openedAt
		}
	}
	return out
}

func (bs *breakers) states() []BreakerState {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	out := make([]BreakerState, 0, len(bs.sinks))
	for _, b := range bs.sinks {
		out = append(out, b.BreakerState)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Sink < out[j].Sink })
	return out
}

// Breakers returns the state of the worker's circuit breakers, one per
// sink it has delivered to, sorted by sink. For health endpoints and the
// queues page.
func (w *Worker) Breakers() []BreakerState { return w.breakers.states() }

// OnBreakerChange calls f after every breaker transition (opened,
// half-open, closed), outside the worker's locks. Set it before Start.
func (w *Worker) OnBreakerChange(f func(BreakerState)) {
	w.breakers.mu.Lock()
	w.breakers.onChange = f
	w.breakers.mu.Unlock()
}
