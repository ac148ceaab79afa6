package sms

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/address"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/locale"
)

// Channel is the preference channel of SMS, and the suppression list's
// channel of numbers that opted out: a person mutes a kind of event on
// it, or picks immediate, batched or off for it (inbox.Defaults.SetChoice).
const Channel = "sms"

// DefaultQueue is the asynq queue of SMS inboxes unless Config.Policy
// names another.
const DefaultQueue = "tidings.sms"

// DefaultMaxRunes is the default Config.MaxRunes: one SMS segment of the
// GSM 7-bit alphabet.
const DefaultMaxRunes = 160

// Provider is one SMS service's API: package inbox/sms/twilio implements
// it for Twilio's Messages API, package inbox/sms/vonage for Vonage's SMS
// API; another service (MessageBird) fits behind the same two methods.
type Provider interface {
	// Name names the provider ("twilio"): the default Sink, the
	// suppression entries' source, the errors' prefix.
	Name() string
	// Send sends one message. A refusal is a *SendError whose Class says
	// what it means (ErrGone, ErrOptedOut, ErrUnauthorized,
	// ErrRateLimited with RetryAfter, ErrRejected; nil or ErrUnavailable
	// for an outage); any other error counts as no answer.
	Send(ctx context.Context, m Message) (Receipt, error)
}

// Recipient is a person an event may be texted to (see
// address.Recipient): ID as device.Register stored their numbers, their
// Locale, the Location of their batched windows.
type Recipient = address.Recipient

// RecipientsFunc returns who may be told of ev. It may return the actor,
// duplicates and people who muted SMS: the inbox drops them. An error is
// retried.
type RecipientsFunc = address.RecipientsFunc

// BatchingConfig makes an Inbox honour each recipient's delivery choice
// on its Channel (see address.BatchingConfig): a batched recipient's
// window goes out as one message to each number they have when it closes
// (less the suppressed).
type BatchingConfig = address.BatchingConfig

// Config configures an Inbox. Zero fields take the documented defaults.
type Config struct {
	// Provider sends the messages (twilio.New). Required.
	Provider Provider
	// Name is the inbox's name. Default "sms". It is part of task IDs and
	// ledger rows: renaming it re-delivers.
	Name string
	// Accepts selects the events to text. Default: every event. SMS
	// costs money per message: an app usually accepts a few kinds.
	Accepts inbox.Filter
	// Recipients says who may be told of an event. Required.
	Recipients RecipientsFunc
	// RecipientType is the actor type recipients' IDs are keys of: an
	// event's actor of this type is not told of their own act. Default
	// "users".
	RecipientType string
	// Channel is the preference channel consulted. Default Channel
	// ("sms").
	Channel string
	// Defaults are the app's defaults, critical kinds and default
	// delivery choices (see inbox.Defaults). Default nil: every kind on,
	// immediately.
	Defaults *inbox.Defaults
	// Catalog and Locale word the messages ("<domain>.<action>.title";
	// "digest.subject" and "<domain>.<action>.line" for a batch) in the
	// recipient's Locale, else in Locale. Default: a plain English
	// sentence per event.
	Catalog *locale.Catalog
	Locale  string
	// URL is the page of an event, appended to its message. Default nil:
	// none.
	URL func(ev activity.Event) string
	// MaxRunes cuts each message to this many characters. Default
	// DefaultMaxRunes (160, one segment); at most 1600 (Twilio's limit).
	MaxRunes int
	// Sink names the provider for the worker's circuit breaker. Default
	// "sms:" and the provider's name ("sms:twilio").
	Sink string
	// Policy is how the worker runs the inbox's jobs. Default: queue
	// DefaultQueue, retried by time for inbox.ChatRetryWindow (4 hours,
	// backoff 5s to 15 minutes) unless MaxRetry or RetryWindow is set.
	Policy inbox.Policy
	// Batching, when set, honours each recipient's delivery choice on
	// Channel: a batched recipient's events gather in a window of package
	// inbox/batch and go out as one message when it closes. Default nil:
	// everyone who wants the event gets it at once.
	Batching *BatchingConfig
	// Logger reports numbers removed. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of rate-limit waits. Default time.Now.
	Now func() time.Time
}

// Inbox texts events to people's phone numbers: an inbox.Inbox for the
// worker, the SMS Sender of package inbox/address. For each event it reads the recipients' numbers in the event's
// tenant (device.ListFor, kind device.Phone), leaves out the numbers on
// the suppression list (channel "sms": they texted STOP), words the
// message in each recipient's language and sends it through the Provider,
// once per number (two people sharing a number get one message).
//
// Each number gets an event at most once per successful send: a ledger
// row per (inbox, event, recipient and number) is claimed before the send
// and marked sent after it. The answers:
//
//   - accepted: sent;
//   - ErrGone (an invalid number, not a mobile): the number is removed
//     (device.Gone) and recorded as refused; the others go on;
//   - ErrOptedOut (STOP): the number is suppressed (reason unsubscribe)
//     and removed, and recorded as refused;
//   - ErrRateLimited: the job waits the provider's Retry-After
//     (inbox.RetryAfter), and later sends through the provider in this
//     process wait it too, without a request;
//   - ErrUnauthorized: inbox.Misconfigured (a dead letter at once saying
//     why, reported by the breaker);
//   - ErrRejected: refused for this message;
//   - ErrUnavailable (5xx, no answer): inbox.Unreachable of the Sink, so
//     the worker's breaker holds the deliveries through an outage and
//     each is sent once when the provider answers again.
type Inbox struct {
	*address.Inbox[string]
	cfg Config
}

// Each channel inbox has a column on the entry point's preference page.
var _ inbox.Channeled = (*Inbox)(nil)

// NewInbox checks cfg and returns the inbox.
func NewInbox(cfg Config) (*Inbox, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "sms.Config." + field, Reason: reason}
	}
	if cfg.Provider == nil {
		return nil, bad("Provider", "is nil: twilio.New makes one")
	}
	if cfg.Catalog == nil {
		cat, err := locale.New("en")
		if err != nil {
			return nil, err
		}
		cfg.Catalog = cat
	}
	if cfg.Locale == "" {
		cfg.Locale = cfg.Catalog.Fallback()
	}
	switch {
	case cfg.MaxRunes == 0:
		cfg.MaxRunes = DefaultMaxRunes
	case cfg.MaxRunes < 20 || cfg.MaxRunes > 1600:
		return nil, bad("MaxRunes", "must be between 20 and 1600")
	}
	if cfg.Sink == "" {
		cfg.Sink = "sms:" + cfg.Provider.Name()
	}
	in := &Inbox{cfg: cfg}
	core, err := address.NewInbox(address.Config[string]{Package: "sms", Kind: device.Phone, Sender: texter{in}, Suppressed: true,
		Name: cfg.Name, Accepts: cfg.Accepts, Recipients: cfg.Recipients, RecipientType: cfg.RecipientType, Channel: cfg.Channel,
		Defaults: cfg.Defaults, Locale: cfg.Locale, Sink: cfg.Sink, Policy: cfg.Policy, Batching: cfg.Batching, Logger: cfg.Logger, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	in.Inbox = core
	return in, nil
}

// texter is the SMS Sender of the address core: the body is worded once
// per recipient and sent to each of their numbers.
type texter struct{ in *Inbox }

func (t texter) Render(loc string, ev activity.Event) (string, error) {
	link := ""
	if t.in.cfg.URL != nil {
		link = t.in.cfg.URL(ev)
	}
	return Text(t.in.cfg.Catalog, loc, ev, link, t.in.cfg.MaxRunes), nil
}

func (t texter) RenderBatch(loc string, events []activity.Event) (string, error) {
	return BatchText(t.in.cfg.Catalog, loc, events, t.in.cfg.MaxRunes), nil
}

// Send sends body to one number through the Provider, in the context's
// tenant (its status callback names it).
func (t texter) Send(ctx context.Context, to device.Address, body string) error {
	name := t.in.cfg.Provider.Name()
	_, err := t.in.cfg.Provider.Send(ctx, Message{To: to.Address, Body: body, Tenant: inbox.TenantOf(ctx)})
	if err == nil {
		return nil
	}
	var se *SendError
	if !errors.As(err, &se) {
		return &SendError{Provider: name, Err: err}
	}
	if se.Provider == "" {
		se.Provider = name
	}
	return err
}

// sentinels are the classes of the package's errors.
var sentinels = address.Sentinels{address.Gone: ErrGone, address.OptedOut: ErrOptedOut, address.Unauthorized: ErrUnauthorized, address.RateLimited: ErrRateLimited, address.Rejected: ErrRejected}

func (t texter) Classify(err error) address.Verdict {
	v := address.Verdict{Class: sentinels.Class(err)}
	var e *SendError
	if errors.As(err, &e) {
		v.RetryAfter = e.RetryAfter
		if v.Class == address.Unauthorized {
			v.Reason = e.Provider + " refuses the app's credentials or sender (HTTP " + strconv.Itoa(e.Status) + ", code " + e.Code +
				"): check the account, its token and the From number or messaging service"
		}
	}
	return v
}

// NumberKey is the ledger recipient of a text to one number of a person:
// their ID, "/", and 16 hex digits of the SHA-256 of the number (which is
// not repeated: the ledger outlives a person's erasure of their number).
// See address.Key.
func NumberKey(recipient, number string) string { return address.Key(recipient, number) }
