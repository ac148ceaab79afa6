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

// DigestConfig makes an Inbox a digest inbox.
//
// Process queues each (recipient, event) once, in the ledger's
// transaction, as a row of email_digest_items under the recipient's
// digest for the period the event occurred in (email_digests, one row per
// inbox, recipient and period). When that period has already ended by the
// time the event is processed (a late or retried job), the event joins the
// current period instead; when a digest was already claimed by Flush, the
// event joins the next period. So an event is listed exactly once: never in
// two digests (the ledger row), never in a digest already sent (claiming
// seals a digest, under the row lock the queueing takes), never dropped.
//
// Flush claims the digests whose period ended and mails each, listing its
// events grouped by subject (Builder.BuildDigest), with a Message-ID
// derived from the recipient and the (sealed) set of events, so a retried
// digest is the same mail.
type DigestConfig struct {
	// Period is the digest period. Default Daily.
	Period Period
	// Location is the time zone of recipients without one
	// (Recipient.Location). Default UTC.
	Location *time.Location
}

func (c DigestConfig) withDefaults() (DigestConfig, error) {
	if c.Period != Daily && c.Period != Hourly {
		return c, &inbox.ConfigError{Field: "email.DigestConfig.Period", Reason: fmt.Sprintf("%d is not email.Daily or email.Hourly", int(c.Period))}
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	return c, nil
}

// maxPeriodHops bounds the search for an open period: each hop past a
// sealed one means a Flush sealed it in between, which cannot happen many
// times within one transaction.
const maxPeriodHops = 100

// queueDigest records the event in each fresh recipient's open digest.
func (in *Inbox) queueDigest(ctx context.Context, d *inbox.Delivery, to []Recipient) error {
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
	_, err = d.OnceEach(ctx, d.DB, ids, func(tx *gorm.DB, fresh []string) error {
		for _, id := range fresh {
			if err := in.addDigestItem(ctx, tx, byID[id], d.Event, string(snapshot), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("email inbox %s: queue %s for digests: %w", in.cfg.Name, d.Event.Ref(), err)
	}
	return nil
}

func (in *Inbox) addDigestItem(ctx context.Context, tx *gorm.DB, r Recipient, ev activity.Event, snapshot string, now time.Time) error {
	dc := in.cfg.Digest
	loc := r.Location
	if loc == nil {
		loc = dc.Location
	}
	at := ev.OccurredAt
	if at.IsZero() {
		at = now
	}
	start := dc.Period.Start(at, loc)
	if !dc.Period.Next(start, loc).After(now) {
		start = dc.Period.Start(now, loc) // its period is over: join the current one
	}
	for range maxPeriodHops {
		due := dc.Period.Next(start, loc)
		// The upsert locks an open digest's row until the ledger's
		// transaction commits, so Flush (SKIP LOCKED) cannot seal it
		// under us; a sealed one returns no row.
		var id []int64
		// One digest per tenant: a person in two organisations gets
		// each one's events in its own mail.
		err := tx.WithContext(ctx).Raw(`INSERT INTO email_digests AS g (inbox, recipient, period_start, due_at, recipient_email, recipient_name, time_zone, created_at, updated_at, tenant_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (inbox, tenant_id, recipient, period_start) DO UPDATE
   SET recipient_email = EXCLUDED.recipient_email, recipient_name = EXCLUDED.recipient_name, updated_at = EXCLUDED.updated_at
 WHERE g.status = 'open'
RETURNING g.id`, in.cfg.Name, r.ID, start, due, r.Email, r.Name, loc.String(), now, now, ev.TenantID).Scan(&id).Error
		if err != nil {
			return fmt.Errorf("open digest of %s: %w", r.ID, err)
		}
		if len(id) == 1 {
			err = tx.WithContext(ctx).Exec(`INSERT INTO email_digest_items (digest_id, domain, event_id, event, created_at)
VALUES (?, ?, ?, ?::jsonb, ?) ON CONFLICT DO NOTHING`, id[0], ev.Domain, ev.ID, snapshot, now).Error
			if err != nil {
				return fmt.Errorf("add %s to digest of %s: %w", ev.Ref(), r.ID, err)
			}
			return nil
		}
		start = due // sealed: the next period
	}
	return fmt.Errorf("no open digest period for %s within %d periods of %s", r.ID, maxPeriodHops, start)
}

// claimed is one digest or escalation row a Flush claimed.
type claimed struct {
	ID             int64
	Recipient      string
	RecipientEmail string
	RecipientName  string
	TimeZone       string
	Attempts       int
	Event          string // escalations: the event snapshot
	Tenant         string // the events' tenant ("" when untenanted)
}

// tenantContext is ctx under the claimed row's tenant, so the preferences
// and notifications a flush consults are that tenant's.
func (c claimed) tenantContext(ctx context.Context) context.Context {
	return activity.WithTenant(ctx, c.Tenant)
}

func (c claimed) to() Recipient {
	r := Recipient{ID: c.Recipient, Name: c.RecipientName, Email: c.RecipientEmail}
	if c.TimeZone != "" {
		if loc, err := time.LoadLocation(c.TimeZone); err == nil {
			r.Location = loc
		}
	}
	return r
}

func (in *Inbox) flushDigests(ctx context.Context, now time.Time) (int, FlushResult, error) {
	var res FlushResult
	var rows []claimed
	err := in.cfg.DB.WithContext(ctx).Raw(`UPDATE email_digests SET status = 'sending', attempts = attempts + 1, claimed_at = ?, updated_at = ?
WHERE id IN (
  SELECT id FROM email_digests
   WHERE inbox = ? AND status IN ('open', 'retry', 'sending')
     AND ((status = 'open' AND due_at <= ?) OR (status = 'retry' AND next_attempt_at <= ?) OR (status = 'sending' AND claimed_at <= ?))
   ORDER BY due_at, id
   LIMIT ?
   FOR UPDATE SKIP LOCKED)
RETURNING id, recipient, recipient_email, recipient_name, time_zone, attempts, tenant_id AS tenant`,
		now, now, in.cfg.Name, now, now, now.Add(-in.cfg.Flush.ClaimTimeout), in.cfg.Flush.BatchSize).Scan(&rows).Error
	if err != nil {
		return 0, res, fmt.Errorf("email inbox %s: claim due digests: %w", in.cfg.Name, err)
	}
	var errs []error
	for _, c := range rows {
		o := in.sendDigest(ctx, c, now)
		o.count(&res)
		if err := in.mark(ctx, "email_digests", c, o, now); err != nil {
			errs = append(errs, err)
		}
	}
	return len(rows), res, errors.Join(errs...)
}

// sendDigest mails one claimed digest.
func (in *Inbox) sendDigest(ctx context.Context, c claimed, now time.Time) outcome {
	ctx = c.tenantContext(ctx)
	var snaps []string
	err := in.cfg.DB.WithContext(ctx).Raw(`SELECT event::text FROM email_digest_items WHERE digest_id = ? ORDER BY created_at, event_id`, c.ID).Scan(&snaps).Error
	if err != nil {
		return in.sendOutcome(fmt.Errorf("load digest %d: %w", c.ID, err), c.Attempts, now, "")
	}
	to := c.to()
	var events []activity.Event
	for _, s := range snaps {
		var ev activity.Event
		if err := json.Unmarshal([]byte(s), &ev); err != nil {
			return outcome{status: "failed", err: fmt.Errorf("decode an event of digest %d: %w", c.ID, err)}
		}
		events = append(events, ev)
	}
	events, err = in.stillWanted(ctx, to.ID, events)
	if err != nil {
		return in.sendOutcome(err, c.Attempts, now, "")
	}
	if len(events) == 0 {
		return outcome{status: "dropped"}
	}
	msg, err := in.cfg.Builder.BuildDigest(ctx, to, events)
	if err != nil {
		return outcome{status: "failed", err: err}
	}
	return in.sendOutcome(in.cfg.Transport.Send(ctx, msg), c.Attempts, now, msg.MessageID)
}

// stillWanted drops the events recipient muted after they were queued
// (a digest's unsubscribe link, a settings page).
func (in *Inbox) stillWanted(ctx context.Context, recipient string, events []activity.Event) ([]activity.Event, error) {
	wanted := map[[3]string]bool{}
	check := func(domain, action, subject string) (bool, error) {
		k := [3]string{domain, action, subject}
		if w, ok := wanted[k]; ok {
			return w, nil
		}
		ok, err := in.cfg.Defaults.Wanted(ctx, in.cfg.DB, in.cfg.Channel, domain, action, subject, []string{recipient})
		if err != nil {
			return false, err
		}
		wanted[k] = len(ok) == 1
		return wanted[k], nil
	}
	out := events[:0:0]
	for _, ev := range events {
		want, err := check(ev.Domain, ev.Action, ev.SubjectID)
		if err != nil {
			return nil, err
		}
		if want {
			out = append(out, ev)
		}
	}
	return out, nil
}

// mark records what became of a claimed row of table (email_digests or
// email_escalations), unless another flusher took it over meanwhile.
func (in *Inbox) mark(ctx context.Context, table string, c claimed, o outcome, now time.Time) error {
	// The mark must be written even when ctx ended during the send.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	sentAt := ""
	if table == "email_digests" {
		sentAt = ", sent_at = CASE WHEN ? = 'sent' THEN ?::timestamptz ELSE sent_at END"
	}
	args := []any{o.status, nullable(o.messageID), o.lastError(), o.nextAttempt()}
	if sentAt != "" {
		args = append(args, o.status, now)
	}
	args = append(args, now, c.ID, c.Attempts)
	res := in.cfg.DB.WithContext(mctx).Exec(`UPDATE `+table+` SET status = ?, message_id = coalesce(?, message_id), last_error = ?, next_attempt_at = ?`+sentAt+`, updated_at = ?
WHERE id = ? AND status = 'sending' AND attempts = ?`, args...)
	if res.Error != nil {
		return fmt.Errorf("email inbox %s: mark %s %d %s: %w", in.cfg.Name, table, c.ID, o.status, res.Error)
	}
	if res.RowsAffected == 0 {
		in.log.WarnContext(ctx, "email: a claimed mail was taken over by another flusher before it was marked (raise FlushPolicy.ClaimTimeout)",
			"inbox", in.cfg.Name, "table", table, "id", c.ID, "status", o.status)
	}
	if o.status == "failed" {
		in.log.ErrorContext(ctx, "email: mail failed for good", "inbox", in.cfg.Name, "table", table, "id", c.ID, "recipient", c.Recipient, "error", o.err)
	}
	return nil
}
