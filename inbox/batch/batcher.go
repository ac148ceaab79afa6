package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// Batch is one closed window, handed to Config.Deliver.
type Batch struct {
	ID        int64 // the window's ID: stable across retries of its delivery
	Inbox     string
	Recipient string
	Key       string
	Locale    string
	Location  *time.Location
	Profile   json.RawMessage // AddRequest.Profile of the last item, or nil
	OpenedAt  time.Time
	DueAt     time.Time
	Attempt   int              // 1 on the first delivery
	Events    []activity.Event // in the order they joined, muted ones removed
	// Tenant is the tenant of every event of the window ("" when
	// untenanted): a window never mixes tenants. Flush hands the batch to
	// Wanted and Deliver under it (activity.WithTenant), so the
	// preferences they consult and what the channel writes are its own.
	Tenant string
}

// DeliverFunc delivers a batch in one message. An error matching
// inbox.ErrPermanent fails the window for good; any other is retried.
type DeliverFunc func(ctx context.Context, b *Batch) error

// WantedFunc returns the events of b the recipient still wants (a mute set
// while the window was open drops them). It may return the slice it got.
type WantedFunc func(ctx context.Context, db *gorm.DB, b *Batch) ([]activity.Event, error)

// Config configures a Batcher. Zero fields take the documented defaults.
type Config struct {
	// Inbox is the owning inbox's name: windows are per (Inbox, recipient,
	// key). Required.
	Inbox string
	// DB is where Flush works. Required. (Add works in the transaction it
	// is given.)
	DB *gorm.DB
	// Deliver hands a closed window to the channel. Required.
	Deliver DeliverFunc
	// Wanted filters a window's events at flush time. Default nil: all.
	Wanted WantedFunc
	// MaxItems caps a window: the item that fills it seals it, due at
	// once. Default 100.
	MaxItems int
	// Scheduler, when set, is asked after each Add to flush the window at
	// its due time. Default nil: only Flush and Run flush (a
	// tidings.Client gives the batchers of its inboxes its own: see
	// UseSchedulerIfNone).
	Scheduler Scheduler
	// BatchSize is how many windows one claim takes. Default 100.
	BatchSize int
	// MaxAttempts is how often a window is tried before it fails. Default 10.
	MaxAttempts int
	// Backoff is the delay before attempt n+1. Default
	// inbox.ExponentialBackoff(time.Minute, time.Hour).
	Backoff inbox.Backoff
	// ClaimTimeout is how long a claimed ('sending') window is left to its
	// flusher before another takes it over. Keep it above Deliver's
	// longest run. Default 5 minutes.
	ClaimTimeout time.Duration
	// Breaker, when set, is the circuit breaker of the sink the windows
	// are delivered to, the one the worker's single deliveries to it go
	// through (inbox.Worker.SinkBreaker; see UseBreakerIfNone): while it
	// is open a due window is held (not delivered, no attempt counted)
	// until its next probe, a transport failure is retried at that probe
	// (not after Backoff), and a probe that finds the sink answering
	// flushes every window held for it at once. Default nil: every
	// failure is retried after Backoff.
	Breaker *inbox.SinkBreaker
	// Logger reports flush failures. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Batcher gathers events into windows and flushes them.
type Batcher struct {
	cfg Config

	releasing atomic.Bool // a flush of released windows is under way
	again     atomic.Bool // windows were released since it claimed
}

// New checks cfg and returns a Batcher.
func New(cfg Config) (*Batcher, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "batch.Config." + field, Reason: reason}
	}
	if cfg.Inbox == "" {
		return nil, bad("Inbox", "is empty: name the inbox whose windows these are")
	}
	if cfg.DB == nil {
		return nil, bad("DB", "is nil")
	}
	if cfg.Deliver == nil {
		return nil, bad("Deliver", "is nil: say how a closed window is delivered")
	}
	if cfg.MaxItems < 0 || cfg.MaxItems > 100000 {
		return nil, bad("MaxItems", fmt.Sprintf("%d is out of range: use 1-100000, or 0 for 100", cfg.MaxItems))
	}
	if cfg.MaxItems == 0 {
		cfg.MaxItems = 100
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Backoff == nil {
		cfg.Backoff = inbox.ExponentialBackoff(time.Minute, time.Hour)
	}
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	b := &Batcher{cfg: cfg}
	if cfg.Breaker != nil {
		cfg.Breaker.OnAnswered(b.release)
	}
	return b, nil
}

// Inbox returns Config.Inbox.
func (b *Batcher) Inbox() string { return b.cfg.Inbox }

// UseSchedulerIfNone makes s the batcher's Scheduler when Config gave
// none, and reports whether it did. Call it before the batcher is used
// (the entry point, tidings.NewClient, does for the batching inboxes it
// runs, with an AsynqScheduler on its Redis and its worker's queue).
func (b *Batcher) UseSchedulerIfNone(s Scheduler) bool {
	if b.cfg.Scheduler != nil || s == nil {
		return false
	}
	b.cfg.Scheduler = s
	return true
}

// AddRequest is one event joining a recipient's window.
type AddRequest struct {
	Recipient string
	// Key groups events into windows: "" for one window per recipient
	// (a digest), a subject for one per thread.
	Key      string
	Schedule inbox.Schedule
	Location *time.Location // the recipient's zone; UTC when nil
	Locale   string         // the recipient's locale, for the delivery
	// Profile is what Deliver needs about the recipient (an address),
	// stored as JSON with the window; the last item's wins.
	Profile any
	Event   activity.Event
	// Tenant is the window's tenant. Default Event.TenantID; a value other
	// than the event's is refused (a window never mixes tenants).
	Tenant string
}

// Joined is where Add put an event.
type Joined struct {
	Window int64
	DueAt  time.Time
	Items  int  // the window's items, this one included
	Full   bool // this item sealed the window
}

// maxKey caps AddRequest.Key and Recipient, in bytes.
const maxKey = 500

func (r AddRequest) validate() error {
	for name, v := range map[string]string{"Recipient": r.Recipient, "Key": r.Key, "Locale": r.Locale} {
		if len(v) > maxKey || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return &inbox.ConfigError{Field: "batch.AddRequest." + name, Reason: fmt.Sprintf("is %.40q: use valid UTF-8 without NUL bytes, at most %d bytes", v, maxKey)}
		}
	}
	if r.Recipient == "" {
		return &inbox.ConfigError{Field: "batch.AddRequest.Recipient", Reason: "is empty"}
	}
	if r.Tenant != "" && r.Tenant != r.Event.TenantID {
		return &inbox.ConfigError{Field: "batch.AddRequest.Tenant", Reason: fmt.Sprintf("is %.40q but the event is of tenant %.40q: leave it empty or give the event's", r.Tenant, r.Event.TenantID)}
	}
	if r.Event.ID == 0 || r.Event.Domain == "" {
		return &inbox.ConfigError{Field: "batch.AddRequest.Event", Reason: "has no domain or ID: add committed events"}
	}
	return r.Schedule.Check()
}

// Add puts the event into the recipient's open window for the key in the
// event's tenant, opening one if none is open (windows of two tenants never
// merge, even for the same recipient and key), in tx: call it inside the delivery's ledger
// transaction (inbox.Delivery.OnceEach), so the event joins once. The
// window's row stays locked until tx commits, so no Flush seals it under
// the caller. After tx commits, call Scheduled with the result.
func (b *Batcher) Add(ctx context.Context, tx *gorm.DB, r AddRequest) (Joined, error) {
	if err := r.validate(); err != nil {
		return Joined{}, err
	}
	snap, err := json.Marshal(r.Event)
	if err != nil {
		return Joined{}, inbox.Permanent(fmt.Errorf("batch %s: encode %s: %w", b.cfg.Inbox, r.Event.Ref(), err))
	}
	var profile any
	if r.Profile != nil {
		p, err := json.Marshal(r.Profile)
		if err != nil {
			return Joined{}, inbox.Permanent(fmt.Errorf("batch %s: encode the profile of %s: %w", b.cfg.Inbox, r.Recipient, err))
		}
		profile = string(p)
	}
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	now := b.cfg.Now()
	due := r.Schedule.Close(now, loc)
	max := b.cfg.MaxItems
	firstStatus := "open"
	if max <= 1 {
		firstStatus, due = "full", now
	}
	var rows []struct {
		ID        int64
		DueAt     time.Time
		Status    string
		ItemCount int
	}
	// One statement: open or join the window (the upsert locks its row
	// until tx commits), count the item, seal at the cap, add the item.
	err = tx.WithContext(ctx).Raw(`WITH w AS (
  INSERT INTO batch_windows AS w (inbox, tenant_id, recipient, batch_key, schedule, time_zone, locale, profile, opened_at, due_at, item_count, status, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, 1, ?, ?, ?)
  ON CONFLICT (inbox, tenant_id, recipient, batch_key) WHERE status = 'open' DO UPDATE
     SET item_count = w.item_count + 1,
         status = CASE WHEN w.item_count + 1 >= ? THEN 'full' ELSE 'open' END,
         due_at = CASE WHEN w.item_count + 1 >= ? THEN least(w.due_at, EXCLUDED.opened_at) ELSE w.due_at END,
         locale = EXCLUDED.locale, profile = coalesce(EXCLUDED.profile, w.profile), updated_at = EXCLUDED.updated_at
  RETURNING w.id, w.tenant_id, w.due_at, w.status, w.item_count),
i AS (
  INSERT INTO batch_items (window_id, tenant_id, domain, event_id, event, created_at)
  SELECT id, tenant_id, ?, ?, ?::jsonb, ? FROM w
  ON CONFLICT DO NOTHING)
SELECT id, due_at, status, item_count FROM w`,
		b.cfg.Inbox, r.Event.TenantID, r.Recipient, r.Key, r.Schedule.String(), loc.String(), r.Locale, profile, now, due, firstStatus, now, now,
		max, max,
		r.Event.Domain, r.Event.ID, string(snap), now).Scan(&rows).Error
	if err != nil {
		return Joined{}, fmt.Errorf("batch %s: add %s to the window of %s: %w", b.cfg.Inbox, r.Event.Ref(), r.Recipient, err)
	}
	if len(rows) != 1 {
		return Joined{}, fmt.Errorf("batch %s: add %s to the window of %s: no window returned", b.cfg.Inbox, r.Event.Ref(), r.Recipient)
	}
	w := rows[0]
	return Joined{Window: w.ID, DueAt: w.DueAt, Items: w.ItemCount, Full: w.Status == "full"}, nil
}

// Scheduled asks the Scheduler (if any) to flush the windows joined, after
// the transaction that added to them committed. A failure is logged, not
// returned: the sweep (Run) flushes the window anyway.
func (b *Batcher) Scheduled(ctx context.Context, joined ...Joined) {
	if b.cfg.Scheduler == nil {
		return
	}
	var errs []error
	for _, j := range joined {
		if err := b.cfg.Scheduler.Schedule(ctx, b.cfg.Inbox, j.Window, j.DueAt, j.Full); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		b.cfg.Logger.WarnContext(ctx, "batch: scheduling a flush failed; the sweep flushes the window", "inbox", b.cfg.Inbox, "error", err)
	}
}
