package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// Run is one rule's run for one event, as the run log keeps it.
type Run struct {
	ID          int64
	RuleID      int64
	RuleName    string // the rule's name when it ran
	Event       activity.EventRef
	EventAction string
	SubjectID   string
	Status      RunStatus
	Matched     bool
	// Explanation says why the conditions held or not:
	// "conditions[0]: subject.created_at (2021-03-04) is lt 2022-01-01".
	Explanation string
	// Error says what failed or stopped the run:
	// "stopped: causation depth limit: actions[0] (record_event): ...".
	Error      string
	Attempts   int
	StartedAt  time.Time
	FinishedAt *time.Time
	// Actions are the runs of the rule's actions, by index; an action
	// that has not run has none.
	Actions []ActionRun
}

// ActionRun is one action's run for one event.
type ActionRun struct {
	Index      int
	Type       string
	Status     ActionStatus
	Result     *Result // what a finished action reported
	Error      string  // the last failure
	Attempts   int
	StartedAt  time.Time
	FinishedAt *time.Time
}

// RunQuery selects runs from the log. Set fields must all hold.
type RunQuery struct {
	RuleID  int64
	Event   *activity.EventRef
	Matched *bool
	Status  RunStatus
	// BeforeID continues a list before the last run of the previous page.
	BeforeID int64
	// Limit is the page size. Default 50, at most 500.
	Limit int
}

// Runs returns the runs q selects, newest first, with their actions.
func (s *Rules) Runs(ctx context.Context, q RunQuery) ([]Run, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	cond, targs := inbox.TenantCondition(ctx, "")
	add(cond, targs...)
	if q.RuleID != 0 {
		add("rule_id = ?", q.RuleID)
	}
	if q.Event != nil {
		add("domain = ? AND event_id = ?", q.Event.Domain, q.Event.ID)
	}
	if q.Matched != nil {
		add("matched = ?", *q.Matched)
	}
	if q.Status != "" {
		add("status = ?", string(q.Status))
	}
	if q.BeforeID > 0 {
		add("id < ?", q.BeforeID)
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = 50
	case limit < 0 || limit > 500:
		return nil, &ValidationError{Problems: []Problem{{Field: "limit", Message: fmt.Sprintf("is %d; allowed: 1 to 500 (0 means 50)", q.Limit)}}}
	}
	clause := ""
	if len(where) > 0 {
		clause = "WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.WithContext(ctx).Raw(`SELECT id, rule_id, rule_name, domain, event_id, event_action, subject_id, status, matched,
    explanation, coalesce(error, ''), attempts, started_at, finished_at
FROM workflow_runs `+clause+fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit), args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("workflow: read runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	type key struct {
		domain string
		event  int64
		rule   int64
	}
	byKey := map[key]int{}
	var events []int64
	var domains []string
	for rows.Next() {
		var r Run
		var status string
		if err := rows.Scan(&r.ID, &r.RuleID, &r.RuleName, &r.Event.Domain, &r.Event.ID, &r.EventAction, &r.SubjectID, &status, &r.Matched,
			&r.Explanation, &r.Error, &r.Attempts, &r.StartedAt, &r.FinishedAt); err != nil {
			return nil, fmt.Errorf("workflow: read runs: %w", err)
		}
		r.Status = RunStatus(status)
		byKey[key{r.Event.Domain, r.Event.ID, r.RuleID}] = len(out)
		if _, seen := byKey[key{r.Event.Domain, r.Event.ID, 0}]; !seen {
			byKey[key{r.Event.Domain, r.Event.ID, 0}] = -1
			events = append(events, r.Event.ID)
			domains = append(domains, r.Event.Domain)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(out) == 0 {
		return out, nil
	}
	arows, err := s.db.WithContext(ctx).Raw(`SELECT a.domain, a.event_id, a.rule_id, a.action_index, a.type, a.status, a.result,
    coalesce(a.error, ''), a.attempts, a.started_at, a.finished_at
FROM workflow_action_runs a JOIN unnest(?::text[], ?::bigint[]) AS k(d, e) ON a.domain = k.d AND a.event_id = k.e
ORDER BY a.action_index`, pgarray.Text(domains), pgarray.Int8(events)).Rows()
	if err != nil {
		return nil, fmt.Errorf("workflow: read action runs: %w", err)
	}
	defer arows.Close()
	for arows.Next() {
		var k key
		var a ActionRun
		var status string
		var result []byte
		if err := arows.Scan(&k.domain, &k.event, &k.rule, &a.Index, &a.Type, &status, &result, &a.Error, &a.Attempts, &a.StartedAt, &a.FinishedAt); err != nil {
			return nil, fmt.Errorf("workflow: read action runs: %w", err)
		}
		a.Status = ActionStatus(status)
		if len(result) > 0 {
			var res Result
			if json.Unmarshal(result, &res) == nil {
				a.Result = &res
			}
		}
		if i, ok := byKey[k]; ok && i >= 0 {
			out[i].Actions = append(out[i].Actions, a)
		}
	}
	return out, arows.Err()
}

// PruneRuns deletes the context's tenant's runs that started before t
// (only untenanted runs when the context has no tenant, as Runs reads
// them), with their action runs, except runs still running or failed (a
// retry or a re-drive may resume them). It returns how many runs it
// deleted. An event handled again after its runs were pruned (a dead
// letter re-driven months later) is evaluated and acted on again: keep
// runs longer than dead letters. Retention across every tenant is
// PruneRunLogAllTenants.
func (s *Rules) PruneRuns(ctx context.Context, before time.Time) (int64, error) {
	cond, targs := inbox.TenantCondition(ctx, "")
	var n int64
	err := s.db.WithContext(ctx).Raw(`WITH gone AS (
    DELETE FROM workflow_runs WHERE started_at < ? AND status IN ('no_match', 'done', 'stopped') AND `+cond+`
    RETURNING domain, event_id, rule_id
), actions AS (
    DELETE FROM workflow_action_runs a USING gone g
     WHERE a.domain = g.domain AND a.event_id = g.event_id AND a.rule_id = g.rule_id
    RETURNING 1
)
SELECT count(*) FROM gone`, append([]any{before}, targs...)...).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("workflow: prune runs: %w", err)
	}
	return n, nil
}
