package chat

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinels for errors.Is on a failed post. Every *PostError matches
// exactly one of them.
var (
	// ErrGone matches a webhook that no longer exists or whose token is
	// wrong (HTTP 401, 404, 410): no retry can reach it. The inbox puts
	// it on the suppression list, so later events do not try it, and
	// fails its deliveries as misconfigured until the route changes.
	ErrGone = errors.New("chat: the webhook is gone")
	// ErrForbidden matches a webhook that refuses us (HTTP 403).
	ErrForbidden = errors.New("chat: the webhook refuses the post")
	// ErrRateLimited matches a 429 (or a rate limit the provider reports
	// another way); PostError.RetryAfter says how long to wait.
	ErrRateLimited = errors.New("chat: rate limited")
	// ErrRejected matches a message the provider refuses (another 4xx):
	// a retry sends the same message and is refused the same way.
	ErrRejected = errors.New("chat: message rejected")
	// ErrUnavailable matches a provider that did not answer, or answered
	// 5xx or 408: worth retrying.
	ErrUnavailable = errors.New("chat: provider unavailable")
)

// PostError is a post the provider did not accept. Its text names the
// provider and the webhook's host, never the webhook's URL (a secret).
type PostError struct {
	Provider string // "discord", "teams"
	Host     string // the webhook's scheme and host
	Status   int    // the HTTP status, 0 when there was no answer
	// Code and Message are the provider's error code and text when it
	// sent them ("10015", "Unknown Webhook").
	Code, Message string
	// RetryAfter is the wait a rate limit asked for (ErrRateLimited).
	RetryAfter time.Duration
	Err        error // the transport error when there was no answer
}

func (e *PostError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: post to %s: ", e.Provider, e.Host)
	switch {
	case e.Status == 0:
		fmt.Fprintf(&b, "no answer: %v", e.Err)
		return b.String()
	case e.Status >= 200 && e.Status < 300:
		b.WriteString("accepted but refused")
	default:
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, " %.200q", e.Message)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (code %s)", e.Code)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	return b.String()
}

func (e *PostError) Unwrap() error { return e.Err }

// Is matches the error's class (see the sentinels).
func (e *PostError) Is(target error) bool { return target == e.class() }

func (e *PostError) class() error {
	switch {
	case e.RetryAfter > 0 || e.Status == http.StatusTooManyRequests:
		return ErrRateLimited
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusNotFound || e.Status == http.StatusGone:
		return ErrGone
	case e.Status == http.StatusForbidden:
		return ErrForbidden
	case e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout:
		return ErrRejected
	case e.Status >= 200 && e.Status < 300:
		return ErrRejected
	}
	return ErrUnavailable
}

// ParseRetryAfter reads an HTTP Retry-After value: delay-seconds (a
// fraction is allowed, as Discord sends) or an HTTP date, relative to
// now. It reports false for a missing or unreadable value.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || s > 7*24*3600 {
			return 0, false
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
