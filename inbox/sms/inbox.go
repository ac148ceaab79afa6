package sms

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
// it for Twilio's Messages API; another service (Vonage, MessageBird)
// fits behind the same two methods.
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

// Recipient is a person an event may be texted to.
type Recipient struct {
	// ID is the person's key, as device.Register stored their phone
	// numbers ("7"). Required.
	ID string
	// Locale words their messages (BCP 47); "" for Config.Locale.
	Locale string
	// Location is the clock of their batched windows. Default UTC.
	Location *time.Location
}

// RecipientsFunc returns who may be told of ev. It may return the actor,
// duplicates and people who muted SMS: the inbox drops them. An error is
// retried.
type RecipientsFunc func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]Recipient, error)

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
// worker. For each event it reads the recipients' numbers in the event's
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
	cfg     Config
	batcher *batch.Batcher
	ledger  *inbox.Ledger

	mu      sync.Mutex
	blocked time.Time // no send before (a 429's Retry-After)
}

// NewInbox checks cfg and returns the inbox.
func NewInbox(cfg Config) (*Inbox, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "sms.Config." + field, Reason: reason}
	}
	if cfg.Provider == nil {
		return nil, bad("Provider", "is nil: twilio.New makes one")
	}
	if cfg.Recipients == nil {
		return nil, bad("Recipients", "is nil: say who is told of an event")
	}
	if err := cfg.Defaults.Check(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "sms"
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
	switch {
	case cfg.MaxRunes == 0:
		cfg.MaxRunes = DefaultMaxRunes
	case cfg.MaxRunes < 20 || cfg.MaxRunes > 1600:
		return nil, bad("MaxRunes", "must be between 20 and 1600")
	}
	if cfg.Sink == "" {
		cfg.Sink = "sms:" + cfg.Provider.Name()
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

// Recipients returns who ev is texted to: Config.Recipients' answer
// without recipients without an ID, the actor, duplicates (the first
// wins), and whoever does not want ev on Config.Channel
// (inbox.Defaults.Wanted).
func (in *Inbox) Recipients(ctx context.Context, db *gorm.DB, ev activity.Event) ([]Recipient, error) {
	got, err := in.cfg.Recipients(ctx, db, ev)
	if err != nil {
		return nil, fmt.Errorf("sms inbox %s: recipients of %s: %w", in.cfg.Name, ev.Ref(), err)
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

// numbers returns each recipient's phone numbers in the context's tenant,
// without the suppressed ones and without a number an earlier recipient
// has (one message per number).
func (in *Inbox) numbers(ctx context.Context, db *gorm.DB, ids []string) (map[string][]string, error) {
	byPerson, err := device.ListFor(ctx, db, ids, device.Phone)
	if err != nil {
		return nil, fmt.Errorf("sms inbox %s: phone numbers: %w", in.cfg.Name, err)
	}
	var all []string
	for _, as := range byPerson {
		for _, a := range as {
			all = append(all, a.Address)
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	stopped, err := inbox.Suppressed(ctx, db, Channel, all)
	if err != nil {
		return nil, fmt.Errorf("sms inbox %s: %w", in.cfg.Name, err)
	}
	seen := map[string]bool{}
	out := map[string][]string{}
	for _, id := range ids {
		for _, a := range byPerson[id] {
			if _, s := stopped[a.Address]; s || seen[a.Address] {
				continue
			}
			seen[a.Address] = true
			out[id] = append(out[id], a.Address)
		}
	}
	return out, nil
}

// Process implements inbox.Inbox: it texts the event to each number of
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
	nums, err := in.numbers(ctx, d.DB, ids)
	if err != nil {
		return err
	}
	if len(nums) == 0 {
		if !batched {
			d.Suppress() // nobody has a number (left)
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
		if len(nums[r.ID]) == 0 {
			continue
		}
		body := Text(in.cfg.Catalog, in.locale(r.Locale), d.Event, link, in.cfg.MaxRunes)
		for _, n := range nums[r.ID] {
			m := Message{To: n, Body: body, Tenant: d.Tenant}
			_, err := d.SendTo(ctx, NumberKey(r.ID, n), func(ctx context.Context) error { return in.send(ctx, d.DB, m) })
			var refused *inbox.RefusedError
			switch {
			case err == nil, errors.As(err, &refused):
			case errors.Is(err, inbox.ErrMisconfigured), errors.Is(err, inbox.ErrSinkDown), ctx.Err() != nil:
				// Every other number would fail the same way: the retry
				// (or the breaker) takes them all; the ledger keeps those
				// sent already from being sent again.
				return fmt.Errorf("sms inbox %s: %w", in.cfg.Name, errors.Join(append(temporary, err)...))
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
	err = fmt.Errorf("sms inbox %s: %w", in.cfg.Name, errors.Join(temporary...))
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

// NumberKey is the ledger recipient of a text to one number of a person:
// their ID, "/", and 16 hex digits of the SHA-256 of the number (which is
// not repeated: the ledger outlives a person's erasure of their number).
func NumberKey(recipient, number string) string {
	sum := sha256.Sum256([]byte(number))
	return recipient + "/" + hex.EncodeToString(sum[:8])
}

// send sends m and turns a refusal into what the worker acts on (see
// Inbox).
func (in *Inbox) send(ctx context.Context, db *gorm.DB, m Message) error {
	name := in.cfg.Provider.Name()
	if wait := in.waitFor(); wait > 0 {
		return inbox.RetryAfter(wait, &SendError{Provider: name, Status: 429, Message: "waiting for the provider's rate limit", RetryAfter: wait, Class: ErrRateLimited})
	}
	_, err := in.cfg.Provider.Send(ctx, m)
	if err == nil {
		return nil
	}
	var se *SendError
	if !errors.As(err, &se) {
		if ctx.Err() != nil {
			return err
		}
		return inbox.Unreachable(in.cfg.Sink, &SendError{Provider: name, Err: err})
	}
	if se.Provider == "" {
		se.Provider = name
	}
	switch {
	case errors.Is(se, ErrRateLimited):
		if se.RetryAfter <= 0 {
			se.RetryAfter = time.Minute
		}
		in.block(se.RetryAfter)
		return inbox.RetryAfter(se.RetryAfter, se)
	case errors.Is(se, ErrOptedOut):
		err := inbox.Suppress(context.WithoutCancel(ctx), db, inbox.Suppression{Channel: Channel, Address: m.To,
			Reason: inbox.ReasonUnsubscribe, Source: name, Detail: se.Error()})
		if err != nil {
			return errors.Join(se, err) // retried: suppressed next time
		}
		return in.gone(ctx, db, m, se)
	case errors.Is(se, ErrGone):
		return in.gone(ctx, db, m, se)
	case errors.Is(se, ErrUnauthorized):
		return inbox.Misconfigured(in.cfg.Sink, name+" refuses the app's credentials or sender (HTTP "+strconv.Itoa(se.Status)+
			", code "+se.Code+"): check the account, its token and the From number or messaging service", se)
	case errors.Is(se, ErrRejected):
		return inbox.Permanent(se)
	}
	return inbox.Unreachable(in.cfg.Sink, se)
}

// gone removes m's number in the context's tenant and refuses the send.
func (in *Inbox) gone(ctx context.Context, db *gorm.DB, m Message, se *SendError) error {
	n, err := device.Gone(context.WithoutCancel(ctx), db, device.Phone, m.To)
	if err != nil {
		return errors.Join(se, err) // retried: removed next time
	}
	in.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "sms: number cannot be texted; removed", slog.String("inbox", in.cfg.Name),
		slog.String("provider", se.Provider), slog.String("code", se.Code), slog.Int64("removed", n))
	return inbox.Permanent(se)
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
