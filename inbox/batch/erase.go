package batch

import (
	"context"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/erasesql"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// ErasePerson removes or masks p's personal data in the batching tables
// (package privacy composes it with the other erasers), whatever the
// windows' status:
//
//   - p's own windows are deleted with their items: those whose recipient
//     is p's key (an email digest for p: what was not sent yet is not
//     sent), or mentions one of p.Values (a Slack window routed to p's
//     Slack user ID);
//   - in everyone else's windows, the event snapshots (batch_items.event)
//     of events p did (actor) lose their label, IP address and user agent,
//     those about p as a record their record label, and every string of a
//     snapshot that mentions one of p.Values is masked, as in the events
//     table;
//   - a window's profile (the recipient's name and address) and last
//     error that mention one of p.Values are masked.
//
// A person is an identity within a tenant: only the context's tenant's
// windows and items are read or changed (see inbox.PersonTenantCondition;
// every tenant's only under activity.AcrossTenants without one).
//
// Batch keys (a subject's key) stay, like recipient keys in the ledger.
// Three statements; each table is scanned once per erasure. A flusher
// that loaded a window before the erasure may still deliver the old copy.
func ErasePerson(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
	vals := pgarray.Text(p.Values)
	pats := pgarray.Text(p.Patterns())
	tenant, targs := inbox.PersonTenantCondition(ctx, "", true)
	snapshot, snapArgs := erasesql.Snapshot("event", p)
	snapWhere, whereArgs := erasesql.SnapshotWhere("event", p)
	args := func(parts ...[]any) []any {
		var out []any
		for _, a := range parts {
			out = append(out, a...)
		}
		return out
	}
	steps := []erasesql.Step{
		{Table: "batch_windows", SQL: `DELETE FROM batch_windows WHERE ` + tenant + ` AND (recipient = ? OR (lower(recipient) LIKE ANY(?) AND tidings_mentions(recipient, ?)))`,
			Args: args(targs, []any{p.ID, pats, vals})},
		{Table: "batch_items", SQL: `UPDATE batch_items SET event = ` + snapshot + ` WHERE ` + tenant + ` AND ` + snapWhere,
			Args: args(snapArgs, targs, whereArgs)},
		{Table: "batch_windows", SQL: `UPDATE batch_windows SET profile = tidings_mask_jsonb(profile, ?), last_error = tidings_mask_text(last_error, ?)
WHERE ` + tenant + ` AND (lower(profile::text) LIKE ANY(?) OR lower(last_error) LIKE ANY(?))`,
			Args: args([]any{vals, vals}, targs, []any{pats, pats})},
	}
	return erasesql.Run(ctx, db, "batch", p, steps)
}
