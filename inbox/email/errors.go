package email

import (
	"errors"
	"fmt"
)

// Sentinels for errors.Is. Every error a Sender returns matches exactly one
// of ErrPermanent and ErrTemporary.
var (
	// ErrPermanent matches a delivery that must not be retried: the server
	// answered with a 5xx reply (unknown mailbox, policy refusal, failed
	// authentication). Retrying would send nothing or be refused again.
	ErrPermanent = errors.New("email: permanent delivery failure")

	// ErrTemporary matches a delivery worth retrying later: a 4xx reply
	// (mailbox busy, greylisting, server shutting down), a timeout, a
	// refused or dropped connection, or any failure without a reply code.
	ErrTemporary = errors.New("email: temporary delivery failure")

	// ErrNoTemplate matches a render for a (domain, action) that has no
	// registered template and no domain-wide AnyAction template.
	ErrNoTemplate = errors.New("email: no template registered")

	// ErrInvalidConfig matches a Config or BuilderConfig that cannot work.
	ErrInvalidConfig = errors.New("email: invalid configuration")

	// ErrInvalidRecipient matches a Recipient whose address cannot be mailed.
	ErrInvalidRecipient = errors.New("email: invalid recipient")
)

// SendError reports a failed delivery of one message.
//
// errors.Is(err, ErrPermanent) holds when Permanent is set, and
// errors.Is(err, ErrTemporary) otherwise.
type SendError struct {
	MessageID string // the message's Message-ID, without angle brackets
	Recipient string // the recipient's address

	// Code is the SMTP reply code that refused the message (550, 421, ...),
	// or 0 when no reply was involved (timeout, connection error).
	Code int
	// EnhancedCode is the RFC 3463 status ("5.1.1"), when the server sent one.
	EnhancedCode string
	// Text is the server's reply, or a description of the failure.
	Text string

	// Permanent is true for 5xx replies, and for a refused configuration:
	// the job must not be retried.
	Permanent bool
	// Misconfigured is set when the server answered but refused the
	// Sender's configuration, not this message or recipient: one of the
	// Misconfigured reasons (mandatory TLS without STARTTLS, a refused
	// login or sender address, an untrusted certificate).
	Misconfigured string

	Err error // the underlying error from the SMTP client
}

func (e *SendError) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	what := "sending"
	switch {
	case e.Recipient == checkRecipient:
		what = "checking the server" // Sender.Check: no message, no recipient
	default:
		if e.MessageID != "" {
			what += " " + e.MessageID
		}
		if e.Recipient != "" {
			what += " to " + e.Recipient
		}
	}
	if e.Code != 0 {
		return fmt.Sprintf("email: %s failure %s: server replied %d: %s", kind, what, e.Code, e.Text)
	}
	return fmt.Sprintf("email: %s failure %s: %s", kind, what, e.Text)
}

func (e *SendError) Unwrap() error { return e.Err }

func (e *SendError) Is(target error) bool {
	switch target {
	case ErrPermanent:
		return e.Permanent
	case ErrTemporary:
		return !e.Permanent
	}
	return false
}

// IsPermanent reports whether err is a delivery failure that must not be
// retried (a 5xx SMTP reply). A nil error, or any other error, is not.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// TemplateError reports a template that failed to parse, check or render.
type TemplateError struct {
	Domain string
	Action string
	Part   string // "subject", "text", "html", or "" for the whole template
	Err    error
}

func (e *TemplateError) Error() string {
	where := e.Domain + "/" + e.Action
	if e.Part != "" {
		where += " " + e.Part
	}
	return fmt.Sprintf("email: template %s: %v", where, e.Err)
}

func (e *TemplateError) Unwrap() error { return e.Err }
