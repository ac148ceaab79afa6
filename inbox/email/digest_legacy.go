package email

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// Digests queued before they moved onto package inbox/batch sit in
// email_digests and email_digest_items. Flush keeps draining them (nothing
// new is written there), so an upgrade with digests open loses none.

// flushLegacyDigests sends the due digests of the old tables.
func (in *Inbox) flushLegacyDigests(ctx context.Context, now time.Time) (int, FlushResult, error) {
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
RETURNING id, recipient, recipient_email, recipient_name, time_zone, attempts`,
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
	return in.send(ctx, msg, c.Attempts, now)
}
