package mobilepush

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
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

// Recipient is a person an event may be pushed to.
type Recipient struct {
	// ID is the person's key, as device.Register stored their device
	// tokens ("7"). Required.
	ID string
	// Locale words their messages (BCP 47); "" for Config.Locale.
	Locale string
	// Location is the clock of their batched windows. Default UTC.
	Location *time.Location
}

// RecipientsFunc returns who may be told of ev. It may return the actor,
// duplicates and people who muted mobile push: the inbox drops them. An error is
// retried.
type RecipientsFunc func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]Recipient, error)

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
// inbox.Inbox for the worker. For each event it reads the recipients'
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
	cfg     Config
	batcher *batch.Batcher
	ledger  *inbox.Ledger

	mu      sync.Mutex
	blocked time.Time // no send before (a 429's Retry-After)
}

// NewInbox checks cfg and returns the inbox.
func NewInbox(cfg Config) (*Inbox, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "mobilepush.Config." + field, Reason: reason}
	}
	if cfg.Provider == nil {
		return nil, bad("Provider", "is nil: fcm.New or apns.New makes one")
	}
	if cfg.Recipients == nil {
		return nil, bad("Recipients", "is nil: say who is told of an event")
	}
	if err := cfg.Defaults.Check(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Provider.Name()
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
	in := &Inbox{cfg: cfg}
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
// wins), and whoever does not want ev on Config.Channel
// (inbox.Defaults.Wanted).
func (in *Inbox) Recipients(ctx context.Context, db *gorm.DB, ev activity.Event) ([]Recipient, error) {
	got, err := in.cfg.Recipients(ctx, db, ev)
	if err != nil {
		return nil, fmt.Errorf("mobilepush inbox %s: recipients of %s: %w", in.cfg.Name, ev.Ref(), err)
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

// tokens returns each recipient's device tokens of the provider's kind
// in the context's tenant.
func (in *Inbox) tokens(ctx context.Context, db *gorm.DB, ids []string) (map[string][]string, error) {
	byPerson, err := device.ListFor(ctx, db, ids, in.cfg.Provider.Kind())
	if err != nil {
		return nil, fmt.Errorf("mobilepush inbox %s: device tokens: %w", in.cfg.Name, err)
	}
	out := make(map[string][]string, len(byPerson))
	for id, as := range byPerson {
		for _, a := range as {
			out[id] = append(out[id], a.Address)
		}
	}
	return out, nil
}

// Process implements inbox.Inbox: it pushes the event to each token of
// each recipient who wants it now (and, with Batching, puts it in the
// window of each who chose a batched delivery), once.
func (in *Inbox) Process(ctx context.Context, d *inbox.Delivery) error {
	to, err := in.Recipients(ctx, d.DB, d.Event)
	if err != nil {
		return err
	}
	if len(to) == 0 {
		d.Suppress()
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
	toks, err := in.tokens(ctx, d.DB, ids)
	if err != nil {
		return err
	}
	if len(toks) == 0 {
		if !batched {
			d.Suppress() // nobody has a device (left)
		}
		return nil
	}
	link := ""
	if in.cfg.URL != nil {
		link = in.cfg.URL(d.Event)
	}
	var temporary []error
	var wait time.Duration
	for _, r := range to {
		if len(toks[r.ID]) == 0 {
			continue
		}
		m := Render(in.cfg.Catalog, in.locale(r.Locale), d.Event)
		m.URL = link
		for _, tok := range toks[r.ID] {
			_, err := d.SendTo(ctx, TokenKey(r.ID, tok), func(ctx context.Context) error { return in.push(ctx, d.DB, tok, m) })
			var refused *inbox.RefusedError
			switch {
			case err == nil, errors.As(err, &refused):
			case errors.Is(err, inbox.ErrMisconfigured), errors.Is(err, inbox.ErrSinkDown), ctx.Err() != nil:
				// Every other token would fail the same way: the retry
				// (or the breaker) takes them all; the ledger keeps those
				// sent already from being sent again.
				return fmt.Errorf("mobilepush inbox %s: %w", in.cfg.Name, errors.Join(append(temporary, err)...))
			default:
				var ra *inbox.RetryAfterError
				if errors.As(err, &ra) {
					wait = max(wait, ra.Delay)
				}
				temporary = append(temporary, err)
			}
		}
	}
	if len(temporary) == 0 {
		return nil
	}
	err = fmt.Errorf("mobilepush inbox %s: %w", in.cfg.Name, errors.Join(temporary...))
	if wait > 0 && len(temporary) > 1 {
		return inbox.RetryAfter(wait, err)
	}
	return err
}

func (in *Inbox) locale(loc string) string {
	if loc == "" {
		return in.cfg.Locale
	}
	return loc
}

// TokenKey is the ledger recipient of a push to one device token of a
// person: their ID, "/", and 16 hex digits of the SHA-256 of the token.
func TokenKey(recipient, token string) string {
	sum := sha256.Sum256([]byte(token))
	return recipient + "/" + hex.EncodeToString(sum[:8])
}

// push sends m to token and turns a refusal into what the worker acts on
// (see Inbox).
func (in *Inbox) push(ctx context.Context, db *gorm.DB, token string, m Message) error {
	name := in.cfg.Provider.Name()
	if wait := in.waitFor(); wait > 0 {
		return inbox.RetryAfter(wait, &PushError{Provider: name, Status: 429, Message: "waiting for the service's rate limit", RetryAfter: wait, Class: ErrRateLimited})
	}
	err := in.cfg.Provider.Push(ctx, token, m)
	if err == nil {
		return nil
	}
	var pe *PushError
	if !errors.As(err, &pe) {
		if ctx.Err() != nil {
			return err
		}
		return inbox.Unreachable(in.cfg.Sink, &PushError{Provider: name, Err: err})
	}
	if pe.Provider == "" {
		pe.Provider = name
	}
	switch {
	case errors.Is(pe, ErrRateLimited):
		if pe.RetryAfter <= 0 {
			pe.RetryAfter = time.Minute
		}
		in.block(pe.RetryAfter)
		return inbox.RetryAfter(pe.RetryAfter, pe)
	case errors.Is(pe, ErrGone):
		n, err := device.Gone(context.WithoutCancel(ctx), db, in.cfg.Provider.Kind(), token)
		if err != nil {
			return errors.Join(pe, err) // retried: removed next time
		}
		in.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "mobilepush: device token gone; removed", slog.String("inbox", in.cfg.Name),
			slog.String("provider", name), slog.String("reason", pe.Reason), slog.Int64("removed", n))
		return inbox.Permanent(pe)
	case errors.Is(pe, ErrUnauthorized):
		return inbox.Misconfigured(in.cfg.Sink, name+" refuses the app's credentials (HTTP "+strconv.Itoa(pe.Status)+" "+pe.Reason+
			"): check the key, its project or team, and the app's ID", pe)
	case errors.Is(pe, ErrRejected):
		return inbox.Permanent(pe)
	}
	if pe.RetryAfter > 0 {
		return inbox.RetryAfter(pe.RetryAfter, inbox.Unreachable(in.cfg.Sink, pe))
	}
	return inbox.Unreachable(in.cfg.Sink, pe)
}

func (in *Inbox) waitFor() time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	return max(in.blocked.Sub(in.cfg.Now()), 0)
}

func (in *Inbox) block(d time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if until := in.cfg.Now().Add(d); until.After(in.blocked) {
		in.blocked = until
	}
}
