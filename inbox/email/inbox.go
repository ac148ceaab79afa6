package email

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

// Transport delivers one Message. *Sender (SMTP) is the one this package
// provides. An error matching ErrPermanent is not retried; any other is.
type Transport interface {
	Send(ctx context.Context, m *Message) error
}

// DefaultQueue is the asynq queue of email inboxes unless
// InboxConfig.Policy names another: mail is slow, so it does not share a
// queue with the in-app inbox.
const DefaultQueue = "tidings.email"

// InboxConfig configures an Inbox. Zero fields take the documented
// defaults.
type InboxConfig struct {
	// Name is the inbox's name. Default "email". It is part of task IDs and
	// ledger rows: renaming it re-delivers.
	Name string
	// Accepts selects the events to mail. Default: those whose (domain,
	// action) has a template in the Builder's Templates (an AnyAction
	// template accepts the whole domain).
	Accepts inbox.Filter
	// Builder renders mails. Required.
	Builder *Builder
	// Transport sends them; usually a *Sender. Required.
	Transport Transport
	// Recipients chooses who may be mailed about an event. Required.
	Recipients RecipientsFunc
	// RecipientType is the actor type recipients' IDs are keys of: an
	// event's actor of this type is never mailed about their own act.
	// Default "users".
	RecipientType string
	// Channel is the preference channel consulted (and muted by the
	// unsubscribe links). Default inbox.ChannelEmail.
	Channel string
	// Defaults are the app's defaults and critical kinds (see
	// inbox.Defaults). Default nil: everything is on, nothing critical.
	Defaults *inbox.Defaults

	// Digest, when set, turns the inbox into a digest inbox: events are
	// queued per recipient and period and Flush mails one digest per
	// recipient per period.
	Digest *DigestConfig
	// Escalation, when set, turns the inbox into an escalation inbox: a
	// recipient is mailed about an event only if, after a delay, the
	// event's in-app notification is still unread. Flush sends them.
	Escalation *EscalationConfig
	// Batching, when set, honours each recipient's delivery choice on
	// Channel (inbox.Defaults.Choices): a batched recipient's events
	// gather in a window of package inbox/batch and go out as one digest
	// when it closes, on the schedule they chose; immediate ones are
	// mailed at once. Flush (and the batch Scheduler's tasks) send.
	Batching *BatchingConfig
	// DB is the database Flush works on. Required with Digest, Escalation
	// or Batching. (Process uses the Delivery's.)
	DB *gorm.DB
	// Flush tunes Flush's batches and retries.
	Flush FlushPolicy

	// Policy is how the worker runs the inbox's jobs. Default: queue
	// DefaultQueue, retried by time for inbox.EmailRetryWindow (24h) with
	// exponential backoff from 1 minute to 1 hour, jittered, unless
	// MaxRetry or RetryWindow is set.
	Policy inbox.Policy
	// GreylistWait is how long a recipient answered with a 450, 451 or 452
	// (greylisting, mailbox busy) waits before the next try. Default 5
	// minutes (greylisting servers refuse retries sooner than that).
	GreylistWait time.Duration
	// Logger reports skipped recipients and flush failures. Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock: digest periods, escalation delays. Default
	// time.Now.
	Now func() time.Time
}

// Inbox mails events: an inbox.Inbox for the worker.
//
// In the default mode each job renders and sends one mail per recipient,
// each at most once: a ledger row per (inbox, event, recipient) is claimed
// before the send and marked sent after it, so a retried job (or the same
// event processed again) skips who was mailed. A 5xx refusal is
// permanent: when every failure of a job is permanent, the job is not
// retried. A 4xx refusal, a timeout or a connection error is retried.
//
// Outages and refusals (see outage.go): a server that does not answer
// (connection refused, timeout, 421) is reported to the worker's circuit
// breaker for the Transport's sink; a 450-452 waits GreylistWait; a
// recipient refused for good (5xx) is recorded as refused in the ledger,
// not tried again, and, when the answer says the mailbox does not exist,
// put on the suppression list, which every later send honours.
//
// In digest and escalation modes the job only queues rows in PostgreSQL
// (exactly once, in the ledger's transaction) and Flush sends.
type Inbox struct {
	cfg     InboxConfig
	log     *slog.Logger
	now     func() time.Time
	batcher *batch.Batcher // with Batching
	breaker flushBreaker   // UseWorkerBreaker
}

// NewInbox checks cfg and returns the inbox.
func NewInbox(cfg InboxConfig) (*Inbox, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "email.InboxConfig." + field, Reason: reason}
	}
	if cfg.Name == "" {
		cfg.Name = "email"
	}
	if err := cfg.Defaults.Check(); err != nil {
		return nil, err
	}
	if cfg.Builder == nil {
		return nil, bad("Builder", "is nil: make one with NewBuilder")
	}
	if cfg.Transport == nil {
		return nil, bad("Transport", "is nil: make a Sender with NewSender")
	}
	if cfg.Recipients == nil {
		return nil, bad("Recipients", "is nil: say who is mailed about an event")
	}
	if cfg.Accepts == nil {
		tpls := cfg.Builder.cfg.Templates
		cfg.Accepts = tpls.Has
	}
	if cfg.RecipientType == "" {
		cfg.RecipientType = "users"
	}
	if cfg.Channel == "" {
		cfg.Channel = inbox.ChannelEmail
	}
	if cfg.Digest != nil && cfg.Escalation != nil {
		return nil, bad("Digest", "and Escalation are both set: an inbox has one mode; make two inboxes")
	}
	if cfg.Batching != nil && (cfg.Digest != nil || cfg.Escalation != nil) {
		return nil, bad("Batching", "is set with Digest or Escalation: an inbox has one mode; Batching replaces Digest")
	}
	if (cfg.Digest != nil || cfg.Escalation != nil || cfg.Batching != nil) && cfg.DB == nil {
		return nil, bad("DB", "is nil: digest, escalation and batching inboxes need it for Flush")
	}
	if cfg.Digest != nil {
		d, err := cfg.Digest.withDefaults()
		if err != nil {
			return nil, err
		}
		cfg.Digest = &d
	}
	if cfg.Escalation != nil {
		e := cfg.Escalation.withDefaults()
		cfg.Escalation = &e
	}
	cfg.Flush = cfg.Flush.withDefaults()
	if cfg.Policy.Queue == "" {
		cfg.Policy.Queue = DefaultQueue
	}
	if cfg.Policy.MaxRetry == 0 && cfg.Policy.RetryWindow == 0 {
		cfg.Policy.RetryWindow = inbox.EmailRetryWindow
		if cfg.Policy.Backoff == nil {
			cfg.Policy.Backoff = inbox.ExponentialBackoff(time.Minute, time.Hour)
		}
	}
	if cfg.GreylistWait <= 0 {
		cfg.GreylistWait = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	in := &Inbox{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if cfg.Batching != nil || cfg.Digest != nil {
		bc := BatchingConfig{MaxItems: 100000} // a digest lists its whole period
		if cfg.Batching != nil {
			bc = *cfg.Batching
		}
		b, err := batch.New(batch.Config{Inbox: cfg.Name, DB: cfg.DB, Deliver: in.deliverBatch, Wanted: batch.WantedOn(cfg.Defaults, cfg.Channel),
			MaxItems: bc.MaxItems, Scheduler: bc.Scheduler, BatchSize: cfg.Flush.BatchSize, MaxAttempts: cfg.Flush.MaxAttempts,
			Backoff: cfg.Flush.Backoff, ClaimTimeout: cfg.Flush.ClaimTimeout, Logger: cfg.Logger, Now: cfg.Now})
		if err != nil {
			return nil, err
		}
		in.batcher = b
	}
	return in, nil
}

// Name implements inbox.Inbox.
func (in *Inbox) Name() string { return in.cfg.Name }

// Accepts implements inbox.Inbox with InboxConfig.Accepts.
func (in *Inbox) Accepts(domain, action string) bool { return in.cfg.Accepts(domain, action) }

// Channel is the preference channel the inbox consults (Config.Channel,
// by default inbox.ChannelEmail): inbox.Channeled.
func (in *Inbox) Channel() string { return in.cfg.Channel }

var _ inbox.Channeled = (*Inbox)(nil)

// Policy implements inbox.InboxWithPolicy.
func (in *Inbox) Policy() inbox.Policy { return in.cfg.Policy }

// Process implements inbox.Inbox: it mails the event's recipients (or, in
// digest and escalation modes, queues them for Flush).
func (in *Inbox) Process(ctx context.Context, d *inbox.Delivery) error {
	to, err := in.Recipients(ctx, d.DB, d.Event)
	if err != nil {
		return err
	}
	if len(to) == 0 {
		d.Suppress() // nobody to tell, or all muted it
		return nil
	}
	switch {
	case in.cfg.Digest != nil:
		return in.queueDigest(ctx, d, to)
	case in.cfg.Escalation != nil:
		return in.queueEscalation(ctx, d, to)
	case in.cfg.Batching != nil:
		return in.processBatching(ctx, d, to)
	}
	return in.sendEach(ctx, d, to)
}

// sendResult folds per-recipient failures into the job's error: nil when
// all were sent, permanent when every failure was, else a temporary error
// (which must not wrap the permanent ones, or the job would not be
// retried) whose retry re-sends only to who was not mailed yet.
func sendResult(name string, temporary, permanent []error) error {
	switch {
	case len(temporary) == 0 && len(permanent) == 0:
		return nil
	case len(temporary) == 0:
		return inbox.Permanent(fmt.Errorf("email inbox %s: %w", name, errors.Join(permanent...)))
	}
	err := errors.Join(temporary...)
	if len(permanent) > 0 {
		texts := make([]string, len(permanent))
		for i, p := range permanent {
			texts[i] = p.Error()
		}
		err = fmt.Errorf("%w; also refused permanently (will be tried again with the retry): %s", err, strings.Join(texts, "; "))
	}
	return fmt.Errorf("email inbox %s: %w", name, err)
}
