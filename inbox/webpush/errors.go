package webpush

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinels for errors.Is on a failed push. Every *PushError matches
// exactly one of them.
var (
	// ErrGone matches a subscription its push service no longer has
	// (HTTP 404, 410): the browser unsubscribed or the subscription
	// expired. The inbox removes it (device.Gone), so no later event
	// tries it.
	ErrGone = errors.New("webpush: the subscription is gone")
	// ErrUnauthorized matches a push service refusing the app's VAPID
	// token or key (HTTP 401, 403): the keys changed since the browser
	// subscribed, or the token is malformed.
	ErrUnauthorized = errors.New("webpush: VAPID refused")
	// ErrRateLimited matches a 429; PushError.RetryAfter says how long to
	// wait.
	ErrRateLimited = errors.New("webpush: rate limited")
	// ErrRejected matches a message the push service refuses (another
	// 4xx: 400, 413 payload too large): a retry sends it the same way.
	ErrRejected = errors.New("webpush: message rejected")
	// ErrUnavailable matches a push service that did not answer, or
	// answered 5xx or 408: worth retrying.
	ErrUnavailable = errors.New("webpush: push service unavailable")
)

// PushError is a push the push service did not accept. Its text names
// the push service's origin, never the endpoint (whose path identifies
// the browser).
type PushError struct {
	Host   string // the push service's scheme and host
	Status int    // the HTTP status, 0 when there was no answer
	// Message is the start of the push service's answer, when it sent one.
	Message string
	// RetryAfter is the wait a rate limit asked for (ErrRateLimited).
	RetryAfter time.Duration
	Err        error // the transport error when there was no answer
}

func (e *PushError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "webpush: push to %s: ", e.Host)
	if e.Status == 0 {
		fmt.Fprintf(&b, "no answer: %v", e.Err)
		return b.String()
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Message != "" {
		fmt.Fprintf(&b, " %.200q", e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	return b.String()
}

func (e *PushError) Unwrap() error { return e.Err }

// Is matches the error's class (see the sentinels).
func (e *PushError) Is(target error) bool { return target == e.class() }

func (e *PushError) class() error {
	switch {
	case e.Status == http.StatusTooManyRequests:
		return ErrRateLimited
	case e.Status == http.StatusNotFound || e.Status == http.StatusGone:
		return ErrGone
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return ErrUnauthorized
	case e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout:
		return ErrRejected
	}
	return ErrUnavailable
}
