package inbox

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// Delivered lists the effects the deliveries ledger holds for events, in
// event and inbox order: what was sent or done (and what is being sent)
// before a correction. Retracting events (activity.Domain.Retract) undoes
// no email, Slack message or webhook; show this list to whoever must
// follow up by hand. Only the context's tenant's deliveries are listed
// (see TenantOf).
func Delivered(ctx context.Context, db *gorm.DB, events []activity.EventRef) ([]Entry, error) {
	if db == nil {
		return nil, errNilDB
	}
	if len(events) == 0 {
		return nil, nil
	}
	domains := make(pgarray.Text, len(events))
	ids := make(pgarray.Int8, len(events))
	for i, e := range events {
		domains[i], ids[i] = e.Domain, e.ID
	}
	cond, targs := TenantCondition(ctx, "d.")
	rows, err := db.WithContext(ctx).Raw(`SELECT d.inbox, d.domain, d.event_id, d.recipient, d.status, d.attempts, coalesce(d.last_error, ''), d.created_at, d.updated_at
FROM inbox_deliveries d JOIN unnest(?::text[], ?::bigint[]) AS k(domain, event_id) ON d.domain = k.domain AND d.event_id = k.event_id
WHERE d.status IN ('done', 'sent', 'sending') AND `+cond+`
ORDER BY d.event_id, d.inbox, d.recipient`, append([]any{domains, ids}, targs...)...).Rows()
	if err != nil {
		return nil, fmt.Errorf("inbox: delivered: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Inbox, &e.Event.Domain, &e.Event.ID, &e.Recipient, &e.Status, &e.Attempts, &e.LastError, &e.CreatedAt, &e.UpdatedAt); err != nil {
			return nil, fmt.Errorf("inbox: delivered: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
