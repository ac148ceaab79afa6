package inbox

import (
	"context"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/erasesql"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// ErasePerson removes or masks p's personal data in the tables of this
// package (package privacy composes it with the others), in the context's
// tenant (see PersonTenantCondition: a person is an identity within a
// tenant, and another tenant's rows are never touched):
//
//   - notification_preferences and notification_delivery: p's rows
//     (recipient p.ID) are deleted;
//   - error texts of inbox_deliveries and activity_outbox that mention
//     one of p.Values are masked ("[erased]");
//   - in the operator's tables, which have no tenant (the addresses of
//     inbox_suppressions, the error texts of inbox_dead_letters, a
//     backfill's error, query and creator in inbox_backfills), entries
//     whose address is one of p.Values (ignoring case) are deleted (the
//     address is no longer suppressed: it names nobody the app knows any
//     more), and every mention of p.Values is masked.
//
// Recipient keys (p.ID) stay in the ledger: they are the app's key of the
// person, needed to keep a retried job from sending twice, and name nobody
// once the app deleted its own row. Each table is one statement; the
// error texts are scanned in full, once per erasure.
func ErasePerson(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
	vals := pgarray.Text(p.Values)
	pats := pgarray.Text(p.Patterns())
	keyed, keyedArgs := PersonTenantCondition(ctx, "", true)
	tenant, tenantArgs := PersonTenantCondition(ctx, "", false)
	with := func(targs []any, args ...any) []any { return append(append([]any{}, targs...), args...) }
	steps := []erasesql.Step{
		{Table: "notification_preferences", SQL: `DELETE FROM notification_preferences WHERE ` + keyed + ` AND recipient = ?`, Args: with(keyedArgs, p.ID)},
		{Table: "notification_delivery", SQL: `DELETE FROM notification_delivery WHERE ` + keyed + ` AND recipient = ?`, Args: with(keyedArgs, p.ID)},
		{Table: "inbox_suppressions", SQL: `DELETE FROM inbox_suppressions WHERE lower(address) = ANY(?)`, Args: []any{pgarray.Text(p.LowerValues())}},
		{Table: "inbox_suppressions", SQL: `UPDATE inbox_suppressions SET source = tidings_mask_text(source, ?), detail = tidings_mask_text(detail, ?)
WHERE lower(source) LIKE ANY(?) OR lower(detail) LIKE ANY(?)`, Args: []any{vals, vals, pats, pats}},
		{Table: "inbox_deliveries", SQL: `UPDATE inbox_deliveries SET last_error = tidings_mask_text(last_error, ?) WHERE ` + tenant + ` AND lower(last_error) LIKE ANY(?)`, Args: append(with([]any{vals}, tenantArgs...), pats)},
		{Table: "inbox_dead_letters", SQL: `UPDATE inbox_dead_letters SET last_error = tidings_mask_text(last_error, ?) WHERE lower(last_error) LIKE ANY(?)`, Args: []any{vals, pats}},
		{Table: "activity_outbox", SQL: `UPDATE activity_outbox SET last_error = tidings_mask_text(last_error, ?) WHERE ` + tenant + ` AND lower(last_error) LIKE ANY(?)`, Args: append(with([]any{vals}, tenantArgs...), pats)},
		{Table: "inbox_backfills", SQL: `UPDATE inbox_backfills SET last_error = tidings_mask_text(last_error, ?), created_by = tidings_mask_text(created_by, ?),
  query = tidings_mask_jsonb(query, ?)
WHERE lower(last_error) LIKE ANY(?) OR lower(created_by) LIKE ANY(?) OR lower(query::text) LIKE ANY(?)`, Args: []any{vals, vals, vals, pats, pats, pats}},
	}
	return erasesql.Run(ctx, db, "inbox", p, steps)
}
