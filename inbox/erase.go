package inbox

import (
	"context"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/erasesql"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// ErasePerson removes or masks p's personal data in the tables of this
// package (package privacy composes it with the others):
//
//   - notification_preferences and notification_delivery: p's rows
//     (recipient p.ID) are deleted;
//   - inbox_suppressions: entries whose address is one of p.Values
//     (ignoring case) are deleted (the address is no longer suppressed: it names nobody
//     the app knows any more), others' source and detail masked;
//   - error texts of inbox_deliveries, inbox_dead_letters, activity_outbox
//     and inbox_backfills (and a backfill's query and creator) that
//     mention one of p.Values are masked ("[erased]").
//
// Recipient keys (p.ID) stay in the ledger: they are the app's key of the
// person, needed to keep a retried job from sending twice, and name nobody
// once the app deleted its own row. Each table is one statement; the
// error texts are scanned in full, once per erasure.
func ErasePerson(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
	vals := pgarray.Text(p.Values)
	pats := pgarray.Text(p.Patterns())
	steps := []erasesql.Step{
		{Table: "notification_preferences", SQL: `DELETE FROM notification_preferences WHERE recipient = ?`, Args: []any{p.ID}},
		{Table: "notification_delivery", SQL: `DELETE FROM notification_delivery WHERE recipient = ?`, Args: []any{p.ID}},
		{Table: "inbox_suppressions", SQL: `DELETE FROM inbox_suppressions WHERE lower(address) = ANY(?)`, Args: []any{pgarray.Text(p.LowerValues())}},
		{Table: "inbox_suppressions", SQL: `UPDATE inbox_suppressions SET source = tidings_mask_text(source, ?), detail = tidings_mask_text(detail, ?)
WHERE lower(source) LIKE ANY(?) OR lower(detail) LIKE ANY(?)`, Args: []any{vals, vals, pats, pats}},
		{Table: "inbox_deliveries", SQL: `UPDATE inbox_deliveries SET last_error = tidings_mask_text(last_error, ?) WHERE lower(last_error) LIKE ANY(?)`, Args: []any{vals, pats}},
		{Table: "inbox_dead_letters", SQL: `UPDATE inbox_dead_letters SET last_error = tidings_mask_text(last_error, ?) WHERE lower(last_error) LIKE ANY(?)`, Args: []any{vals, pats}},
		{Table: "activity_outbox", SQL: `UPDATE activity_outbox SET last_error = tidings_mask_text(last_error, ?) WHERE lower(last_error) LIKE ANY(?)`, Args: []any{vals, pats}},
		{Table: "inbox_backfills", SQL: `UPDATE inbox_backfills SET last_error = tidings_mask_text(last_error, ?), created_by = tidings_mask_text(created_by, ?),
  query = tidings_mask_jsonb(query, ?)
WHERE lower(last_error) LIKE ANY(?) OR lower(created_by) LIKE ANY(?) OR lower(query::text) LIKE ANY(?)`, Args: []any{vals, vals, vals, pats, pats, pats}},
	}
	return erasesql.Run(ctx, db, "inbox", p, steps)
}
