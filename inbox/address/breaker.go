package address

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// breakers are an inbox's circuit breakers, one per sink, for a channel
// whose addresses have sinks of their own (Config.SinkOf): the worker's
// breaker holds whole jobs, and one job goes to several sinks. They work
// as the worker's (inbox.BreakerConfig): after Failures consecutive
// transport failures a sink's sends are held for OpenFor, then one send
// is the probe; an answer closes the breaker, a failure opens it again
// for twice as long, up to MaxOpenFor.
type breakers struct {
	cfg inbox.BreakerConfig
	now func() time.Time
	log *slog.Logger

	mu    sync.Mutex
	sinks map[string]*breaker
}

type breaker struct {
	failures int
	open     bool
	probing  bool      // a probe is out (until probeAt: then another may go)
	probeAt  time.Time // open: when the next probe may go
	openFor  time.Duration
}

func newBreakers(cfg inbox.BreakerConfig, now func() time.Time, log *slog.Logger) *breakers {
	if cfg.Failures <= 0 {
		cfg.Failures = 5
	}
	if cfg.OpenFor <= 0 {
		cfg.OpenFor = inbox.DefaultBreakerOpenFor
	}
	if cfg.MaxOpenFor < cfg.OpenFor {
		cfg.MaxOpenFor = max(inbox.DefaultBreakerMaxOpenFor, cfg.OpenFor)
	}
	return &breakers{cfg: cfg, now: now, log: log, sinks: map[string]*breaker{}}
}

// allow returns nil when a send to sink may go (the breaker is closed, or
// this send is the probe), else the held error: inbox.Unreachable of the
// sink wrapping an *inbox.HeldError, asking to come back at the probe
// time. It counts against no retry window.
func (bs *breakers) allow(sink string) error {
	if bs.cfg.Disable {
		return nil
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.sinks[sink]
	if b == nil || !b.open {
		return nil
	}
	now := bs.now()
	if !now.Before(b.probeAt) {
		b.probing, b.probeAt = true, now.Add(b.openFor) // the probe; the others wait for its answer
		return nil
	}
	return inbox.RetryAfter(b.probeAt.Sub(now), inbox.Unreachable(sink, &inbox.HeldError{Sink: sink, Until: b.probeAt}))
}

// report records whether sink answered a send (down: it did not).
func (bs *breakers) report(sink string, down bool) {
	if bs.cfg.Disable {
		return
	}
	bs.mu.Lock()
	b := bs.sinks[sink]
	if b == nil {
		if !down {
			bs.mu.Unlock()
			return
		}
		b = &breaker{openFor: bs.cfg.OpenFor}
		bs.sinks[sink] = b
	}
	now := bs.now()
	msg := ""
	switch {
	case !down:
		if b.open {
			msg = "circuit breaker closed: the sink answers again; its held deliveries resume"
		}
		delete(bs.sinks, sink)
	case b.open && b.probing:
		b.openFor = min(b.openFor*2, bs.cfg.MaxOpenFor)
		b.probing, b.probeAt = false, now.Add(b.openFor)
		msg = "circuit breaker open again: the probe failed"
	case !b.open:
		b.failures++
		if b.failures >= bs.cfg.Failures {
			b.open, b.probeAt = true, now.Add(b.openFor)
			msg = "circuit breaker open: the sink is down; its deliveries are held until a probe succeeds (the other sinks' go on)"
		}
	}
	bs.mu.Unlock()
	if msg != "" {
		bs.log.LogAttrs(context.Background(), slog.LevelWarn, msg, slog.String("sink", sink))
	}
}

// Breakers reports the inbox's own breakers (with Config.SinkOf): one per
// sink that failed since it last answered, sorted by sink.
func (in *Inbox[M]) Breakers() []inbox.BreakerState {
	if in.breakers == nil {
		return nil
	}
	bs := in.breakers
	bs.mu.Lock()
	defer bs.mu.Unlock()
	out := make([]inbox.BreakerState, 0, len(bs.sinks))
	for sink, b := range bs.sinks {
		s := inbox.BreakerState{Sink: sink, State: inbox.BreakerClosed, Failures: b.failures}
		switch {
		case b.open && b.probing:
			s.State, s.ProbeAt = inbox.BreakerHalfOpen, b.probeAt
		case b.open:
			s.State, s.ProbeAt = inbox.BreakerOpen, b.probeAt
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b inbox.BreakerState) int { return strings.Compare(a.Sink, b.Sink) })
	return out
}
