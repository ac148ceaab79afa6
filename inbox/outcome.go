package inbox

import "errors"

// ErrHeld matches an error saying a delivery was held back on purpose
// (a circuit breaker open on its sink): the attempt did not fail at the
// sink, it was not tried. Wrap it (with RetryAfter for the delay) so
// metrics and traces report the attempt as held, not as a failure; it is
// retried like any error, and its last attempt becomes a dead letter.
var ErrHeld = errors.New("inbox: delivery held back")

// Outcome is how one delivery attempt ended, as metrics and traces report
// it. The outcomes are exclusive.
type Outcome string

// The outcomes of a delivery attempt.
const (
	OutcomeDone       Outcome = "done"       // Process returned nil
	OutcomeSuppressed Outcome = "suppressed" // returned nil after Delivery.Suppress: nothing to deliver
	OutcomeRetried    Outcome = "retried"    // failed; will be retried
	OutcomeHeld       Outcome = "held"       // held back (ErrHeld), or handed back at a graceful stop (ErrStopping); will be retried
	OutcomeDead       Outcome = "dead"       // failed for good (permanent, or the last attempt): a dead letter
)

// Outcomes lists every Outcome, for exporters that want each series to
// exist from the start.
var Outcomes = []Outcome{OutcomeDone, OutcomeSuppressed, OutcomeRetried, OutcomeHeld, OutcomeDead}

// OutcomeOf classifies the end of attempt d that returned err.
func OutcomeOf(d *Delivery, err error) Outcome {
	switch {
	case err == nil && d.suppressed:
		return OutcomeSuppressed
	case err == nil:
		return OutcomeDone
	case IsPermanent(err) || d.LastAttempt():
		return OutcomeDead
	case errors.Is(err, ErrHeld), errors.Is(err, ErrStopping): // ErrStopping: handed back at a graceful stop
		return OutcomeHeld
	default:
		return OutcomeRetried
	}
}

// Suppress marks the delivery as one the inbox chose not to make: every
// recipient muted the action, or nobody was left to tell. The attempt still
// completes (return nil); metrics count it as suppressed, not done.
func (d *Delivery) Suppress() { d.suppressed = true }

// Suppressed reports whether Suppress was called.
func (d *Delivery) Suppressed() bool { return d.suppressed }
