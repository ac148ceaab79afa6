package inbox

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// WindowMaxRetry is Policy.MaxRetry's default for an inbox with a
// RetryWindow: asynq's own count is then only a safety net (held attempts
// count there too), the window decides.
const WindowMaxRetry = 100000

// Retry windows of the channel inboxes (their packages' defaults).
const (
	// EmailRetryWindow: MTAs retry for days; a day is the usual bound for
	// notification mail (Postfix's maximal_queue_lifetime is 5 days).
	EmailRetryWindow = 24 * time.Hour
	// ChatRetryWindow: Slack, webhooks. A chat message hours late is still
	// worth posting; a day late, rarely.
	ChatRetryWindow = 4 * time.Hour
	// InAppRetryWindow: in-app notifications fail only when the database
	// does; minutes cover a failover.
	InAppRetryWindow = 15 * time.Minute
)

// WindowError is the final error of a delivery whose retry window ran out.
type WindowError struct {
	Window   time.Duration
	Since    time.Time // first counted failure
	Failures int
	Err      error // the last failure
}

func (e *WindowError) Error() string {
	return fmt.Sprintf("inbox: gave up after %d failures over %s (retry window %s): %v",
		e.Failures, time.Since(e.Since).Round(time.Second), e.Window, e.Err)
}
func (e *WindowError) Unwrap() error { return e.Err }

// outages is the worker's middleware for the breakers and retry windows:
// it holds a delivery whose sink's breaker is open (without running it),
// reports each outcome to the breaker, and decides, for an inbox with a
// RetryWindow, when a failure is final.
func (w *Worker) outages(p Policy, sink string) Middleware {
	return func(next ProcessFunc) ProcessFunc {
		return func(ctx context.Context, d *Delivery) error {
			if held := w.breakers.allow(sink, 2*p.Timeout); held != nil && !w.answeredElsewhere(ctx, held) {
				return held
			}
			d.answered = func(s string) { w.breakers.report(s, nil) }
			err := next(ctx, d)
			if errors.Is(err, ErrStopping) && !IsPermanent(err) {
				return err // handed back at a graceful stop: no outcome of the sink's
			}
			s := sink
			var ue *UnreachableError
			var me *MisconfiguredError
			if errors.As(err, &ue) && ue.Sink != "" {
				s = ue.Sink
			} else if errors.As(err, &me) && me.Sink != "" {
				s = me.Sink
			}
			named := sinkErrors(err)
			for _, se := range named {
				w.breakers.report(sinkOf(se), se)
			}
			if len(named) == 0 {
				w.breakers.report(s, err)
			}
			if err == nil || IsPermanent(err) {
				return err
			}
			if s != "" && !w.breakers.cfg.Disable && errors.Is(err, ErrSinkDown) {
				// The breaker holds the sink's deliveries when it is down:
				// its transport failures do not spend the window, and are
				// retried at the sink's next probe, not after a backoff
				// that asynq's count (held attempts included) would grow.
				if _, asked := retryAfter(err); !asked {
					err = RetryAfter(w.breakers.sinkDelay(s, p.Backoff), err)
				}
				return err
			}
			if p.RetryWindow <= 0 {
				return err
			}
			since, failures, ok := w.countFailure(ctx, d)
			if !ok {
				// No pending row (Pending.Disable, or the relay's batch not
				// committed yet): fall back on asynq's count.
				failures, since = d.Attempt, w.now()
				if d.Attempt > p.windowRetries() {
					return Permanent(&WindowError{Window: p.RetryWindow, Since: w.now().Add(-p.RetryWindow), Failures: failures, Err: err})
				}
			} else if w.now().Sub(since) >= p.RetryWindow {
				return Permanent(&WindowError{Window: p.RetryWindow, Since: since, Failures: failures, Err: err})
			}
			if _, asked := retryAfter(err); !asked {
				err = RetryAfter(p.Backoff(failures), err)
			}
			return err
		}
	}
}

// countFailure counts a failure of d in its pending row and returns the
// row's first counted failure and count.
func (w *Worker) countFailure(ctx context.Context, d *Delivery) (time.Time, int, bool) {
	var rows []struct {
		FailedSince time.Time
		Failures    int
	}
	ref := d.Event.Ref()
	err := w.db.WithContext(context.WithoutCancel(ctx)).Raw(`UPDATE `+PendingTable+` SET failed_since = coalesce(failed_since, ?), failures = failures + 1
WHERE domain = ? AND event_id = ? AND inbox = ? RETURNING failed_since, failures`, w.now(), ref.Domain, ref.ID, d.Inbox).Scan(&rows).Error
	if err != nil || len(rows) != 1 {
		return time.Time{}, 0, false
	}
	return rows[0].FailedSince, rows[0].Failures, true
}

// windowRetries is how many retries the backoff makes within the window,
// without jitter: the fallback count when a delivery has no pending row.
func (p Policy) windowRetries() int {
	var total time.Duration
	n := 0
	for total < p.RetryWindow && n < WindowMaxRetry {
		n++
		total += p.Backoff(n)
	}
	return n
}

// sinkErrors returns the first UnreachableError and MisconfiguredError of
// each sink named in err's tree, so that a job delivering to several
// sinks (webhook subscriptions, a rule engine running several webhook
// actions) reports each to its own breaker. It also looks into errors
// that keep such an error without unwrapping to it (a SinkErrors() []error
// method: a rule engine's permanent error riding along a retried job,
// which must not make the job permanent).
func sinkErrors(err error) []error {
	var out []error
	seen := map[string]bool{}
	var walk func(error, int)
	walk = func(e error, depth int) {
		if e == nil || depth > 64 {
			return
		}
		if s := sinkOf(e); s != "" {
			if !seen[s] {
				seen[s] = true
				out = append(out, e)
			}
			return
		}
		if h, ok := e.(interface{ SinkErrors() []error }); ok {
			for _, c := range h.SinkErrors() {
				walk(c, depth+1)
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c, depth+1)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap(), depth+1)
		}
	}
	walk(err, 0)
	return out
}

// sinkOf is the sink an UnreachableError or MisconfiguredError names, ""
// for any other error.
func sinkOf(err error) string {
	switch e := err.(type) {
	case *UnreachableError:
		return e.Sink
	case *MisconfiguredError:
		return e.Sink
	}
	return ""
}
