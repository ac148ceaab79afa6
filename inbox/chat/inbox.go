package chat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
	"github.com/tidingsdev/tidings/inbox/locale"
	"github.com/tidingsdev/tidings/inbox/webhook"
)

// Provider is one chat service's incoming webhooks: how a Message becomes
// a request, and how to read the reply. Packages inbox/chat/discord and
// inbox/chat/teams implement it.
type Provider interface {
	// Name names the provider ("discord"): the inbox's default name, the
	// suppression list's channel, the errors' prefix.
	Name() string
	// Request builds the post of msg to the webhook at webhookURL.
	Request(webhookURL string, msg Message) (webhook.Request, error)
	// Read reads the webhook's reply. An accepted post gives a nil
	// *PostError and, when the reply says the webhook's rate-limit bucket
	// is empty, how long to wait before the next post to it. A refused
	// one gives a *PostError with Status, the provider's Code and
	// Message, and RetryAfter for a rate limit (Provider and Host are
	// filled in by the caller).
	Read(resp *webhook.Response, now time.Time) (wait time.Duration, refused *PostError)
}

// Config configures an Inbox. Zero fields take the documented defaults.
type Config struct {
	// Provider speaks the service's webhooks: discord.Provider{},
	// teams.Provider{}. Required.
	Provider Provider
	// Router picks each event's webhook (per tenant, domain, action,
	// subject). Required.
	Router *Router
	// Name is the inbox's name. Default the Provider's name ("discord").
	// It is part of task IDs and ledger rows: renaming it re-delivers.
	Name string
	// Accepts selects the events to post. Default Router.Accepts. An
	// accepted event that no rule routes is skipped (outcome suppressed).
	Accepts inbox.Filter
	// Client makes the posts. Default webhook.NewClient(webhook.Config{}):
	// https to public addresses only (a tenant's webhook URL cannot reach
	// the app's private network), 10s timeout.
	Client *webhook.Client
	// Catalog and Locale word the messages ("<domain>.<action>.title" for
	// one event; "digest.subject" and "<domain>.<action>.line" for a
	// batch), in the target's Locale or else in Locale. Default: a plain
	// English sentence per event.
	Catalog *locale.Catalog
	Locale  string
	// Policy is how the worker runs the inbox's jobs. Default: queue
	// "tidings.<provider>", retried by time for inbox.ChatRetryWindow (4
	// hours, backoff 5s to 15 minutes) unless MaxRetry or RetryWindow is
	// set.
	Policy inbox.Policy
	// Batching, when set, gathers each (webhook, subject)'s events into a
	// window of package inbox/batch and posts one message per window when
	// it closes. Default nil: one message per event.
	Batching *BatchingConfig
	// Now is the clock of rate-limit waits. Default time.Now.
	Now func() time.Time
}

// Inbox posts events to a chat service's incoming webhooks: an
// inbox.Inbox for the worker.
//
// Each event is posted at most once per successful delivery: the ledger
// row (inbox, event) is claimed before the post and marked sent once the
// webhook accepted it. The worker's answers to the webhook's replies:
//
//   - 429 (and a full rate-limit bucket reported on an accepted post):
//     inbox.RetryAfter with the provider's wait; posts to the same webhook
//     in this process wait it too, without a request;
//   - 401, 404, 410 (the webhook was deleted or its token is wrong): the
//     webhook goes on the suppression list (channel: the provider's name,
//     address: TargetKey of its URL) and the delivery fails as
//     inbox.Misconfigured: a dead letter at once, the sink's breaker
//     records why, and later events routed to it fail the same way
//     without a request until the route names another webhook (or the
//     entry is removed with inbox.Unsuppress);
//   - 403, a certificate the client does not trust, a TLS handshake the
//     service refuses, a URL or redirect to a refused address:
//     inbox.Misconfigured (not suppressed);
//   - another 4xx: inbox.Permanent (the message is refused as it is);
//   - 5xx, 408, no answer: inbox.Unreachable of the inbox's Sink, so the
//     worker's breaker holds the deliveries while the service is down and
//     sends each once when it answers again.
type Inbox struct {
	cfg     Config
	client  *webhook.Client
	sink    string
	batcher *batch.Batcher

	mu      sync.Mutex
	blocked map[string]time.Time // TargetKey -> no post before
}

// NewInbox checks cfg and returns the inbox.
func NewInbox(cfg Config) (*Inbox, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "chat.Config." + field, Reason: reason}
	}
	if cfg.Provider == nil {
		return nil, bad("Provider", "is nil: discord.Provider{} or teams.Provider{}")
	}
	if cfg.Router == nil {
		return nil, bad("Router", "is nil: make one with NewRouter")
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Provider.Name()
	}
	if cfg.Accepts == nil {
		cfg.Accepts = cfg.Router.Accepts
	}
	if cfg.Client == nil {
		cfg.Client = webhook.NewClient(webhook.Config{UserAgent: "tidings-chat/1"})
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
	if cfg.Policy.Queue == "" {
		cfg.Policy.Queue = "tidings." + cfg.Provider.Name()
	}
	if cfg.Policy.MaxRetry == 0 && cfg.Policy.RetryWindow == 0 {
		cfg.Policy.RetryWindow = inbox.ChatRetryWindow
		if cfg.Policy.Backoff == nil {
			cfg.Policy.Backoff = inbox.ExponentialBackoff(5*time.Second, 15*time.Minute)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	in := &Inbox{cfg: cfg, client: cfg.Client, sink: sinkOf(cfg.Provider.Name(), cfg.Router.URLs()), blocked: map[string]time.Time{}}
	if cfg.Batching != nil {
		if err := in.newBatcher(); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// sinkOf is the breaker's sink: the webhooks' common scheme and host
// ("https://discord.com"), or the provider's name when they differ.
func sinkOf(provider string, urls []string) string {
	sink := ""
	for _, u := range urls {
		h := hostOf(u)
		if sink != "" && h != sink {
			return provider
		}
		sink = h
	}
	if sink == "" {
		return provider
	}
	return sink
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(webhook)"
	}
	return u.Scheme + "://" + u.Host
}

// TargetKey names a webhook URL without repeating it (the URL is a
// secret): "webhook:" and 32 hex digits of its SHA-256. It is the
// suppression list's address of a gone webhook and the batch windows'
// recipient.
func TargetKey(webhookURL string) string {
	sum := sha256.Sum256([]byte(webhookURL))
	return "webhook:" + hex.EncodeToString(sum[:16])
}

// Name implements inbox.Inbox.
func (in *Inbox) Name() string { return in.cfg.Name }

// Accepts implements inbox.Inbox with Config.Accepts.
func (in *Inbox) Accepts(domain, action string) bool { return in.cfg.Accepts(domain, action) }

// Policy implements inbox.InboxWithPolicy.
func (in *Inbox) Policy() inbox.Policy { return in.cfg.Policy }

// Sink implements inbox.InboxWithSink: the webhooks' scheme and host
// ("https://discord.com"), or the provider's name when the routes name
// several hosts.
func (in *Inbox) Sink() string { return in.sink }

// Batcher returns the inbox's batching step (nil without Batching).
func (in *Inbox) Batcher() *batch.Batcher { return in.batcher }

// Process implements inbox.Inbox: it posts the event once.
func (in *Inbox) Process(ctx context.Context, d *inbox.Delivery) error {
	target, ok := in.cfg.Router.Route(d.Event)
	if !ok {
		d.Suppress()
		return nil
	}
	if in.batcher != nil {
		return in.processBatching(ctx, d, target)
	}
	msg := Render(in.cfg.Catalog, in.locale(target), d.Event)
	_, err := d.Send(ctx, "", func(ctx context.Context) error { return in.post(ctx, d.DB, target.URL, msg) })
	if err != nil {
		return fmt.Errorf("%s inbox %s: %w", in.cfg.Provider.Name(), in.cfg.Name, err)
	}
	return nil
}

func (in *Inbox) locale(t Target) string {
	if t.Locale != "" {
		return t.Locale
	}
	return in.cfg.Locale
}

// post sends msg to the webhook and turns a failure into what the worker
// acts on (see Inbox).
func (in *Inbox) post(ctx context.Context, db *gorm.DB, webhookURL string, msg Message) error {
	name, key := in.cfg.Provider.Name(), TargetKey(webhookURL)
	fail := func(pe *PostError) *PostError {
		pe.Provider, pe.Host = name, hostOf(webhookURL)
		return pe
	}
	gone, err := inbox.Suppressed(ctx, db, name, []string{key})
	if err != nil {
		return err
	}
	if s, ok := gone[key]; ok {
		return inbox.Misconfigured(in.sink, fmt.Sprintf("the webhook %s was refused for good on %s and is suppressed: route to a new webhook (or remove it from the suppression list)",
			key, s.CreatedAt.UTC().Format(time.RFC3339)), fail(&PostError{Status: 404, Message: "suppressed: " + s.Detail}))
	}
	if wait := in.waitFor(key); wait > 0 {
		return inbox.RetryAfter(wait, fail(&PostError{Status: 429, Message: "waiting for the webhook's rate limit", RetryAfter: wait}))
	}
	req, err := in.cfg.Provider.Request(webhookURL, msg)
	if err != nil {
		return inbox.Permanent(fmt.Errorf("%s: build the message: %w", name, err))
	}
	resp, err := in.client.Post(ctx, req)
	if resp == nil {
		var ae *webhook.AddressError
		var ue *webhook.URLError
		var we *webhook.Error
		switch {
		case errors.As(err, &ae) || errors.As(err, &ue):
			return inbox.Misconfigured(in.sink, "the webhook URL is refused (not https, or not a public address): route to a public https webhook", fail(&PostError{Err: err}))
		case errors.As(err, &we) && we.Misconfigured() != "":
			// Refused at TLS (an untrusted certificate, a refused
			// handshake) or by redirects: the service answers, the setup
			// does not fit.
			return inbox.Misconfigured(in.sink, we.Misconfigured(), fail(&PostError{Err: err}))
		case ctx.Err() != nil:
			return err
		}
		return inbox.Unreachable(in.sink, fail(&PostError{Err: err}))
	}
	wait, pe := in.cfg.Provider.Read(resp, in.cfg.Now())
	if pe == nil {
		if wait > 0 {
			in.block(key, wait)
		}
		return nil
	}
	fail(pe)
	switch {
	case errors.Is(pe, ErrRateLimited):
		in.block(key, pe.RetryAfter)
		return inbox.RetryAfter(pe.RetryAfter, pe)
	case errors.Is(pe, ErrGone):
		serr := inbox.Suppress(context.WithoutCancel(ctx), db, inbox.Suppression{Channel: name, Address: key, Reason: inbox.ReasonHardBounce, Source: name, Detail: pe.Error()})
		mis := inbox.Misconfigured(in.sink, "the webhook was deleted or its token is wrong: create a new webhook and route to it", pe)
		if serr != nil {
			return errors.Join(mis, serr)
		}
		return mis
	case errors.Is(pe, ErrForbidden):
		return inbox.Misconfigured(in.sink, "the webhook refuses our posts (HTTP 403): check the webhook's permissions", pe)
	case errors.Is(pe, ErrRejected):
		return inbox.Permanent(pe)
	}
	return inbox.Unreachable(in.sink, pe)
}

// waitFor is how long posts to the webhook must still wait for its rate
// limit (0: none).
func (in *Inbox) waitFor(key string) time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	until, ok := in.blocked[key]
	if !ok {
		return 0
	}
	wait := until.Sub(in.cfg.Now())
	if wait <= 0 {
		delete(in.blocked, key)
		return 0
	}
	return wait
}

// block makes posts to the webhook wait d.
func (in *Inbox) block(key string, d time.Duration) {
	if d <= 0 {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	until := in.cfg.Now().Add(d)
	if until.After(in.blocked[key]) {
		in.blocked[key] = until
	}
}
