package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
)

// EmailSender delivers one mail; *email.Sender (package inbox/email, SMTP)
// implements it.
type EmailSender interface {
	Send(ctx context.Context, m *email.Message) error
}

// EmailConfig configures the send_email action.
type EmailConfig struct {
	// Sender delivers the mails. Required.
	Sender EmailSender
	// From is the sender, "Tidings <workflow@example.com>". Required.
	From string
	// Host is the right-hand side of Message-IDs. Default: the domain of
	// From's address.
	Host string
	// CheckAddress, when set, decides at save time whether rules may mail
	// an address (only the company's domain, say): it returns nil or why
	// not.
	CheckAddress func(address string) error
	// Now dates the mails. Default time.Now.
	Now func() time.Time
}

// MaxEmailRecipients caps the send_email action's recipients.
const MaxEmailRecipients = 20

// emailAction is the built-in send_email: a plain-text mail to each
// listed address, each sent at most once per successful send (the
// deliveries ledger, per recipient), with a Message-ID that is the same on
// every attempt. Headers are encoded by package inbox/email (no CR or LF
// reaches a header). A 5xx refusal is permanent; anything else is retried.
func emailAction(cfg EmailConfig) Action {
	host := cfg.Host
	from, fromErr := mail.ParseAddress(cfg.From)
	if host == "" && fromErr == nil {
		if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
			host = from.Address[i+1:]
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return Action{
		Doc: "Send a plain-text email to each listed address.",
		Params: ParamSchema{
			"to":      {Type: ListOf(String), Required: true, Doc: "email addresses"},
			"subject": {Type: String, Required: true, Doc: "one line"},
			"body":    {Type: String, Required: true, Doc: "plain text"},
		},
		External: true,
		Check: func(_ context.Context, c CheckContext) []Problem {
			var ps []Problem
			to := c.Params.Strings("to")
			switch {
			case len(to) == 0:
				ps = append(ps, Problem{Field: "to", Message: "is empty: list at least one address"})
			case len(to) > MaxEmailRecipients:
				ps = append(ps, Problem{Field: "to", Message: fmt.Sprintf("has %d addresses; at most %d are allowed", len(to), MaxEmailRecipients)})
			}
			for i, addr := range to {
				a, err := mail.ParseAddress(addr)
				if err != nil || a.Address != addr {
					ps = append(ps, Problem{Field: index("to", i), Message: fmt.Sprintf("%s is not a bare address like ana@example.com", quote(addr))})
					continue
				}
				if cfg.CheckAddress != nil {
					if err := cfg.CheckAddress(addr); err != nil {
						ps = append(ps, Problem{Field: index("to", i), Message: fmt.Sprintf("%s may not be mailed: %v", quote(addr), err)})
					}
				}
			}
			if s := c.Params.String("subject"); strings.ContainsAny(s, "\r\n") || len(s) > 200 {
				ps = append(ps, Problem{Field: "subject", Message: "must be one line of at most 200 bytes"})
			}
			return ps
		},
		Run: func(ctx context.Context, ac ActionContext) (Result, error) {
			if fromErr != nil || cfg.Sender == nil {
				return Result{}, inbox.Permanent(fmt.Errorf("workflow: send_email is misconfigured: EmailConfig needs a Sender and a From address (%q: %v)", cfg.From, fromErr))
			}
			var sent []string
			for _, addr := range ac.Params.Strings("to") {
				m := &email.Message{
					From:      from,
					To:        email.Recipient{ID: addr, Email: addr},
					Subject:   ac.Params.String("subject"),
					Text:      ac.Params.String("body"),
					MessageID: emailMessageID(host, ac.IdempotencyKey, addr),
					Date:      cfg.Now(),
				}
				did, err := ac.SendOnce(ctx, strings.ToLower(addr), func(ctx context.Context) error { return cfg.Sender.Send(ctx, m) })
				if err != nil {
					if email.IsPermanent(err) {
						return Result{}, inbox.Permanent(err)
					}
					return Result{}, err
				}
				if did {
					sent = append(sent, addr)
				}
			}
			return Result{Summary: fmt.Sprintf("mailed %d addresses", len(sent)), Data: map[string]any{"sent": sent}}, nil
		},
	}
}

// emailMessageID is stable across attempts: the action's idempotency key
// and the (hashed) address.
func emailMessageID(host, key, addr string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(addr)))
	return key + "." + hex.EncodeToString(sum[:6]) + "@" + host
}
