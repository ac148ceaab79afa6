package mobilepush

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinels for errors.Is on a failed push. A Provider classes each
// refusal into one of them (PushError.Class); every *PushError matches
// exactly one.
var (
	// ErrGone matches a device token the service no longer has (FCM
	// UNREGISTERED, HTTP 404; APNs 410 Unregistered, 400 BadDeviceToken):
	// the app was uninstalled or the token rotated. The inbox removes it
	// (device.Gone), so no later event tries it.
	ErrGone = errors.New("mobilepush: the device token is gone")
	// ErrUnauthorized matches the service refusing the app's credentials
	// (FCM 401/403 after a fresh OAuth token, a service account the token
	// endpoint refuses; APNs 403 InvalidProviderToken, a topic the key may
	// not push to): a misconfiguration.
	ErrUnauthorized = errors.New("mobilepush: credentials refused")
	// ErrRateLimited matches a 429 (FCM QUOTA_EXCEEDED, APNs
	// TooManyRequests); PushError.RetryAfter says how long to wait.
	ErrRateLimited = errors.New("mobilepush: rate limited")
	// ErrRejected matches a message the service refuses as it is
	// (another 4xx: too large, a bad field): a retry sends it the same way.
	ErrRejected = errors.New("mobilepush: message rejected")
	// ErrUnavailable matches a service that did not answer, or answered
	// 5xx: worth retrying (after PushError.RetryAfter when it said).
	ErrUnavailable = errors.New("mobilepush: service unavailable")
)

// PushError is a push the service did not accept. Its text names the
// provider and its reason, never the device token.
type PushError struct {
	Provider string // "fcm", "apns"
	Status   int    // the HTTP status, 0 when there was no answer
	// Reason is the service's error ("UNREGISTERED", "BadDeviceToken"),
	// Message its text when it sent one.
	Reason, Message string
	// RetryAfter is the wait the service asked for (a 429's or a 503's
	// Retry-After).
	RetryAfter time.Duration
	// Class is the sentinel the error matches; nil: ErrUnavailable.
	Class error
	Err   error // the transport error when there was no answer
}

func (e *PushError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: push: ", e.Provider)
	if e.Status == 0 {
		fmt.Fprintf(&b, "no answer: %v", e.Err)
		return b.String()
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Reason != "" {
		fmt.Fprintf(&b, " %s", e.Reason)
	}
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
func (e *PushError) Is(target error) bool {
	if e.Class == nil {
		return target == ErrUnavailable
	}
	return target == e.Class
}
