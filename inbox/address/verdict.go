package address

import (
	"errors"
	"time"
)

// Class is what a provider's answer to one send means for the core: the
// channel's Sender.Classify says which.
type Class int

// The classes of a failed send.
const (
	// Unavailable: no answer, 5xx, 408: a transport failure of the
	// address's sink (inbox.Unreachable), held by the breaker and retried
	// by time; Verdict.RetryAfter is waited when the service asked.
	Unavailable Class = iota
	// Gone: the address no longer exists (web push 404/410, FCM
	// UNREGISTERED, APNs Unregistered, a number that cannot receive): it
	// is removed (device.Gone) and the send recorded as refused.
	Gone
	// OptedOut: the address's owner opted out at the provider (SMS STOP):
	// the address is suppressed on the channel (reason unsubscribe), then
	// removed as Gone.
	OptedOut
	// Unauthorized: the provider refuses the app's credentials or sender:
	// inbox.Misconfigured of the sink, with Verdict.Reason.
	Unauthorized
	// RateLimited: the provider asked to wait Verdict.RetryAfter (a
	// minute when it gave none); later sends to the same sink in this
	// process wait it too, without a request.
	RateLimited
	// Rejected: the provider refuses this message for this address (a
	// 4xx): recorded as refused; a retry would send it the same way.
	Rejected
)

// Verdict is a channel's reading of a failed send.
type Verdict struct {
	Class Class
	// RetryAfter is the wait the provider asked for (RateLimited,
	// Unavailable with a Retry-After).
	RetryAfter time.Duration
	// Reason says what to check when the provider refuses the app
	// (Unauthorized): the misconfiguration's text.
	Reason string
}

// Sentinels are a channel's error sentinels by the class each means
// (webpush.ErrGone for Gone, ...): Class reads an error by them.
type Sentinels map[Class]error

// Class is the class of the sentinel err matches (errors.Is),
// Unavailable when it matches none.
func (s Sentinels) Class(err error) Class {
	for c, sentinel := range s {
		if errors.Is(err, sentinel) {
			return c
		}
	}
	return Unavailable
}
