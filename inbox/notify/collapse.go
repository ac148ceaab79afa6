package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// maxActors caps a collapsed notification's Actors.
const maxActors = 50

// split takes the recipients who batch in-app notifications of ev out of
// to, with the end of the window a notification opened now would have.
func (n *Inbox) split(ctx context.Context, db *gorm.DB, ev activity.Event, to []string, now time.Time) ([]string, map[string]time.Time, error) {
	choices, err := n.defaults.Choices(ctx, db, inbox.ChannelApp, ev.Domain, ev.Action, ev.SubjectID, to)
	if err != nil {
		return nil, nil, fmt.Errorf("notify %s: choices for %s: %w", n.name, ev.Ref(), err)
	}
	var batched []string
	for _, r := range to {
		if choices[r].Mode == inbox.Batched {
			batched = append(batched, r)
		}
	}
	if len(batched) == 0 {
		return to, nil, nil
	}
	profiles, err := inbox.ProfilesOf(ctx, db, n.profiles, batched)
	if err != nil {
		return nil, nil, fmt.Errorf("notify %s: profiles: %w", n.name, err)
	}
	collapse := make(map[string]time.Time, len(batched))
	for _, r := range batched {
		collapse[r] = choices[r].Schedule.Close(now, profiles[r].Location)
	}
	return slices.DeleteFunc(slices.Clone(to), func(r string) bool { _, ok := collapse[r]; return ok }), collapse, nil
}

func keysOf(m map[string]time.Time) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// collapseInto adds ev to recipient's open collapsed notification of its
// (subject, action) in ev's tenant, or opens one of that tenant until
// until: a burst in one tenant never collapses into another's row, even
// for the same recipient, subject id and action. It takes the next Seq of
// the recipient's stream in ev's tenant first: that row lock
// (notification_heads) serialises the stream's deliveries, so the find-then-update below never races into
// two open rows. The row moves to the top (created_at, Seq) and is unread
// again.
func (n *Inbox) collapseInto(ctx context.Context, tx *gorm.DB, recipient string, ev activity.Event, until, now time.Time) (Arrival, error) {
	var seq int64
	err := tx.WithContext(ctx).Raw(`INSERT INTO notification_heads AS h (tenant_id, recipient, seq) VALUES (?, ?, 1)
ON CONFLICT (tenant_id, recipient) DO UPDATE SET seq = h.seq + 1 RETURNING seq`, ev.TenantID, recipient).Scan(&seq).Error
	if err != nil {
		return Arrival{}, fmt.Errorf("notify %s: next seq of %s: %w", n.name, recipient, err)
	}
	var open []struct {
		ID     int64
		Actors *string
	}
	err = tx.WithContext(ctx).Raw(`SELECT id, actors::text AS actors FROM notifications
WHERE tenant_id IS NOT DISTINCT FROM ? AND recipient = ? AND domain = ? AND subject_id = ? AND action = ? AND inbox = ? AND collapse_until > ? AND archived_at IS NULL
ORDER BY collapse_until DESC LIMIT 1`, nullTenant(ev.TenantID), recipient, ev.Domain, ev.SubjectID, ev.Action, n.name, now).Scan(&open).Error
	if err != nil {
		return Arrival{}, fmt.Errorf("notify %s: open notification of %s: %w", n.name, recipient, err)
	}
	me := activity.Ref{Type: ev.ActorType, ID: ev.ActorID, Label: ev.ActorLabel}
	actors := []activity.Ref{me}
	if len(open) == 1 && open[0].Actors != nil {
		var had []activity.Ref
		_ = json.Unmarshal([]byte(*open[0].Actors), &had)
		for _, a := range had {
			if (a.Type != me.Type || a.ID != me.ID) && len(actors) < maxActors {
				actors = append(actors, a)
			}
		}
	}
	js, _ := json.Marshal(actors)
	if len(open) == 1 {
		err = tx.WithContext(ctx).Exec(`UPDATE notifications SET seq = ?, item_count = item_count + 1, actors = ?::jsonb,
  actor_type = ?, actor_id = ?, actor_label = ?, record_type = ?, record_id = ?, record_label = ?,
  occurred_at = ?, created_at = ?, read_at = NULL, seen_at = NULL
WHERE id = ?`, seq, string(js), ev.ActorType, ev.ActorID, ev.ActorLabel, ev.RecordType, ev.RecordID, ev.RecordLabel,
			ev.OccurredAt, now, open[0].ID).Error
	} else {
		// Another in-app inbox may have notified the recipient of this
		// event already (notifications_once): then nothing is added, as
		// on the single path, instead of a unique violation that would
		// abort the delivery's transaction.
		var inserted []int64
		err = tx.WithContext(ctx).Raw(`INSERT INTO notifications (recipient, seq, domain, event_id, inbox, action, subject_id, actor_type, actor_id, actor_label,
    record_type, record_id, record_label, occurred_at, created_at, item_count, actors, collapse_until, tenant_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?::jsonb, ?, ?)
ON CONFLICT ON CONSTRAINT notifications_once DO NOTHING
RETURNING seq`,
			recipient, seq, ev.Domain, ev.ID, n.name, ev.Action, ev.SubjectID, ev.ActorType, ev.ActorID, ev.ActorLabel,
			ev.RecordType, ev.RecordID, ev.RecordLabel, ev.OccurredAt, now, string(js), until, nullTenant(ev.TenantID)).Scan(&inserted).Error
		if err == nil && len(inserted) == 0 {
			return Arrival{}, nil // the zero Arrival: nothing arrived
		}
	}
	if err != nil {
		return Arrival{}, fmt.Errorf("notify %s: collapse %s for %s: %w", n.name, ev.Ref(), recipient, err)
	}
	return Arrival{Recipient: recipient, Seq: seq, Tenant: ev.TenantID}, nil
}

// lockHeads locks the notification_heads rows of recipients in tenant
// (the event's, "" when untenanted) in recipient order, creating missing
// ones, before a delivery that mixes collapsed and single notifications
// takes them one by one: two deliveries then never wait on each other in
// opposite orders.
func lockHeads(ctx context.Context, tx *gorm.DB, tenant string, recipients []string) error {
	sorted := slices.Clone(recipients)
	slices.Sort(sorted)
	err := tx.WithContext(ctx).Exec(`INSERT INTO notification_heads (tenant_id, recipient, seq) SELECT ?, r, 0 FROM unnest(?::text[]) AS r ORDER BY r ON CONFLICT DO NOTHING`,
		tenant, pgarray.Text(sorted)).Error
	if err == nil {
		err = tx.WithContext(ctx).Exec(`SELECT 1 FROM notification_heads WHERE tenant_id = ? AND recipient = ANY(?::text[]) ORDER BY recipient FOR UPDATE`,
			tenant, pgarray.Text(sorted)).Error
	}
	if err != nil {
		return fmt.Errorf("notify: lock heads: %w", err)
	}
	return nil
}
