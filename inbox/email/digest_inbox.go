package email

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

// DigestConfig makes an Inbox a digest inbox: one digest per recipient
// per period for everyone, on the shared batching step (package
// inbox/batch; InboxConfig.Batching lets each person choose instead).
//
// Process adds each (recipient, event) once, in the ledger's transaction,
// to the recipient's open window, which closes at the end of the period
// (Hourly, or Daily at the recipient's midnight, in Recipient.Location or
// Location). An event processed after its period ended joins the current
// one; one processed while Flush is sending the window joins the next. So
// an event is listed exactly once: never in two digests (the ledger row),
// never in a digest already sent (claiming seals a window, under the row
// lock the queueing takes), never dropped.
//
// Flush claims the windows whose period ended and mails each, listing its
// events grouped by subject (Builder.BuildDigest), with a Message-ID
// derived from the recipient and the (sealed) set of events, so a retried
// digest is the same mail. Events muted since they were queued are left
// out. (Until this release digests had tables of their own, email_digests
// and email_digest_items; they are no longer written.)
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

// schedule is the period as a batch schedule.
func (c DigestConfig) schedule() inbox.Schedule {
	if c.Period == Hourly {
		return inbox.EveryHour()
	}
	return inbox.DailyAt(0, 0)
}

// queueDigest adds the event to each fresh recipient's open window.
func (in *Inbox) queueDigest(ctx context.Context, d *inbox.Delivery, to []Recipient) error {
	byID := make(map[string]Recipient, len(to))
	ids := make([]string, len(to))
	for i, r := range to {
		byID[r.ID], ids[i] = r, r.ID
	}
	var joined []batch.Joined
	_, err := d.OnceEach(ctx, d.DB, ids, func(tx *gorm.DB, fresh []string) error {
		joined = joined[:0]
		for _, id := range fresh {
			r := byID[id]
			loc := r.Location
			if loc == nil {
				loc = in.cfg.Digest.Location
			}
			j, err := in.batcher.Add(ctx, tx, batch.AddRequest{Recipient: id, Schedule: in.cfg.Digest.schedule(), Location: loc,
				Locale: r.Locale, Profile: profile{ID: r.ID, Name: r.Name, Email: r.Email, Locale: r.Locale}, Event: d.Event, Tenant: d.Event.TenantID})
			if err != nil {
				return err
			}
			joined = append(joined, j)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("email inbox %s: queue %s for digests: %w", in.cfg.Name, d.Event.Ref(), err)
	}
	in.batcher.Scheduled(ctx, joined...)
	return nil
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
	spent := 0
	if o.uncounted {
		spent = 1 // the claim counted an attempt the breaker did not make
	}
	args := []any{o.status, nullable(o.messageID), o.lastError(), o.nextAttempt(), spent}
	if sentAt != "" {
		args = append(args, o.status, now)
	}
	args = append(args, now, c.ID, c.Attempts)
	res := in.cfg.DB.WithContext(mctx).Exec(`UPDATE `+table+` SET status = ?, message_id = coalesce(?, message_id), last_error = ?, next_attempt_at = ?, attempts = attempts - ?`+sentAt+`, updated_at = ?
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
