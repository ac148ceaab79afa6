package workflow

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
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
	if db == nil {
		return nil, fmt.Errorf("%w: nil *gorm.DB", ErrInvalidConfig)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	db = db.Session(&gorm.Session{NewDB: true, Context: ctx})
	v := pgarray.Text(p.Values)
	pt := pgarray.Text(p.Patterns())
	out := activity.Erased{}
	steps := []struct {
		table, sql string
		args       []any
	}{
		{"workflow_runs", `UPDATE workflow_runs SET rule_name = tidings_mask_text(rule_name, ?), explanation = tidings_mask_text(explanation, ?), error = tidings_mask_text(error, ?)
WHERE lower(rule_name) LIKE ANY(?) OR lower(explanation) LIKE ANY(?) OR lower(error) LIKE ANY(?)`, []any{v, v, v, pt, pt, pt}},
		{"workflow_action_runs", `UPDATE workflow_action_runs SET result = tidings_mask_jsonb(result, ?), error = tidings_mask_text(error, ?)
WHERE lower(result::text) LIKE ANY(?) OR lower(error) LIKE ANY(?)`, []any{v, v, pt, pt}},
		{"workflow_rules", `UPDATE workflow_rules SET name = tidings_mask_text(name, ?), conditions = tidings_mask_jsonb(conditions, ?), actions = tidings_mask_jsonb(actions, ?)
WHERE lower(name) LIKE ANY(?) OR lower(conditions::text) LIKE ANY(?) OR lower(actions::text) LIKE ANY(?)`, []any{v, v, v, pt, pt, pt}},
	}
	for _, s := range steps {
		res := db.Exec(s.sql, s.args...)
		if res.Error != nil {
			return out, fmt.Errorf("workflow: erase %s from %s: %w", p.Ref(), s.table, res.Error)
		}
		out.Add(s.table, res.RowsAffected)
	}
	return out, nil
}
