package workflow

import (
	"context"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/erasesql"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// ErasePerson masks p's personal strings (p.Values) wherever the workflow
// tables copy them (package privacy composes it with the others): rules'
// names, conditions and actions (workflow_rules: a rule that mails p's
// address no longer does), the run log's rule names, explanations and
// errors (workflow_runs), and action results and errors
// (workflow_action_runs). Rule authors (created_by, updated_by) are actor
// keys and stay. Each table is one statement that scans it once.
//
// A masked rule is a rule change like an edit: its version moves on (an
// editor still holding the old version gets a *ConflictError instead of
// writing the old text back), and its domain's version in
// workflow_versions moves on with a notification on NotifyChannel, in the
// same transaction, so every engine, in this process or another, drops
// the cached rule at its next event instead of writing p's name into new
// runs. A job that loaded the rule before the erasure committed may still
// write it once (package privacy's EraseSettled erases again after such
// work).
//
// A person is an identity within a tenant: only the context's tenant's
// rules, runs and action runs are read or changed (see
// inbox.PersonTenantCondition; every tenant's only under
// activity.AcrossTenants without one).
func ErasePerson(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
	v := pgarray.Text(p.Values)
	pt := pgarray.Text(p.Patterns())
	tenant, targs := inbox.PersonTenantCondition(ctx, "", false)
	args := func(parts ...[]any) []any {
		var out []any
		for _, a := range parts {
			out = append(out, a...)
		}
		return out
	}
	steps := []erasesql.Step{
		// The data-modifying CTEs run to completion whatever the last
		// SELECT reads; pg_notify runs once per masked rule and PostgreSQL
		// delivers one notification per domain (duplicates within a
		// transaction fold). Rows affected: the rules masked.
		{Table: "workflow_rules", SQL: `WITH erased AS (
  UPDATE workflow_rules SET name = tidings_mask_text(name, ?), conditions = tidings_mask_jsonb(conditions, ?), actions = tidings_mask_jsonb(actions, ?),
    version = version + 1
  WHERE ` + tenant + ` AND (lower(name) LIKE ANY(?) OR lower(conditions::text) LIKE ANY(?) OR lower(actions::text) LIKE ANY(?))
  RETURNING domain
), bumped AS (
  INSERT INTO workflow_versions (domain, version) SELECT DISTINCT domain, 1 FROM erased
  ON CONFLICT (domain) DO UPDATE SET version = workflow_versions.version + 1
)
SELECT pg_notify(?, domain) FROM erased`, Args: args([]any{v, v, v}, targs, []any{pt, pt, pt, NotifyChannel})},
		{Table: "workflow_runs", SQL: `UPDATE workflow_runs SET rule_name = tidings_mask_text(rule_name, ?), explanation = tidings_mask_text(explanation, ?), error = tidings_mask_text(error, ?)
WHERE ` + tenant + ` AND (lower(rule_name) LIKE ANY(?) OR lower(explanation) LIKE ANY(?) OR lower(error) LIKE ANY(?))`, Args: args([]any{v, v, v}, targs, []any{pt, pt, pt})},
		{Table: "workflow_action_runs", SQL: `UPDATE workflow_action_runs SET result = tidings_mask_jsonb(result, ?), error = tidings_mask_text(error, ?)
WHERE ` + tenant + ` AND (lower(result::text) LIKE ANY(?) OR lower(error) LIKE ANY(?))`, Args: args([]any{v, v}, targs, []any{pt, pt})},
	}
	return erasesql.Run(ctx, db, "workflow", p, steps)
}
