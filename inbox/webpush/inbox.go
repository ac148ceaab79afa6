package webpush

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
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

// Recipient is a person an event may be pushed to.
type Recipient struct {
	// ID is the person's key, as device.Register stored their
	// subscriptions ("7"). Required.
	ID string
	// Locale words their notifications (BCP 47); "" for Config.Locale.
	Locale string
	// Location is the clock of their batched windows (daily@08:00 is
	// their morning). Default UTC.
	Location *time.Location
}

// RecipientsFunc returns who may be told of ev, typically the subject's
// author and watchers. It may return the actor, duplicates and people who
// muted web push: the inbox drops them. An error is retried.
type RecipientsFunc func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]Recipient, error)

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
	// Sink names the push services for the worker's circuit breaker.
	// Default "webpush": one breaker for the inbox, as a job tells of one
	// event to every subscription of its recipients, whichever push
	// service holds each.
	Sink string
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
// worker. For each event it reads the recipients' web push subscriptions
// in the event's tenant (device.ListFor), words the notification in each
// recipient's language, encrypts it for each subscription (RFC 8291) and
// posts it to the subscription's endpoint with a VAPID token (RFC 8292).
//
// Each subscription is pushed an event at most once per successful
// delivery: a ledger row per (inbox, event, recipient and endpoint) is
// claimed before the push and marked sent after it, so a retried job
// skips the subscriptions that took it. The worker's answers to the push
// services' replies:
//
//   - 201 (any 2xx): sent;
//   - 404, 410: the subscription is gone: removed (device.Gone) so no
//     later event tries it, and recorded as refused; the other
//     subscriptions go on;
//   - 429: the job waits the push service's Retry-After
//     (inbox.RetryAfter), and later pushes to that push service in this
//     process wait it too, without a request;
//   - 401, 403: the push service refuses the app's VAPID key or token:
//     inbox.Misconfigured (a dead letter at once, reported by the
//     breaker);
//   - another 4xx: the subscription is refused for this message
//     (recorded as refused);
//   - 5xx, 408, no answer: inbox.Unreachable of the inbox's Sink, so the
//     worker's breaker holds the deliveries while the push service is
//     down and pushes each once when it answers again.
type Inbox struct {
	cfg     Config
	batcher *batch.Batcher // with Batching
	ledger  *inbox.Ledger  // the windows' pushes, with Batching

	mu      sync.Mutex
	blocked map[string]time.Time // push service origin -> no push before
}

// NewInbox checks cfg and returns the inbox.
func NewInbox(cfg Config) (*Inbox, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "webpush.Config." + field, Reason: reason}
	}
	if cfg.Recipients == nil {
		return nil, bad("Recipients", "is nil: say who is told of an event")
	}
	if cfg.VAPID == nil {
		return nil, bad("VAPID", "is nil: make one with NewVAPID (GenerateVAPIDKeys makes the keys)")
	}
	if err := cfg.Defaults.Check(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "webpush"
	}
	if cfg.Accepts == nil {
		cfg.Accepts = func(string, string) bool { return true }
	}
	if cfg.RecipientType == "" {
		cfg.RecipientType = "users"
	}
	if cfg.Channel == "" {
		cfg.Channel = Channel
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
	if cfg.Sink == "" {
		cfg.Sink = "webpush"
	}
	if cfg.Policy.Queue == "" {
		cfg.Policy.Queue = DefaultQueue
	}
	if cfg.Policy.MaxRetry == 0 && cfg.Policy.RetryWindow == 0 {
		cfg.Policy.RetryWindow = inbox.ChatRetryWindow
		if cfg.Policy.Backoff == nil {
			cfg.Policy.Backoff = inbox.ExponentialBackoff(5*time.Second, 15*time.Minute)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	in := &Inbox{cfg: cfg, blocked: map[string]time.Time{}}
	if cfg.Batching != nil {
		if err := in.newBatcher(); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Name implements inbox.Inbox.
func (in *Inbox) Name() string { return in.cfg.Name }

// Accepts implements inbox.Inbox with Config.Accepts.
func (in *Inbox) Accepts(domain, action string) bool { return in.cfg.Accepts(domain, action) }

// Policy implements inbox.InboxWithPolicy.
func (in *Inbox) Policy() inbox.Policy { return in.cfg.Policy }

// Sink implements inbox.InboxWithSink with Config.Sink.
func (in *Inbox) Sink() string { return in.cfg.Sink }

// Recipients returns who ev is pushed to: Config.Recipients' answer
// without recipients without an ID, the actor, duplicates (the first
// wins), and whoever does not want ev on Config.Channel (mutes, the app's
// Off kinds: inbox.Defaults.Wanted).
func (in *Inbox) Recipients(ctx context.Context, db *gorm.DB, ev activity.Event) ([]Recipient, error) {
	got, err := in.cfg.Recipients(ctx, db, ev)
	if err != nil {
		return nil, fmt.Errorf("webpush inbox %s: recipients of %s: %w", in.cfg.Name, ev.Ref(), err)
	}
	byID := make(map[string]Recipient, len(got))
	ids := make([]string, 0, len(got))
	for _, r := range got {
		if _, dup := byID[r.ID]; r.ID == "" || dup || (ev.ActorType == in.cfg.RecipientType && ev.ActorID == r.ID) {
			continue
		}
		byID[r.ID] = r
		ids = append(ids, r.ID)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	ids, err = in.cfg.Defaults.Wanted(ctx, db, in.cfg.Channel, ev.Domain, ev.Action, ev.SubjectID, ids)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	out := make([]Recipient, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}

// Process implements inbox.Inbox: it pushes the event to each
// subscription of each recipient who wants it now (and, with Batching,
// puts it in the window of each who chose a batched delivery), once.
func (in *Inbox) Process(ctx context.Context, d *inbox.Delivery) error {
	to, err := in.Recipients(ctx, d.DB, d.Event)
	if err != nil {
		return err
	}
	if len(to) == 0 {
		d.Suppress() // nobody to tell, or all muted it
		return nil
	}
	batched := false // some window took the event
	if in.batcher != nil {
		to, batched, err = in.processBatching(ctx, d, to)
		if err != nil {
			return err
		}
		if len(to) == 0 {
			if !batched {
				d.Suppress()
			}
			return nil
		}
	}
	ids := make([]string, len(to))
	for i, r := range to {
		ids[i] = r.ID
	}
	subs, err := device.ListFor(ctx, d.DB, ids, device.WebPush)
	if err != nil {
		return fmt.Errorf("webpush inbox %s: subscriptions: %w", in.cfg.Name, err)
	}
	if len(subs) == 0 {
		if !batched {
			d.Suppress() // nobody subscribed a browser
		}
		return nil
	}
	var temporary []error
	var wait time.Duration
	for _, r := range to {
		if len(subs[r.ID]) == 0 {
			continue
		}
		msg := in.render(r.Locale, d.Event)
		payload, err := msg.Payload()
		if err != nil {
			return inbox.Permanent(fmt.Errorf("webpush inbox %s: %s: %w", in.cfg.Name, d.Event.Ref(), err))
		}
		for _, sub := range subs[r.ID] {
			_, err := d.SendTo(ctx, SubscriptionKey(r.ID, sub.Address), func(ctx context.Context) error {
				return in.push(ctx, d.DB, sub, payload)
			})
			var refused *inbox.RefusedError
			switch {
			case err == nil, errors.As(err, &refused):
			case errors.Is(err, inbox.ErrMisconfigured), errors.Is(err, inbox.ErrSinkDown), ctx.Err() != nil:
				// Every other subscription would fail the same way: the
				// retry (or the breaker) takes them all; the ledger keeps
				// those pushed already from being pushed again.
				return fmt.Errorf("webpush inbox %s: %w", in.cfg.Name, errors.Join(append(temporary, err)...))
			default:
				if w, ok := retryAfterOf(err); ok {
					wait = max(wait, w)
				}
				temporary = append(temporary, err)
			}
		}
	}
	if len(temporary) == 0 {
		return nil
	}
	err = fmt.Errorf("webpush inbox %s: %w", in.cfg.Name, errors.Join(temporary...))
	if wait > 0 && len(temporary) > 1 { // the longest wait asked for, not the first
		return inbox.RetryAfter(wait, err)
	}
	return err
}

// retryAfterOf is the delay an error asks for (inbox.RetryAfter).
func retryAfterOf(err error) (time.Duration, bool) {
	var ra *inbox.RetryAfterError
	if errors.As(err, &ra) {
		return ra.Delay, true
	}
	return 0, false
}

func (in *Inbox) render(loc string, ev activity.Event) Message {
	if loc == "" {
		loc = in.cfg.Locale
	}
	m := Render(in.cfg.Catalog, loc, ev)
	if in.cfg.URL != nil {
		m.URL = in.cfg.URL(ev)
	}
	return m
}

// SubscriptionKey is the ledger recipient of a push to one subscription
// of a person: their ID, "/", and 16 hex digits of the SHA-256 of the
// endpoint (which is not repeated: its path identifies the browser).
func SubscriptionKey(recipient, endpoint string) string {
	sum := sha256.Sum256([]byte(endpoint))
	return recipient + "/" + hex.EncodeToString(sum[:8])
}

// Origin is a push service's scheme and host, from an endpoint: what the
// VAPID token's aud names and errors show.
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

// push sends payload to one subscription and turns a failure into what
// the worker acts on (see Inbox).
func (in *Inbox) push(ctx context.Context, db *gorm.DB, sub device.Address, payload []byte) error {
	origin := Origin(sub.Address)
	if wait := in.waitFor(origin); wait > 0 {
		return inbox.RetryAfter(wait, &PushError{Host: origin, Status: http.StatusTooManyRequests, Message: "waiting for the push service's rate limit", RetryAfter: wait})
	}
	req, err := in.Request(sub, payload)
	if err != nil {
		return inbox.Permanent(fmt.Errorf("webpush: build the push: %w", err))
	}
	resp, err := in.cfg.Client.Post(ctx, req)
	if resp == nil {
		var ae *webhook.AddressError
		var ue *webhook.URLError
		switch {
		case errors.As(err, &ae) || errors.As(err, &ue):
			// An endpoint that is not https or not public: no push service
			// of a browser; the subscription is refused, not the inbox.
			return inbox.Permanent(&PushError{Host: origin, Err: err})
		case ctx.Err() != nil:
			return err
		}
		return inbox.Unreachable(in.cfg.Sink, &PushError{Host: origin, Err: err})
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	pe := &PushError{Host: origin, Status: resp.StatusCode, Message: string(resp.Body[:min(len(resp.Body), 200)])}
	switch {
	case errors.Is(pe, ErrRateLimited):
		wait, ok := chat.ParseRetryAfter(resp.Header.Get("Retry-After"), in.cfg.Now())
		if !ok || wait <= 0 {
			wait = time.Minute // no (readable) Retry-After: wait a minute
		}
		pe.RetryAfter = wait
		in.block(origin, wait)
		return inbox.RetryAfter(wait, pe)
	case errors.Is(pe, ErrGone):
		n, gerr := device.Gone(context.WithoutCancel(ctx), db, device.WebPush, sub.Address)
		if gerr != nil {
			return errors.Join(pe, gerr) // retried: removed next time
		}
		in.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "webpush: subscription gone; removed", slog.String("inbox", in.cfg.Name),
			slog.String("recipient", sub.Recipient), slog.String("push_service", origin), slog.Int("status", pe.Status), slog.Int64("removed", n))
		return inbox.Permanent(pe)
	case errors.Is(pe, ErrUnauthorized):
		return inbox.Misconfigured(in.cfg.Sink, "the push service refuses the app's VAPID key or token (HTTP "+strconv.Itoa(pe.Status)+
			"): keep the key pair browsers subscribed with, and a Subject of mailto: or https", pe)
	case errors.Is(pe, ErrRejected):
		return inbox.Permanent(pe)
	}
	return inbox.Unreachable(in.cfg.Sink, pe)
}

// waitFor is how long pushes to origin must still wait for its rate limit.
func (in *Inbox) waitFor(origin string) time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	until, ok := in.blocked[origin]
	if !ok {
		return 0
	}
	wait := until.Sub(in.cfg.Now())
	if wait <= 0 {
		delete(in.blocked, origin)
		return 0
	}
	return wait
}

// block makes pushes to origin wait d.
func (in *Inbox) block(origin string, d time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	until := in.cfg.Now().Add(d)
	if until.After(in.blocked[origin]) {
		in.blocked[origin] = until
	}
}
