package inbox

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tidingsdev/tidings/activity"
)

// jobError is the error the worker hands asynq for a failed job. asynq
// stores its text with the task in Redis (last_err in the task's hash,
// kept with a retrying job and an archived one for days), where an
// erasure cannot reach it; an inbox's error often names a person (an SMTP
// reply "550 <ana@example.com> unknown", a webhook's response echoing a
// name). So the text asynq gets says only which delivery failed and what
// kind of failure it was, and the full error stays in the process and in
// PostgreSQL: the dead letter records it (inbox_dead_letters.last_error),
// the ledger keeps each recipient's (inbox_deliveries.last_error), the
// worker's Logging middleware logs it; erasure masks both tables.
//
// It wraps the inbox's error, so errors.Is and errors.As see through it:
// asynq.SkipRetry (Permanent), asynq.RevokeTask, a RetryAfterError's delay
// and asynq's IsFailure all work as on the error itself.
type jobError struct {
	err  error
	text string
}

func (e *jobError) Error() string { return e.text }
func (e *jobError) Unwrap() error { return e.err }

// redact wraps err, the outcome of a job of inbox for ev (ev.ID 0: a job
// whose event is not known), for asynq. nil stays nil.
func redact(inbox string, ev activity.EventRef, err error) error {
	if err == nil {
		return nil
	}
	var je *jobError
	if errors.As(err, &je) {
		return err
	}
	what := "a job"
	if ev.ID != 0 {
		what = ev.String()
	}
	return &jobError{err: err, text: fmt.Sprintf("inbox %s, %s: %s (the error's text is not kept in Redis: see the dead letter, inbox_deliveries or the worker's log)", inbox, what, errorKind(err))}
}

// redactTask is redact for a task of Config.Tasks, of type typ: its error's
// text is in the worker's log only.
func redactTask(typ string, err error) error {
	if err == nil {
		return nil
	}
	var je *jobError
	if errors.As(err, &je) {
		return err
	}
	return &jobError{err: err, text: fmt.Sprintf("task %s: %s (the error's text is not kept in Redis: see the worker's log)", typ, errorKind(err))}
}

// fullError returns the text of the error an inbox returned, under the
// redaction asynq sees.
func fullError(err error) string {
	var je *jobError
	if errors.As(err, &je) {
		return je.err.Error()
	}
	return err.Error()
}

// The kinds of a held attempt and of a sink's transport failure, as asynq
// keeps them: releaseHeld looks for them.
const (
	kindHeld        = "held: its sink is down"
	kindUnreachable = "its sink is unreachable"
)

// errorKind describes err from its types and sentinels only (never its
// text, nor a sink's name: a webhook's host may name someone): what the
// worker's typed errors say about it, and the Go type of the first error in
// its chain that is not one of them or plain text.
func errorKind(err error) string {
	var parts []string
	var (
		win     *WindowError
		held    *HeldError
		down    *UnreachableError
		unknown *UnknownError
		ra      *RetryAfterError
		mis     *MisconfiguredError
	)
	switch {
	case errors.Is(err, ErrPanic):
		parts = append(parts, "panic in Process")
	case errors.Is(err, ErrStopping):
		parts = append(parts, "handed back: the worker was stopping")
	case errors.As(err, &unknown):
		parts = append(parts, unknown.Error())
	case errors.As(err, &win):
		parts = append(parts, fmt.Sprintf("gave up after %d failures (retry window %s)", win.Failures, win.Window))
	case errors.As(err, &held):
		parts = append(parts, kindHeld)
	case errors.As(err, &down):
		parts = append(parts, kindUnreachable)
	case errors.As(err, &mis):
		parts = append(parts, "its sink refuses the configuration: "+mis.Reason)
	case errors.Is(err, ErrInFlight):
		parts = append(parts, "claimed by another attempt that has not finished")
	case errors.Is(err, activity.ErrCausationDepth):
		parts = append(parts, "causation depth exceeded")
	case errors.Is(err, context.DeadlineExceeded):
		parts = append(parts, "timed out")
	case errors.Is(err, context.Canceled):
		parts = append(parts, "canceled")
	default:
		parts = append(parts, "failed")
	}
	if IsPermanent(err) && win == nil && mis == nil {
		parts = append(parts, "permanent")
	}
	if t := errorType(err); t != "" {
		parts = append(parts, t)
	}
	if errors.As(err, &ra) && ra.Delay > 0 {
		parts = append(parts, "retry after "+ra.Delay.String())
	}
	return strings.Join(parts, ", ")
}

// errorType returns the Go type of the first error in err's chain (first
// branches of joined errors) that is not a plain wrapper or text, "" when
// there is none.
func errorType(err error) string {
	for err != nil {
		switch err.(type) {
		case *jobError, *PermanentError, *RetryAfterError, *WindowError, *UnreachableError, *MisconfiguredError,
			*HeldError, *UnknownError, *InFlightError, *PanicError, *StoppingError:
		default:
			if t := fmt.Sprintf("%T", err); !plainError(t) {
				return t
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			if es := u.Unwrap(); len(es) > 0 {
				err = es[0]
			} else {
				err = nil
			}
		default:
			err = nil
		}
	}
	return ""
}

// plainError reports whether type name t is an error made from text
// (errors.New, fmt.Errorf, errors.Join): its type says nothing.
func plainError(t string) bool {
	switch t {
	case "*errors.errorString", "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError":
		return true
	}
	return false
}
