package inbox

import (
	"context"
	"errors"
	"time"
)

// SinkBreaker is the worker's circuit breaker of one sink (BreakerConfig)
// for the deliveries to it that do not run as the worker's jobs: a batch
// flush (package inbox/batch), a digest, an escalation. They go through
// the same breaker as the sink's single deliveries: held while it is open,
// counted when the sink does not answer, a probe when it is half-open,
// and a sink's refusal of the configuration (a MisconfiguredError)
// recorded for health (BreakerState.Misconfigured).
//
// A flusher asks Allow before each delivery and Report after it; a
// delivery held, or failed by a transport failure, runs again at Retry
// (the sink's next probe, never a backoff grown by the held attempts);
// OnAnswered tells the flusher when a probe (its own or a single
// delivery's) finds the sink answering, so that it runs at once what it
// held.
type SinkBreaker struct {
	w       *Worker
	sink    string
	timeout time.Duration // a probe running longer lets another through
}

// SinkBreaker returns the breaker of sink (InboxWithSink.Sink), which the
// worker shares with its inboxes delivering to sink. A probe is presumed
// lost after twice the longest Policy.Timeout of those inboxes (twice
// DefaultTimeout when none delivers to sink).
func (w *Worker) SinkBreaker(sink string) *SinkBreaker {
	timeout := time.Duration(0)
	for _, r := range w.inboxes {
		if r.sink == sink {
			timeout = max(timeout, r.policy.Timeout)
		}
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &SinkBreaker{w: w, sink: sink, timeout: 2 * timeout}
}

// Sink returns the sink the breaker is for.
func (s *SinkBreaker) Sink() string { return s.sink }

// Allow returns nil when a delivery to the sink may run now (the breaker
// is closed, or this delivery is the half-open breaker's probe), else a
// *HeldError (matching ErrHeld) whose Until is when to try again: the
// delivery is held, not failed (do not count it as an attempt).
func (s *SinkBreaker) Allow(ctx context.Context) error {
	held := s.w.breakers.allow(s.sink, s.timeout)
	if held == nil || s.w.answeredElsewhere(ctx, held) {
		return nil
	}
	return held
}

// Report records the outcome of a delivery Allow let through: nil or an
// answer about the delivery closes a half-open breaker (and releases what
// is held for the sink: OnAnswered), an Unreachable error counts towards
// opening it, a MisconfiguredError is recorded for health.
func (s *SinkBreaker) Report(err error) {
	sink := s.sink
	var ue *UnreachableError
	var me *MisconfiguredError
	if errors.As(err, &ue) && ue.Sink != "" {
		sink = ue.Sink
	} else if errors.As(err, &me) && me.Sink != "" {
		sink = me.Sink
	}
	s.w.breakers.report(sink, err)
}

// Retry returns when a delivery that was held (Allow's error) or failed
// with a transport failure (ErrSinkDown, already reported) runs again:
// at the breaker's next probe, or, while it is still closed, after
// backoff for the sink's consecutive failures, at most
// BreakerConfig.OpenFor. It returns 0 for any other error, and when the
// breakers are disabled: the caller's own backoff applies.
func (s *SinkBreaker) Retry(err error, backoff Backoff) time.Duration {
	if s.w.breakers.cfg.Disable {
		return 0
	}
	var he *HeldError
	if asHeld(err, &he) {
		return max(he.Until.Sub(s.w.now()), time.Millisecond)
	}
	if !errors.Is(err, ErrSinkDown) {
		return 0
	}
	return s.w.breakers.sinkDelay(s.sink, backoff)
}

// OnAnswered calls f (outside the worker's locks, on the goroutine of the
// delivery that found the sink answering) each time a probe of this
// worker closes the sink's breaker: whatever the caller held for the sink
// can run now. Register it once, before the worker starts.
func (s *SinkBreaker) OnAnswered(f func(at time.Time)) {
	bs := s.w.breakers
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.answered == nil {
		bs.answered = map[string][]func(time.Time){}
	}
	bs.answered[s.sink] = append(bs.answered[s.sink], f)
}
