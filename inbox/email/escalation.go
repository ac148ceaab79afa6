package email

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// ReadFunc reports whether recipient has read the in-app notification of
// ev. NotificationRead is the default.
type ReadFunc func(ctx context.Context, db *gorm.DB, recipient string, ev activity.EventRef) (bool, error)

// NotificationRead is the default ReadFunc: it looks the notification up
// in the notifications table of package inbox/notify. A recipient without
// a notification for ev (in-app muted, or no in-app inbox) has not read it.
func NotificationRead(ctx context.Context, db *gorm.DB, recipient string, ev activity.EventRef) (bool, error) {
	var read []bool
	cond, targs := inbox.TenantCondition(ctx, "")
	err := db.WithContext(ctx).Raw(`SELECT read_at IS NOT NULL FROM notifications WHERE recipient = ? AND domain = ? AND event_id = ? AND `+cond,
		append([]any{recipient, ev.Domain, ev.ID}, targs...)...).Scan(&read).Error
	if err != nil {
		return false, fmt.Errorf("email: read state of %s's notification of %s: %w", recipient, ev, err)
	}
	return len(read) == 1 && read[0], nil
}

// EscalationConfig makes an Inbox an escalation inbox: a recipient is
// mailed about an event only if its in-app notification is still unread
// Delay after the event was processed.
//
// Process queues one row per (recipient, event) in email_escalations,
// exactly once (in the ledger's transaction), due Delay from now. Flush
// claims the due rows; for each it asks IsRead, drops the row when the
// notification was read (or the recipient muted the mail since), and
// otherwise sends the event's usual mail (same template, same Message-ID
// as the immediate mode would give it).
type EscalationConfig struct {
	// Delay is how long the notification may stay unread before it is
	// mailed. Default 10 minutes.
	Delay time.Duration
	// IsRead tells whether the notification was read. Default
	// NotificationRead.
	IsRead ReadFunc
}

func (c EscalationConfig) withDefaults() EscalationConfig {
	if c.Delay <= 0 {
		c.Delay = 10 * time.Minute
	}
	if c.IsRead == nil {
		c.IsRead = NotificationRead
	}
	return c
}

// queueEscalation records a pending escalation per fresh recipient.
func (in *Inbox) queueEscalation(ctx context.Context, d *inbox.Delivery, to []Recipient) error {
	byID := make(map[string]Recipient, len(to))
	ids := make([]string, len(to))
	for i, r := range to {
		byID[r.ID], ids[i] = r, r.ID
	}
	snapshot, err := json.Marshal(d.Event)
	if err != nil {
		return inbox.Permanent(fmt.Errorf("email inbox %s: encode %s: %w", in.cfg.Name, d.Event.Ref(), err))
	}
	now := in.now()
	due := now.Add(in.cfg.Escalation.Delay)
	ev := d.Event
	_, err = d.OnceEach(ctx, d.DB, ids, func(tx *gorm.DB, fresh []string) error {
		for _, id := range fresh {
			r := byID[id]
			err := tx.WithContext(ctx).Exec(`INSERT INTO email_escalations (inbox, domain, event_id, recipient, recipient_email, recipient_name, event, due_at, created_at, updated_at, tenant_id)
VALUES (?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?) ON CONFLICT (inbox, domain, event_id, recipient) DO NOTHING`,
				in.cfg.Name, ev.Domain, ev.ID, r.ID, r.Email, r.Name, string(snapshot), due, now, now, nullable(ev.TenantID)).Error
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("email inbox %s: queue escalations of %s: %w", in.cfg.Name, ev.Ref(), err)
	}
	return nil
}

func (in *Inbox) flushEscalations(ctx context.Context, now time.Time) (int, FlushResult, error) {
	var res FlushResult
	var rows []claimed
	err := in.cfg.DB.WithContext(ctx).Raw(`UPDATE email_escalations SET status = 'sending', attempts = attempts + 1, claimed_at = ?, updated_at = ?
WHERE id IN (
  SELECT id FROM email_escalations
   WHERE inbox = ? AND status IN ('pending', 'retry', 'sending')
     AND ((status = 'pending' AND due_at <= ?) OR (status = 'retry' AND next_attempt_at <= ?) OR (status = 'sending' AND claimed_at <= ?))
   ORDER BY due_at, id
   LIMIT ?
   FOR UPDATE SKIP LOCKED)
RETURNING id, recipient, recipient_email, recipient_name, attempts, event::text AS event, coalesce(tenant_id, '') AS tenant`,
		now, now, in.cfg.Name, now, now, now.Add(-in.cfg.Flush.ClaimTimeout), in.cfg.Flush.BatchSize).Scan(&rows).Error
	if err != nil {
		return 0, res, fmt.Errorf("email inbox %s: claim due escalations: %w", in.cfg.Name, err)
	}
	var errs []error
	for _, c := range rows {
		o := in.sendEscalation(ctx, c, now)
		o.count(&res)
		if err := in.mark(ctx, "email_escalations", c, o, now); err != nil {
			errs = append(errs, err)
		}
	}
	return len(rows), res, errors.Join(errs...)
}

// sendEscalation mails one claimed escalation unless its notification was
// read or its mail muted.
func (in *Inbox) sendEscalation(ctx context.Context, c claimed, now time.Time) outcome {
	ctx = c.tenantContext(ctx)
	var ev activity.Event
	if err := json.Unmarshal([]byte(c.Event), &ev); err != nil {
		return outcome{status: "failed", err: fmt.Errorf("decode the event of escalation %d: %w", c.ID, err)}
	}
	read, err := in.cfg.Escalation.IsRead(ctx, in.cfg.DB, c.Recipient, ev.Ref())
	if err != nil {
		return in.sendOutcome(err, c.Attempts, now, "")
	}
	if read {
		return outcome{status: "dropped"}
	}
	wanted, err := in.stillWanted(ctx, c.Recipient, []activity.Event{ev})
	if err != nil {
		return in.sendOutcome(err, c.Attempts, now, "")
	}
	if len(wanted) == 0 {
		return outcome{status: "dropped"}
	}
	msg, err := in.cfg.Builder.Build(ctx, ev, c.to())
	if err != nil {
		return outcome{status: "failed", err: err}
	}
	return in.send(ctx, msg, c.Attempts, now)
}
