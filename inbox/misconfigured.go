package inbox

import (
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
)

// ErrMisconfigured matches the error of a delivery whose sink answered but
// refused the app's configuration of it: an SMTP server without STARTTLS
// while TLS is mandatory, a refused login, a refused sender address, a
// certificate the client does not trust. Misconfigured wraps one.
var ErrMisconfigured = errors.New("inbox: the sink refuses the configuration")

// MisconfiguredError is a configuration failure, not an outage: the sink
// is up, and every delivery would be refused the same way until the
// configuration (or the sink's) changes. The worker neither holds nor
// retries it: the job becomes a dead letter at once, whose last error says
// why (re-drive it once the configuration is fixed; the recipients were
// not marked refused); the sink's breaker records Reason
// (BreakerState.Misconfigured), which the worker publishes and health
// checks report as down.
type MisconfiguredError struct {
	Sink string
	// Reason says what does not fit and what to change, in the library's
	// words (never the sink's reply text, which Err keeps): it is
	// published to Redis with the worker's status.
	Reason string
	Err    error
}

// Misconfigured wraps err, a sink's refusal of the configuration, with
// reason. Misconfigured(_, _, nil) is nil.
func Misconfigured(sink, reason string, err error) error {
	if err == nil {
		return nil
	}
	return &MisconfiguredError{Sink: sink, Reason: reason, Err: err}
}

func (e *MisconfiguredError) Error() string {
	return fmt.Sprintf("%s refuses the configuration: %s: %v", e.Sink, e.Reason, e.Err)
}
func (e *MisconfiguredError) Unwrap() error { return e.Err }

// Is makes the error match ErrMisconfigured, and ErrPermanent and
// asynq.SkipRetry: retrying cannot fix it.
func (e *MisconfiguredError) Is(target error) bool {
	return target == ErrMisconfigured || target == ErrPermanent || target == asynq.SkipRetry
}
