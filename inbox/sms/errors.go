package sms

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinels for errors.Is on a failed send. A Provider classes each
// refusal into one of them (SendError.Class); every *SendError matches
// exactly one.
var (
	// ErrGone matches a number that cannot receive SMS (Twilio 21211
	// invalid To, 21614 not a mobile number, 21635 a landline; a
	// delivery report of an unknown handset or a landline): the inbox
	// removes it (device.Gone), so no later event tries it.
	ErrGone = errors.New("sms: the number cannot receive messages")
	// ErrOptedOut matches a number whose owner texted STOP to the sender
	// (Twilio 21610): the number goes on the suppression list (channel
	// "sms", reason unsubscribe) and is removed (device.Gone). Carriers
	// require that it is not sent to until its owner opts in again (the
	// app then calls inbox.Unsuppress).
	ErrOptedOut = errors.New("sms: the recipient opted out (STOP)")
	// ErrUnauthorized matches a provider refusing the app's credentials
	// or sender (Twilio 20003, HTTP 401 or 403; a From number that cannot
	// send SMS): a misconfiguration, not a property of the recipient.
	ErrUnauthorized = errors.New("sms: credentials or sender refused")
	// ErrRateLimited matches a 429 (Twilio 20429); SendError.RetryAfter
	// says how long to wait.
	ErrRateLimited = errors.New("sms: rate limited")
	// ErrRejected matches a message the provider refuses as it is
	// (another 4xx): a retry sends it the same way.
	ErrRejected = errors.New("sms: message rejected")
	// ErrUnavailable matches a provider that did not answer, or answered
	// 5xx or 408: worth retrying.
	ErrUnavailable = errors.New("sms: provider unavailable")
)

// SendError is a message the provider did not accept. Its text names the
// provider and its code, never the number (a person's data).
type SendError struct {
	Provider string // "twilio"
	Status   int    // the HTTP status, 0 when there was no answer
	// Code and Message are the provider's error code and text ("21211",
	// "The 'To' number is not a valid phone number.").
	Code, Message string
	// RetryAfter is the wait a rate limit asked for (ErrRateLimited).
	RetryAfter time.Duration
	// Class is the sentinel the error matches (ErrGone, ErrOptedOut, ...);
	// nil: ErrUnavailable.
	Class error
	Err   error // the transport error when there was no answer
}

func (e *SendError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: send: ", e.Provider)
	if e.Status == 0 {
		fmt.Fprintf(&b, "no answer: %v", e.Err)
		return b.String()
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
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

func (e *SendError) Unwrap() error { return e.Err }

// Is matches the error's class (see the sentinels).
func (e *SendError) Is(target error) bool {
	if e.Class == nil {
		return target == ErrUnavailable
	}
	return target == e.Class
}
