package workflow

import (
	"context"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/erasesql"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// ErasePerson masks p's personal strings (p.Values) wherever the workflow
// tables copy them (package privacy composes it with the others): the run
// log's explanations and errors (workflow_runs), action results and errors
// (workflow_action_runs), and rules' names, conditions and actions
// (workflow_rules: a rule that mails p's address no longer does). Rule
// authors (created_by, updated_by) are actor keys and stay. Each table is
// one statement that scans it once.
func ErasePerson(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error) {
	v := pgarray.Text(p.Values)
	pt := pgarray.Text(p.Patterns())
	steps := []erasesql.Step{
		{Table: "workflow_runs", SQL: `UPDATE workflow_runs SET rule_name = tidings_mask_text(rule_name, ?), explanation = tidings_mask_text(explanation, ?), error = tidings_mask_text(error, ?)
WHERE lower(rule_name) LIKE ANY(?) OR lower(explanation) LIKE ANY(?) OR lower(error) LIKE ANY(?)`, Args: []any{v, v, v, pt, pt, pt}},
		{Table: "workflow_action_runs", SQL: `UPDATE workflow_action_runs SET result = tidings_mask_jsonb(result, ?), error = tidings_mask_text(error, ?)
WHERE lower(result::text) LIKE ANY(?) OR lower(error) LIKE ANY(?)`, Args: []any{v, v, pt, pt}},
		{Table: "workflow_rules", SQL: `UPDATE workflow_rules SET name = tidings_mask_text(name, ?), conditions = tidings_mask_jsonb(conditions, ?), actions = tidings_mask_jsonb(actions, ?)
WHERE lower(name) LIKE ANY(?) OR lower(conditions::text) LIKE ANY(?) OR lower(actions::text) LIKE ANY(?)`, Args: []any{v, v, v, pt, pt, pt}},
	}
	return erasesql.Run(ctx, db, "workflow", p, steps)
}
