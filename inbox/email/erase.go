package email

import (
	"context"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/erasesql"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// ErasePerson removes or masks p's personal data in the email tables
// (package privacy composes it with the others):
//
//   - p's own digests (recipient p.ID, or an address among p.Values) and
//     their items, and p's own escalations, are deleted: mail not yet sent
//     to p is not sent;
//   - in everyone else's digest items and escalations, the event
//     snapshots of events p did (actor) lose their label, IP address and
//     user agent, those about p as a record their record label, and every
//     string of a snapshot that mentions one of p.Values is masked;
//   - error texts and recipient names that mention p.Values are masked.
//
// A person is an identity within a tenant: only the context's tenant's
// digests (with their items) and escalations are read or changed (see
// inbox.PersonTenantCondition; every tenant's only under
// activity.AcrossTenants without one).
//
// Digests and batched mail wait in windows of package inbox/batch since
// migration 00018: batch.ErasePerson erases those. Each step is one
// statement; snapshots are scanned once per erasure.
func ErasePerson(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
	vals := pgarray.Text(p.Values)
	pats := pgarray.Text(p.Patterns())
	lower := pgarray.Text(p.LowerValues())
	digests, dargs := inbox.PersonTenantCondition(ctx, "", true)
	items, iargs := inbox.PersonTenantCondition(ctx, "d.", true)
	escalations, eargs := inbox.PersonTenantCondition(ctx, "", false)
	// A snapshot of an event: mask p's roles, then p's values.
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
		{Table: "email_digests", SQL: `DELETE FROM email_digests WHERE ` + digests + ` AND (recipient = ? OR lower(recipient_email) = ANY(?))`,
			Args: args(dargs, []any{p.ID, lower})},
		{Table: "email_escalations", SQL: `DELETE FROM email_escalations WHERE ` + escalations + ` AND (recipient = ? OR lower(recipient_email) = ANY(?))`,
			Args: args(eargs, []any{p.ID, lower})},
		{Table: "email_digest_items", SQL: `UPDATE email_digest_items SET event = ` + snapshot + `
WHERE EXISTS (SELECT 1 FROM email_digests d WHERE d.id = digest_id AND ` + items + `) AND ` + snapWhere,
			Args: args(snapArgs, iargs, whereArgs)},
		{Table: "email_escalations", SQL: `UPDATE email_escalations SET event = ` + snapshot + `,
  recipient_name = tidings_mask_text(recipient_name, ?), last_error = tidings_mask_text(last_error, ?)
WHERE ` + escalations + ` AND (` + snapWhere + ` OR lower(recipient_name) LIKE ANY(?) OR lower(last_error) LIKE ANY(?))`,
			Args: args(snapArgs, []any{vals, vals}, eargs, whereArgs, []any{pats, pats})},
		{Table: "email_digests", SQL: `UPDATE email_digests SET recipient_name = tidings_mask_text(recipient_name, ?), last_error = tidings_mask_text(last_error, ?)
WHERE ` + digests + ` AND (lower(recipient_name) LIKE ANY(?) OR lower(last_error) LIKE ANY(?))`,
			Args: args([]any{vals, vals}, dargs, []any{pats, pats})},
	}
	return erasesql.Run(ctx, db, "email", p, steps)
}
