package mobilepush

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

// Channel is the preference channel of mobile push (FCM and APNs alike):
// a person mutes a kind of event on it, or picks immediate, batched or
// off for it (inbox.Defaults.SetChoice).
const Channel = "mobilepush"

// DefaultQueue is the asynq queue of mobile push inboxes unless
// Config.Policy names another.
const DefaultQueue = "tidings.mobilepush"

// Provider is one push service: package inbox/mobilepush/fcm (Firebase
// Cloud Messaging HTTP v1) and inbox/mobilepush/apns (Apple's HTTP/2
// provider API) implement it.
type Provider interface {
	// Name names the provider ("fcm", "apns"): the default inbox name
	// and Sink, the errors' prefix.
	Name() string
	// Kind is the kind of device token it pushes to (device.FCM,
	// device.APNs): the inbox reads the recipients' tokens of that kind.
	Kind() device.Kind
	// Push sends m to the device token. A refusal is a *PushError whose
	// Class says what it means (ErrGone, ErrUnauthorized, ErrRateLimited,
	// ErrRejected; nil or ErrUnavailable for an outage, with RetryAfter
	// when the service said); any other error counts as no answer.
	Push(ctx context.Context, token string, m Message) error
}

// Recipient is a person an event may be pushed to (see
// address.Recipient): ID as device.Register stored their device tokens,
// their Locale, the Location of their batched windows.
type Recipient = address.Recipient

// RecipientsFunc returns who may be told of ev. It may return the actor,
// duplicates and people who muted mobile push: the inbox drops them. An
// error is retried.
type RecipientsFunc = address.RecipientsFunc

// BatchingConfig makes an Inbox honour each recipient's delivery choice
// on its Channel (see address.BatchingConfig): a batched recipient's
// window goes out as one notification to each device token they have
// when it closes.
type BatchingConfig = address.BatchingConfig

// Config configures an Inbox. Zero fields take the documented defaults.
type Config struct {
	// Provider pushes the messages (fcm.New, apns.New). Required. An app
	// with an Android and an iOS app makes one inbox for each.
	Provider Provider
	// Name is the inbox's name. Default the provider's name ("fcm",
	// "apns"). It is part of task IDs and ledger rows: renaming it
	// re-delivers.
	Name string
	// Accepts selects the events to push. Default: every event.
	Accepts inbox.Filter
	// Recipients says who may be told of an event. Required.
	Recipients RecipientsFunc
	// RecipientType is the actor type recipients' IDs are keys of: an
	// event's actor of this type is not told of their own act. Default
	// "users".
	RecipientType string
	// Channel is the preference channel consulted. Default Channel
	// ("mobilepush").
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
	// URL is the page or deep link a tap on an event's notification
	// opens. Default nil: none (the app opens its notification center).
	URL func(ev activity.Event) string
	// Sink names the provider for the worker's circuit breaker. Default
	// "mobilepush:" and the provider's name ("mobilepush:fcm").
	Sink string
	// Policy is how the worker runs the inbox's jobs. Default: queue
	// DefaultQueue, retried by time for inbox.ChatRetryWindow (4 hours,
	// backoff 5s to 15 minutes) unless MaxRetry or RetryWindow is set.
	Policy inbox.Policy
	// Batching, when set, honours each recipient's delivery choice on
	// Channel: a batched recipient's events gather in a window of package
	// inbox/batch and go out as one notification when it closes. Default nil:
	// everyone who wants the event gets it at once.
	Batching *BatchingConfig
	// Logger reports device tokens removed. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of rate-limit waits. Default time.Now.
	Now func() time.Time
}

// Inbox pushes events to people's phones through one push service: an
// inbox.Inbox for the worker, the mobile push Sender of package
// inbox/address. For each event it reads the recipients'
// device tokens of the provider's kind in the event's tenant
// (device.ListFor), words the notification in each recipient's language
// and pushes it to each token, once.
//
// Each token gets an event at most once per accepted push: a ledger row
// per (inbox, event, recipient and token) is claimed before the push and
// marked sent after it. The answers:
//
//   - accepted: sent;
//   - ErrGone (FCM UNREGISTERED, APNs Unregistered or BadDeviceToken):
//     the token is removed (device.Gone) so no later event tries it, and
//     recorded as refused; the other tokens go on;
//   - ErrRateLimited: the job waits the service's Retry-After
//     (inbox.RetryAfter; a minute when it gave none), and later pushes in
//     this process wait it too, without a request;
//   - ErrUnauthorized: inbox.Misconfigured (a dead letter at once saying
//     why, reported by the breaker);
//   - ErrRejected: refused for this message;
//   - ErrUnavailable (5xx, no answer): inbox.Unreachable of the Sink, so
//     the worker's breaker holds the deliveries through an outage and
//     each is pushed once when the service answers again; a Retry-After
//     the service sent with it is waited.
type Inbox struct {
	*address.Inbox[Message]
	cfg Config
}

// Each channel inbox has a column on the entry point's preference page.
var _ inbox.Channeled = (*Inbox)(nil)

// NewInbox checks cfg and returns the inbox.
func NewInbox(cfg Config) (*Inbox, error) {
	if cfg.Provider == nil {
		return nil, &inbox.ConfigError{Field: "mobilepush.Config.Provider", Reason: "is nil: fcm.New or apns.New makes one"}
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Provider.Name()
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
	if cfg.Sink == "" {
		cfg.Sink = "mobilepush:" + cfg.Provider.Name()
	}
	in := &Inbox{cfg: cfg}
	core, err := address.NewInbox(address.Config[Message]{Package: "mobilepush", Kind: cfg.Provider.Kind(), Sender: pusher{in},
		Name: cfg.Name, Accepts: cfg.Accepts, Recipients: cfg.Recipients, RecipientType: cfg.RecipientType, Channel: cfg.Channel,
		Defaults: cfg.Defaults, Locale: cfg.Locale, Sink: cfg.Sink, Policy: cfg.Policy, Batching: cfg.Batching, Logger: cfg.Logger, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	in.Inbox = core
	return in, nil
}

// pusher is the mobile push Sender of the address core.
type pusher struct{ in *Inbox }

func (p pusher) Render(loc string, ev activity.Event) (Message, error) {
	m := Render(p.in.cfg.Catalog, loc, ev)
	if p.in.cfg.URL != nil {
		m.URL = p.in.cfg.URL(ev)
	}
	return m, nil
}

func (p pusher) RenderBatch(loc string, events []activity.Event) (Message, error) {
	return RenderBatch(p.in.cfg.Catalog, loc, events), nil
}

// Send pushes m to one device token through the Provider.
func (p pusher) Send(ctx context.Context, to device.Address, m Message) error {
	name := p.in.cfg.Provider.Name()
	err := p.in.cfg.Provider.Push(ctx, to.Address, m)
	if err == nil {
		return nil
	}
	var pe *PushError
	if !errors.As(err, &pe) {
		return &PushError{Provider: name, Err: err}
	}
	if pe.Provider == "" {
		pe.Provider = name
	}
	return err
}

// sentinels are the classes of the package's errors.
var sentinels = address.Sentinels{address.Gone: ErrGone, address.Unauthorized: ErrUnauthorized, address.RateLimited: ErrRateLimited, address.Rejected: ErrRejected}

func (p pusher) Classify(err error) address.Verdict {
	v := address.Verdict{Class: sentinels.Class(err)}
	var e *PushError
	if errors.As(err, &e) {
		v.RetryAfter = e.RetryAfter
		if v.Class == address.Unauthorized {
			v.Reason = e.Provider + " refuses the app's credentials (HTTP " + strconv.Itoa(e.Status) + " " + e.Reason +
				"): check the key, its project or team, and the app's ID"
		}
	}
	return v
}

// TokenKey is the ledger recipient of a push to one device token of a
// person: their ID, "/", and 16 hex digits of the SHA-256 of the token.
// See address.Key.
func TokenKey(recipient, token string) string { return address.Key(recipient, token) }
