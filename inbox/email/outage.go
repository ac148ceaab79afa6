package email

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"log/slog"

	"github.com/tidingsdev/tidings/inbox"
)

// Sink names the SMTP server a Sender delivers to, for the worker's
// circuit breaker: "smtp://host:port".
func (s *Sender) Sink() string { return "smtp://" + s.cfg.Host + ":" + strconv.Itoa(s.cfg.Port) }

// Sink implements inbox.InboxWithSink: the Transport's sink when it names
// one (a *Sender does), else "" (no breaker).
func (in *Inbox) Sink() string {
	if s, ok := in.cfg.Transport.(interface{ Sink() string }); ok {
		return s.Sink()
	}
	return ""
}

// sendEach mails each recipient not suppressed, once: see Inbox.
func (in *Inbox) sendEach(ctx context.Context, d *inbox.Delivery, to []Recipient) error {
	addrs := make([]string, len(to))
	for i, r := range to {
		addrs[i] = r.Email
	}
	suppressed, err := inbox.Suppressed(ctx, d.DB, inbox.ChannelEmail, addrs)
	if err != nil {
		return err
	}
	sink := in.Sink()
	var temporary, permanent []error
	for _, r := range to {
		if s, ok := suppressed[r.Email]; ok {
			in.logger(d).LogAttrs(ctx, slog.LevelDebug, "email: recipient suppressed; not mailed", // Debug
				attr("recipient", r.Email), attr("reason", s.Reason))
			continue
		}
		msg, err := in.cfg.Builder.Build(ctx, d.Event, r)
		if err != nil {
			permanent = append(permanent, err) // a retry renders the same
			continue
		}
		_, err = d.SendTo(ctx, r.ID, func(ctx context.Context) error {
			return in.classify(in.cfg.Transport.Send(ctx, msg), sink)
		})
		var refused *inbox.RefusedError
		switch {
		case err == nil:
		case errors.As(err, &refused):
			in.refused(ctx, d, r, refused.Err)
		default:
			if errors.Is(err, inbox.ErrMisconfigured) {
				// The server refuses the configuration: every recipient
				// would be refused the same way; the job fails at once.
				return fmt.Errorf("email inbox %s: %w", in.cfg.Name, err)
			}
			temporary = append(temporary, err)
			if errors.Is(err, inbox.ErrSinkDown) {
				// The server is down: the other recipients would fail the
				// same way. The retry (or the breaker) takes them all.
				return sendResult(in.cfg.Name, temporary, permanent)
			}
		}
		if ctx.Err() != nil {
			temporary = append(temporary, ctx.Err())
			break
		}
	}
	return sendResult(in.cfg.Name, temporary, permanent)
}

// classify turns a Transport error into what the worker acts on: a
// refused configuration (SendError.Misconfigured) is an
// inbox.MisconfiguredError of sink, a 5xx is permanent (the recipient is refused), a server that did not answer (no
// reply code, or 421 "service not available") is a transport failure of
// sink, a 450-452 waits GreylistWait, anything else is retried with the
// backoff.
func (in *Inbox) classify(err error, sink string) error {
	if err == nil {
		return nil
	}
	var se *SendError
	if errors.As(err, &se) && se.Misconfigured != "" {
		return inbox.Misconfigured(sink, se.Misconfigured, err)
	}
	if IsPermanent(err) {
		return inbox.Permanent(err)
	}
	if errors.As(err, &se) {
		switch {
		case se.Code == 0 || se.Code == 421:
			if sink == "" {
				return err
			}
			return inbox.Unreachable(sink, err)
		case se.Code >= 450 && se.Code <= 452:
			return inbox.RetryAfter(in.cfg.GreylistWait, err)
		}
	}
	return err
}

// refused handles a recipient refused for good: the ledger has it as
// refused already; an answer saying the mailbox does not exist also puts
// the address on the suppression list.
func (in *Inbox) refused(ctx context.Context, d *inbox.Delivery, r Recipient, cause error) {
	in.logger(d).LogAttrs(ctx, slog.LevelWarn, "email: recipient refused for good; not retried", attr("recipient", r.Email), attr("error", cause.Error()))
	var se *SendError
	if !errors.As(cause, &se) || !hardBounce(se) {
		return
	}
	err := inbox.Suppress(context.WithoutCancel(ctx), d.DB, inbox.Suppression{
		Channel: inbox.ChannelEmail, Address: r.Email, Reason: inbox.ReasonHardBounce, Source: "smtp",
		Detail: fmt.Sprintf("%d %s %s", se.Code, se.EnhancedCode, se.Text),
	})
	if err != nil {
		in.logger(d).LogAttrs(ctx, slog.LevelError, "email: could not suppress a bounced address", attr("recipient", r.Email), attr("error", err.Error()))
	}
}

// hardBounce reports whether a 5xx says the address itself is bad: 550,
// 551, 553, or an enhanced status 5.1.x (RFC 3463 addressing status).
func hardBounce(se *SendError) bool {
	if strings.HasPrefix(se.EnhancedCode, "5.1.") {
		return true
	}
	return se.Code == 550 || se.Code == 551 || se.Code == 553
}

// Bounce is what a mail provider's bounce or complaint webhook reports
// about an address. RecordBounce is the hook to call from such a webhook
// handler (the app parses the provider's payload and checks its
// signature).
type Bounce struct {
	Address string
	// Kind is "hard" (the address does not exist), "soft" (a full
	// mailbox: ignored, the retry handles it) or "complaint".
	Kind     string
	Provider string // who reported it ("ses", "postmark", ...)
	Detail   string
}

// RecordBounce puts a hard bounce or a complaint on the suppression list,
// which every later send honours; a soft bounce changes nothing. It
// returns whether the address was suppressed.
func RecordBounce(ctx context.Context, db *gorm.DB, b Bounce) (bool, error) {
	reason := ""
	switch b.Kind {
	case "hard":
		reason = inbox.ReasonHardBounce
	case "complaint":
		reason = inbox.ReasonComplaint
	case "soft":
		return false, nil
	default:
		return false, fmt.Errorf("%w: Bounce.Kind %q is not one of hard, soft, complaint", ErrInvalidConfig, b.Kind)
	}
	err := inbox.Suppress(ctx, db, inbox.Suppression{Channel: inbox.ChannelEmail, Address: b.Address, Reason: reason, Source: b.Provider, Detail: b.Detail})
	return err == nil, err
}

func attr(k, v string) slog.Attr { return slog.String(k, v) }

func (in *Inbox) logger(d *inbox.Delivery) *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return in.log
}
