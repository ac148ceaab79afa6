package email

import (
	"context"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
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
// Digests and batched mail wait in windows of package inbox/batch since
// migration 00018: batch.ErasePerson erases those. Each step is one
// statement; snapshots are scanned once per erasure.
func ErasePerson(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
	vals := pgarray.Text(p.Values)
	pats := pgarray.Text(p.Patterns())
	// A snapshot of an event: mask p's roles, then p's values.
	snapshot, snapArgs := erasesql.Snapshot("event", p)
	snapWhere, whereArgs := erasesql.SnapshotWhere("event", p)
	steps := []erasesql.Step{
		{Table: "email_digests", SQL: `DELETE FROM email_digests WHERE recipient = ? OR lower(recipient_email) = ANY(?)`, Args: []any{p.ID, pgarray.Text(p.LowerValues())}},
		{Table: "email_escalations", SQL: `DELETE FROM email_escalations WHERE recipient = ? OR lower(recipient_email) = ANY(?)`, Args: []any{p.ID, pgarray.Text(p.LowerValues())}},
		{Table: "email_digest_items", SQL: `UPDATE email_digest_items SET event = ` + snapshot + ` WHERE ` + snapWhere, Args: append(append([]any{}, snapArgs...), whereArgs...)},
		{Table: "email_escalations", SQL: `UPDATE email_escalations SET event = ` + snapshot + `,
  recipient_name = tidings_mask_text(recipient_name, ?), last_error = tidings_mask_text(last_error, ?)
WHERE ` + snapWhere + ` OR lower(recipient_name) LIKE ANY(?) OR lower(last_error) LIKE ANY(?)`, Args: append(append(append(append([]any{}, snapArgs...), vals, vals), whereArgs...), pats, pats)},
		{Table: "email_digests", SQL: `UPDATE email_digests SET recipient_name = tidings_mask_text(recipient_name, ?), last_error = tidings_mask_text(last_error, ?)
WHERE lower(recipient_name) LIKE ANY(?) OR lower(last_error) LIKE ANY(?)`, Args: []any{vals, vals, pats, pats}},
	}
	return erasesql.Run(ctx, db, "email", p, steps)
}
