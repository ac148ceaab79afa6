package webpush

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/address"
	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/locale"
	"github.com/tidingsdev/tidings/inbox/webhook"
)

// Channel is the preference channel of web push: a person mutes a kind of
// event on it, or picks immediate, batched or off for it
// (inbox.Defaults.SetChoice), apart from email and in-app.
const Channel = "webpush"

// DefaultQueue is the asynq queue of web push inboxes unless
// Config.Policy names another.
const DefaultQueue = "tidings.webpush"

// Recipient is a person an event may be pushed to (see
// address.Recipient): ID as device.Register stored their subscriptions,
// their Locale, the Location of their batched windows.
type Recipient = address.Recipient

// RecipientsFunc returns who may be told of ev, typically the subject's
// author and watchers. It may return the actor, duplicates and people who
// muted web push: the inbox drops them. An error is retried.
type RecipientsFunc = address.RecipientsFunc

// BatchingConfig makes an Inbox honour each recipient's delivery choice
// on its Channel (see address.BatchingConfig): a batched recipient's
// window goes out as one notification to each subscription they have
// when it closes.
type BatchingConfig = address.BatchingConfig

// Config configures an Inbox. Zero fields take the documented defaults.
type Config struct {
	// Name is the inbox's name. Default "webpush". It is part of task IDs
	// and ledger rows: renaming it re-delivers.
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
	// ("webpush").
	Channel string
	// Defaults are the app's defaults, critical kinds and default
	// delivery choices (see inbox.Defaults). Default nil: every kind on,
	// immediately.
	Defaults *inbox.Defaults
	// VAPID signs the pushes (NewVAPID). Required.
	VAPID *VAPID
	// Client makes the pushes. Default webhook.NewClient: https to
	// public addresses only (an endpoint comes from a browser, so it must
	// not reach the app's network), 10s timeout.
	Client *webhook.Client
	// Catalog and Locale word the notifications
	// ("<domain>.<action>.title"; "digest.subject" and
	// "<domain>.<action>.line" for a batch) in the recipient's Locale,
	// else in Locale. Default: a plain English sentence per event.
	Catalog *locale.Catalog
	Locale  string
	// URL is the page a click on an event's notification opens. Default
	// nil: none (the service worker opens the notification center).
	URL func(ev activity.Event) string
	// TTL is how long a push service keeps a message for a browser that
	// is offline (RFC 8030 TTL). Default 24 hours; at most 28 days.
	TTL time.Duration
	// Urgency is the RFC 8030 Urgency header: "very-low", "low",
	// "normal" or "high". Default "" (none sent: normal).
	Urgency string
	// Sink names the inbox for the worker's circuit breaker. Default
	// "webpush". A job tells of one event to every subscription of its
	// recipients, whichever push service holds each: so each push
	// service's origin ("https://fcm.googleapis.com") is a sink of its
	// own, with a circuit breaker in the inbox (Breakers) that holds only
	// that push service's pushes while it is down, and its own rate-limit
	// wait.
	Sink string
	// Breakers configures the inbox's breakers, one per push service
	// origin (see inbox.BreakerConfig). Default: 5 failures open one for
	// 10s, doubling to 30s.
	Breakers inbox.BreakerConfig
	// Policy is how the worker runs the inbox's jobs. Default: queue
	// DefaultQueue, retried by time for inbox.ChatRetryWindow (4 hours,
	// backoff 5s to 15 minutes) unless MaxRetry or RetryWindow is set.
	Policy inbox.Policy
	// Batching, when set, honours each recipient's delivery choice on
	// Channel: a batched recipient's events gather in a window of package
	// inbox/batch and go out as one notification when it closes;
	// immediate ones are pushed at once. Default nil: everyone who wants
	// the event gets it at once.
	Batching *BatchingConfig
	// Logger reports subscriptions removed as gone. Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock of rate-limit waits. Default time.Now.
	Now func() time.Time
}

// Inbox pushes events to people's browsers: an inbox.Inbox for the
// worker, the web push Sender of package inbox/address (which reads the
// recipients' subscriptions in the event's tenant, honours their
// preferences and choices, and keeps the ledger). It words the
// notification in each recipient's language, encrypts it for each
// subscription (RFC 8291) and posts it to the subscription's endpoint
// with a VAPID token (RFC 8292).
//
// Each subscription is pushed an event at most once per successful
// delivery: a ledger row per (inbox, event, recipient and endpoint) is
// claimed before the push and marked sent after it, so a retried job
// skips the subscriptions that took it. The answers of the push
// services:
//
//   - 201 (any 2xx): sent;
//   - 404, 410: the subscription is gone: removed (device.Gone) so no
//     later event tries it, and recorded as refused; the other
//     subscriptions go on;
//   - 429: the job waits the push service's Retry-After
//     (inbox.RetryAfter), and later pushes to that push service in this
//     process wait it too, without a request;
//   - 401, 403: the push service refuses the app's VAPID key or token:
//     inbox.Misconfigured of its origin (a dead letter at once, reported
//     by the breaker);
//   - another 4xx: the subscription is refused for this message
//     (recorded as refused);
//   - 5xx, 408, no answer: inbox.Unreachable of the push service's
//     origin, so the origin's breaker (Config.Breakers) holds its pushes
//     while it is down, while the other push services' go on, and pushes
//     each once when it answers again.
type Inbox struct {
	*address.Inbox[[]byte]
	cfg Config
}

// Each channel inbox has a column on the entry point's preference page.
var _ inbox.Channeled = (*Inbox)(nil)

// NewInbox checks cfg and returns the inbox.
func NewInbox(cfg Config) (*Inbox, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "webpush.Config." + field, Reason: reason}
	}
	if cfg.VAPID == nil {
		return nil, bad("VAPID", "is nil: make one with NewVAPID (GenerateVAPIDKeys makes the keys)")
	}
	if cfg.Client == nil {
		cfg.Client = webhook.NewClient(webhook.Config{UserAgent: "tidings-webpush/1"})
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
	case cfg.TTL == 0:
		cfg.TTL = 24 * time.Hour
	case cfg.TTL < 0 || cfg.TTL > 28*24*time.Hour:
		return nil, bad("TTL", "must be between 0 and 28 days")
	}
	switch cfg.Urgency {
	case "", "very-low", "low", "normal", "high":
	default:
		return nil, bad("Urgency", fmt.Sprintf("%.40q is not very-low, low, normal or high", cfg.Urgency))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	in := &Inbox{cfg: cfg}
	core, err := address.NewInbox(address.Config[[]byte]{Package: "webpush", Kind: device.WebPush, Sender: pusher{in},
		Name: cfg.Name, Accepts: cfg.Accepts, Recipients: cfg.Recipients, RecipientType: cfg.RecipientType, Channel: cfg.Channel,
		Defaults: cfg.Defaults, Locale: cfg.Locale, Sink: cfg.Sink, SinkOf: func(a device.Address) string { return Origin(a.Address) },
		Breakers: cfg.Breakers, Policy: cfg.Policy, Batching: cfg.Batching, Logger: cfg.Logger, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	in.Inbox = core
	return in, nil
}

// pusher is the web push Sender of the address core.
type pusher struct{ in *Inbox }

func (p pusher) Render(loc string, ev activity.Event) ([]byte, error) {
	m := Render(p.in.cfg.Catalog, loc, ev)
	if p.in.cfg.URL != nil {
		m.URL = p.in.cfg.URL(ev)
	}
	return m.Payload()
}

func (p pusher) RenderBatch(loc string, events []activity.Event) ([]byte, error) {
	return RenderBatch(p.in.cfg.Catalog, loc, events).Payload()
}

// Send posts payload to one subscription.
func (p pusher) Send(ctx context.Context, sub device.Address, payload []byte) error {
	origin := Origin(sub.Address)
	req, err := p.in.Request(sub, payload)
	if err != nil {
		return &PushError{Host: origin, Status: http.StatusBadRequest, Message: "build the push: " + err.Error()}
	}
	resp, err := p.in.cfg.Client.Post(ctx, req)
	if resp == nil {
		var ae *webhook.AddressError
		var ue *webhook.URLError
		if errors.As(err, &ae) || errors.As(err, &ue) {
			// An endpoint that is not https or not public: no push service
			// of a browser; the subscription is refused, not the inbox.
			return &PushError{Host: origin, Status: http.StatusBadRequest, Message: "not a push service: " + err.Error()}
		}
		return &PushError{Host: origin, Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	pe := &PushError{Host: origin, Status: resp.StatusCode, Message: string(resp.Body[:min(len(resp.Body), 200)])}
	if pe.Status == http.StatusTooManyRequests {
		wait, ok := chat.ParseRetryAfter(resp.Header.Get("Retry-After"), p.in.cfg.Now())
		if !ok || wait <= 0 {
			wait = time.Minute // no (readable) Retry-After: wait a minute
		}
		pe.RetryAfter = wait
	}
	return pe
}

// sentinels are the classes of the package's errors.
var sentinels = address.Sentinels{address.Gone: ErrGone, address.Unauthorized: ErrUnauthorized, address.RateLimited: ErrRateLimited, address.Rejected: ErrRejected}

func (p pusher) Classify(err error) address.Verdict {
	v := address.Verdict{Class: sentinels.Class(err)}
	var e *PushError
	if errors.As(err, &e) {
		v.RetryAfter = e.RetryAfter
		if v.Class == address.Unauthorized {
			v.Reason = "the push service refuses the app's VAPID key or token (HTTP " + strconv.Itoa(e.Status) +
				"): keep the key pair browsers subscribed with, and a Subject of mailto: or https"
		}
	}
	return v
}

// SubscriptionKey is the ledger recipient of a push to one subscription
// of a person: their ID, "/", and 16 hex digits of the SHA-256 of the
// endpoint (which is not repeated: its path identifies the browser). See
// address.Key.
func SubscriptionKey(recipient, endpoint string) string { return address.Key(recipient, endpoint) }

// Origin is a push service's scheme and host, from an endpoint: what the
// VAPID token's aud names, the sink of its breaker, and what errors show.
func Origin(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "(endpoint)"
	}
	return u.Scheme + "://" + u.Host
}

// Request builds the push of payload to sub: the encrypted body and the
// headers of RFC 8030, 8188 and 8292.
func (in *Inbox) Request(sub device.Address, payload []byte) (webhook.Request, error) {
	key, err := device.PublicKey(sub.P256dh)
	if err != nil {
		return webhook.Request{}, err
	}
	auth, err := device.AuthSecret(sub.Auth)
	if err != nil {
		return webhook.Request{}, err
	}
	body, err := Encrypt(payload, key, auth)
	if err != nil {
		return webhook.Request{}, err
	}
	authz, err := in.cfg.VAPID.Authorization(sub.Address)
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Encoding", "aes128gcm")
	h.Set("TTL", strconv.FormatInt(int64(in.cfg.TTL/time.Second), 10))
	h.Set("Authorization", authz)
	if in.cfg.Urgency != "" {
		h.Set("Urgency", in.cfg.Urgency)
	}
	return webhook.Request{URL: sub.Address, Body: body, Header: h}, nil
}
