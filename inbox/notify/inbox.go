package notify

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// RecipientsFunc returns who should be notified of ev: the app's keys of
// people (user IDs as text), typically the subject's author and
// subscribers. It may return the actor, duplicates or "": the inbox drops
// them. An error is retried.
type RecipientsFunc func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]string, error)

// Config configures an Inbox. Zero fields take the documented defaults.
type Config struct {
	// Name is the inbox's name. Default "notify". It is part of task IDs
	// and ledger rows: renaming it re-delivers.
	Name string
	// Accepts selects the events to notify of. Default inbox.Everything.
	Accepts inbox.Filter
	// Recipients chooses who is notified of an event. Required.
	Recipients RecipientsFunc
	// RecipientType is the actor type recipients are keys of: an event's
	// actor of this type is never notified of their own act. Default
	// "users".
	RecipientType string
	// Policy is the inbox's retry policy: inbox.Policy defaults, but retried
	// by time for inbox.InAppRetryWindow (15 minutes, backoff 1s to 1
	// minute) unless MaxRetry or RetryWindow is set.
	Policy inbox.Policy
	// Now is the clock for created_at. Default time.Now.
	Now func() time.Time
	// Defaults are the app's defaults and critical kinds on
	// inbox.ChannelApp (see inbox.Defaults). Default nil: every action is
	// on, nothing critical.
	Defaults *inbox.Defaults
	// Announcer is told, after each delivery commits, whose notifications
	// arrived: a live stream in another process (package
	// web/notifycenter's Redis announcer) pushes them. Default nil: no
	// announcement; readers poll.
	Announcer Announcer
	// Batching honours recipients' batched choice on inbox.ChannelApp
	// (inbox.Defaults.Choices, Defaults.Delivery): their notifications of
	// one (subject, action) collapse into one row until the window closes
	// on their schedule ("Ana and 4 others commented on #12"), updated in
	// place and unread again when an item joins. Default false: one row
	// per event, without the extra preference query.
	Batching bool
	// Profiles gives recipients' time zones, for windows on their clock.
	// Default nil: UTC.
	Profiles inbox.ProfilesFunc
}

// Arrival says that a notification numbered Seq committed in the stream
// of Recipient in Tenant ("" for an untenanted event): each (tenant,
// recipient) is a stream of its own, numbered from 1.
type Arrival struct {
	Recipient string
	Seq       int64
	Tenant    string
}

// Announcer tells live readers that notifications arrived or changed. It
// is called after the commit, never inside the transaction: a failed
// announcement is logged and loses nothing but the push (readers catch up
// from Since).
type Announcer interface {
	Announce(ctx context.Context, arrivals []Arrival) error
}

// Inbox is the in-app notifications inbox: for each event it accepts, it
// inserts one notification per recipient, exactly once (the ledger row
// and the notification commit together, and notifications are unique per
// recipient and event), skipping the actor and whoever muted the action
// on inbox.ChannelApp.
type Inbox struct {
	name       string
	accepts    inbox.Filter
	recipients RecipientsFunc
	recipType  string
	policy     inbox.Policy
	now        func() time.Time
	defaults   *inbox.Defaults
	announcer  Announcer
	batching   bool
	profiles   inbox.ProfilesFunc
}

// New checks cfg and returns the inbox.
func New(cfg Config) (*Inbox, error) {
	n := &Inbox{name: cfg.Name, accepts: cfg.Accepts, recipients: cfg.Recipients, recipType: cfg.RecipientType, policy: cfg.Policy, now: cfg.Now,
		defaults: cfg.Defaults, announcer: cfg.Announcer, batching: cfg.Batching, profiles: cfg.Profiles}
	if err := cfg.Defaults.Check(); err != nil {
		return nil, err
	}
	if n.name == "" {
		n.name = "notify"
	}
	if n.accepts == nil {
		n.accepts = inbox.Everything
	}
	if n.recipients == nil {
		return nil, &inbox.ConfigError{Field: "notify.Config.Recipients", Reason: "is nil: say who is notified of an event"}
	}
	if n.recipType == "" {
		n.recipType = "users"
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.policy.MaxRetry == 0 && n.policy.RetryWindow == 0 {
		n.policy.RetryWindow = inbox.InAppRetryWindow
		if n.policy.Backoff == nil {
			n.policy.Backoff = inbox.ExponentialBackoff(time.Second, time.Minute)
		}
	}
	return n, nil
}

// Name returns the inbox's name.
func (n *Inbox) Name() string { return n.name }

// Accepts applies Config.Accepts.
func (n *Inbox) Accepts(domain, action string) bool { return n.accepts(domain, action) }

// Policy returns Config.Policy.
func (n *Inbox) Policy() inbox.Policy { return n.policy }

// Recipients returns who ev notifies: Config.Recipients' answer without
// duplicates, empty keys, the actor, and those who muted the action.
func (n *Inbox) Recipients(ctx context.Context, db *gorm.DB, ev activity.Event) ([]string, error) {
	got, err := n.recipients(ctx, db, ev)
	if err != nil {
		return nil, fmt.Errorf("notify %s: recipients of %s: %w", n.name, ev.Ref(), err)
	}
	return n.defaults.Recipients(ctx, db, inbox.ChannelApp, ev, n.recipType, got)
}

// Process notifies the event's recipients, each exactly once.
func (n *Inbox) Process(ctx context.Context, d *inbox.Delivery) error {
	ev := d.Event
	to, err := n.Recipients(ctx, d.DB, ev)
	if err != nil {
		return err
	}
	if len(to) == 0 {
		d.Suppress() // nobody to tell, or all muted it
		return nil
	}
	now := n.now()
	var collapse map[string]time.Time // batched recipients: their window's end
	if n.batching {
		if to, collapse, err = n.split(ctx, d.DB, ev, to, now); err != nil {
			return err
		}
	}
	var arrivals []Arrival
	all := append(append([]string(nil), to...), keysOf(collapse)...)
	_, err = d.OnceEach(ctx, d.DB, all, func(tx *gorm.DB, fresh []string) error {
		arrivals = arrivals[:0]
		if len(collapse) > 0 {
			if err := lockHeads(ctx, tx, ev.TenantID, fresh); err != nil {
				return err
			}
		}
		var single []string
		for _, r := range fresh {
			until, ok := collapse[r]
			if !ok {
				single = append(single, r)
				continue
			}
			a, err := n.collapseInto(ctx, tx, r, ev, until, now)
			if err != nil {
				return err
			}
			if a.Seq != 0 {
				arrivals = append(arrivals, a)
			}
		}
		if len(single) == 0 {
			return nil
		}
		var inserted []Arrival
		// Each recipient's next Seq in the event's tenant comes from its
		// notification_heads row, (tenant, recipient), which stays locked
		// until this commits: a stream's numbers commit in order. Rows are
		// locked in recipient order, so two deliveries never deadlock.
		err := tx.Raw(`WITH heads AS (
  INSERT INTO notification_heads AS h (tenant_id, recipient, seq)
  SELECT ?, r, 1 FROM unnest(?::text[]) AS r ORDER BY r
  ON CONFLICT (tenant_id, recipient) DO UPDATE SET seq = h.seq + 1
  RETURNING recipient, seq)
INSERT INTO notifications (recipient, seq, domain, event_id, inbox, action, subject_id, actor_type, actor_id, actor_label,
    record_type, record_id, record_label, occurred_at, created_at, tenant_id)
SELECT heads.recipient, heads.seq, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM heads
ON CONFLICT ON CONSTRAINT notifications_once DO NOTHING
RETURNING recipient, seq, coalesce(tenant_id, '') AS tenant`,
			ev.TenantID, pgarray.Text(single), ev.Domain, ev.ID, n.name, ev.Action, ev.SubjectID, ev.ActorType, ev.ActorID, ev.ActorLabel,
			ev.RecordType, ev.RecordID, ev.RecordLabel, ev.OccurredAt, now, nullTenant(ev.TenantID)).Scan(&inserted).Error
		arrivals = append(arrivals, inserted...)
		return err
	})
	if err != nil {
		return fmt.Errorf("notify %s: insert for %s: %w", n.name, ev.Ref(), err)
	}
	if n.announcer != nil && len(arrivals) > 0 {
		if err := n.announcer.Announce(ctx, arrivals); err != nil && d.Logger != nil {
			d.Logger.WarnContext(ctx, "notify: announcing arrivals failed; live pages catch up on their next check", "error", err)
		}
	}
	return nil
}

// Mute stops in-app notifications of action (or inbox.AnyAction) of domain
// for recipient. Email and Slack keep their own preferences (see
// inbox.Mute with their channel, or inbox.AnyChannel for all).
func Mute(ctx context.Context, db *gorm.DB, recipient, domain, action string) error {
	return inbox.Mute(ctx, db, recipient, inbox.ChannelApp, domain, action)
}

// Unmute undoes Mute.
func Unmute(ctx context.Context, db *gorm.DB, recipient, domain, action string) error {
	return inbox.Unmute(ctx, db, recipient, inbox.ChannelApp, domain, action)
}
