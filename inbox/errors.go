package inbox

import (
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Sentinel errors. Most are returned inside a typed error carrying the
// details: test with errors.Is, read the details with errors.As.
var (
	// ErrInvalidConfig is returned (inside a *ConfigError) by constructors
	// given a configuration that cannot work.
	ErrInvalidConfig = errors.New("inbox: invalid configuration")

	// ErrPermanent matches an error that must not be retried: Permanent
	// wraps one. The job fails at once and becomes a dead letter.
	ErrPermanent = errors.New("inbox: permanent failure")

	// ErrInFlight is returned (inside a *InFlightError wrapped with
	// RetryAfter) by Ledger.Claim when another attempt claimed the same
	// delivery less than the claim timeout ago and has not finished.
	ErrInFlight = errors.New("inbox: delivery in flight")

	// ErrUnknownInbox is returned when a job names an inbox this worker
	// does not run (a rolling deploy, a removed inbox). It is retried, so
	// a worker that knows the inbox can take it.
	ErrUnknownInbox = errors.New("inbox: unknown inbox")

	// ErrUnknownDomain is returned when an event's domain is not among the
	// worker's Domains. It is retried, like ErrUnknownInbox.
	ErrUnknownDomain = errors.New("inbox: unknown domain")

	// ErrPanic matches the error a panicking Process is turned into (a
	// *PanicError). A panic is retried like any error.
	ErrPanic = errors.New("inbox: panic in Process")

	// ErrDeadLetterNotFound is returned when re-driving a dead letter that
	// is not recorded.
	ErrDeadLetterNotFound = errors.New("inbox: dead letter not found")
)

// ConfigError reports a configuration field that cannot work.
type ConfigError struct {
	Field  string // Config.DB, Inbox.Name, Policy.MaxRetry ...
	Reason string
}

func (e *ConfigError) Error() string        { return fmt.Sprintf("inbox: %s %s", e.Field, e.Reason) }
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// PermanentError marks an error that retrying cannot fix (a refused
// recipient, a malformed event, a loop stopped by the causation depth). The
// worker does not retry it: the job goes straight to the dead letters.
type PermanentError struct {
	Err error
}

// Permanent wraps err so that the worker does not retry it. Permanent(nil)
// is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	var p *PermanentError
	if errors.As(err, &p) {
		return err
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err, or an error it wraps, is permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrPermanent) hold, and errors.Is(err,
// asynq.SkipRetry), which is how asynq learns not to retry.
func (e *PermanentError) Is(target error) bool {
	return target == ErrPermanent || target == asynq.SkipRetry
}

// RetryAfterError asks for the next attempt no sooner than Delay from now:
// a rate-limited API's Retry-After, or a claim still in flight. The
// worker's retry delay honours it instead of the inbox's backoff; the retry
// still counts against Policy.MaxRetry.
type RetryAfterError struct {
	Delay time.Duration
	Err   error
}

// RetryAfter wraps err so that the next attempt waits d. A d of zero or
// less means the inbox's usual backoff. RetryAfter(d, nil) is nil.
func RetryAfter(d time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &RetryAfterError{Delay: d, Err: err}
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %v)", e.Err, e.Delay)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// retryAfter returns the delay an error asks for, if it asks for one.
func retryAfter(err error) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.Delay > 0 {
		return ra.Delay, true
	}
	return 0, false
}

// InFlightError reports a delivery another attempt claimed and has not
// marked sent or released yet.
type InFlightError struct {
	Key       Key
	ClaimedAt time.Time
	Attempts  int
}

func (e *InFlightError) Error() string {
	return fmt.Sprintf("inbox: %s was claimed at %s by another attempt that has not finished; retrying later", e.Key, e.ClaimedAt.Format(time.RFC3339Nano))
}
func (e *InFlightError) Is(target error) bool { return target == ErrInFlight }

// PanicError is a panic recovered from Process, with its stack.
type PanicError struct {
	Inbox string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("inbox %s: panic: %v", e.Inbox, e.Value)
}
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// UnknownError reports a job for an inbox or a domain this worker does not
// have. errors.Is(err, ErrUnknownInbox) or ErrUnknownDomain holds.
type UnknownError struct {
	What string // "inbox" or "domain"
	Name string
	Have []string
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("inbox: this worker has no %s %q (it has %v); leaving the job for a worker that does", e.What, e.Name, e.Have)
}
func (e *UnknownError) Is(target error) bool {
	return (e.What == "inbox" && target == ErrUnknownInbox) || (e.What == "domain" && target == ErrUnknownDomain)
}
