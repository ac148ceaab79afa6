package workflow

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// RunStatus is where a rule's run for one event stands.
type RunStatus string

// Run statuses.
const (
	// RunNoMatch: the conditions did not hold (or the event was out of the
	// rule's reach); final.
	RunNoMatch RunStatus = "no_match"
	// RunRunning: the conditions held and the actions are running (or the
	// attempt running them died; the job's retry resumes them).
	RunRunning RunStatus = "running"
	// RunDone: every action ran; final.
	RunDone RunStatus = "done"
	// RunFailed: an action failed, or the conditions could not be read;
	// the job's retry resumes (a re-drive of a dead letter too).
	RunFailed RunStatus = "failed"
	// RunStopped: an action would have recorded an event past the causation
	// depth limit (a loop of rules); final.
	RunStopped RunStatus = "stopped"
)

// ActionStatus is where one action of a run stands.
type ActionStatus string

// Action run statuses.
const (
	ActionDone    ActionStatus = "done"    // a database action committed with its effects; final
	ActionSending ActionStatus = "sending" // an external action is claimed and running
	ActionSent    ActionStatus = "sent"    // an external action succeeded; final
	ActionFailed  ActionStatus = "failed"  // it failed; the next attempt runs it again
	ActionStopped ActionStatus = "stopped" // the causation depth limit stopped it; final
)

// runState is what an earlier attempt left of a rule's run.
type runState struct {
	status  RunStatus
	matched bool
}

func (s runState) final() bool {
	return s.status == RunNoMatch || s.status == RunDone || s.status == RunStopped
}

// runRow is a run to start (or resume) for one rule.
type runRow struct {
	rule        Rule
	status      RunStatus
	matched     bool
	explanation string // "" keeps the one logged before (a resumed run)
	err         string
}

// runLog writes one event's runs.
type runLog struct {
	db  *gorm.DB
	ev  activity.Event
	now func() time.Time
}

// maxLogText caps explanations and errors in the run log, in bytes.
const maxLogText = 4000

func clip(s string) string {
	if len(s) <= maxLogText {
		return s
	}
	n := maxLogText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// states reads what earlier attempts logged for the event, by rule.
func (l *runLog) states(ctx context.Context) (map[int64]runState, error) {
	var rows []struct {
		RuleID  int64
		Status  string
		Matched bool
	}
	if err := l.db.WithContext(ctx).Raw(`SELECT rule_id, status, matched FROM workflow_runs WHERE domain = ? AND event_id = ?`,
		l.ev.Domain, l.ev.ID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("workflow: read runs of %s: %w", l.ev.Ref(), err)
	}
	out := make(map[int64]runState, len(rows))
	for _, r := range rows {
		out[r.RuleID] = runState{status: RunStatus(r.Status), matched: r.Matched}
	}
	return out, nil
}

// start logs the rules' outcomes in one statement. A run already final
// is left alone; a resumed one counts an attempt more.
func (l *runLog) start(ctx context.Context, rows []runRow) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	ids, names, statuses, expl, errs := make(pgarray.Int8, n), make(pgarray.Text, n), make(pgarray.Text, n), make(pgarray.Text, n), make(pgarray.Text, n)
	matched := make(pgarray.Bool, n)
	for i, r := range rows {
		ids[i], names[i], statuses[i], matched[i], expl[i], errs[i] = r.rule.ID, r.rule.Name, string(r.status), r.matched, clip(r.explanation), clip(r.err)
	}
	now := l.now()
	err := l.db.WithContext(ctx).Exec(`INSERT INTO workflow_runs AS w (rule_id, rule_name, domain, event_id, event_action, subject_id,
    status, matched, explanation, error, attempts, started_at, finished_at, tenant_id)
SELECT r, n, ?, ?, ?, ?, s, m, x, NULLIF(e, ''), 1, ?, CASE WHEN s = 'no_match' THEN ?::timestamptz END, NULLIF(?, '')
FROM unnest(?::bigint[], ?::text[], ?::text[], ?::boolean[], ?::text[], ?::text[]) AS t(r, n, s, m, x, e)
ON CONFLICT (domain, event_id, rule_id) DO UPDATE
   SET status = EXCLUDED.status, matched = EXCLUDED.matched, rule_name = EXCLUDED.rule_name,
       explanation = CASE WHEN EXCLUDED.explanation = '' THEN w.explanation ELSE EXCLUDED.explanation END,
       error = EXCLUDED.error, attempts = w.attempts + 1, finished_at = EXCLUDED.finished_at
 WHERE w.status IN ('running', 'failed')`,
		l.ev.Domain, l.ev.ID, l.ev.Action, l.ev.SubjectID, now, now, l.ev.TenantID,
		ids, names, statuses, matched, expl, errs).Error
	if err != nil {
		return fmt.Errorf("workflow: log runs of %s: %w", l.ev.Ref(), err)
	}
	return nil
}

// finish records a run's outcome. The write survives a cancelled ctx.
func (l *runLog) finish(ctx context.Context, r Rule, status RunStatus, errText string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var e any
	if errText != "" {
		e = clip(errText)
	}
	err := l.db.WithContext(ctx).Exec(`UPDATE workflow_runs SET status = ?, error = ?, finished_at = ?
WHERE domain = ? AND event_id = ? AND rule_id = ?`, string(status), e, l.now(), l.ev.Domain, l.ev.ID, r.ID).Error
	if err != nil {
		return fmt.Errorf("workflow: log the end of rule %d's run on %s: %w", r.ID, l.ev.Ref(), err)
	}
	return nil
}

// actionStates reads the event's action runs: by rule, by action index.
func (l *runLog) actionStates(ctx context.Context) (map[int64]map[int]ActionStatus, error) {
	var rows []struct {
		RuleID      int64
		ActionIndex int
		Status      string
	}
	if err := l.db.WithContext(ctx).Raw(`SELECT rule_id, action_index, status FROM workflow_action_runs WHERE domain = ? AND event_id = ?`,
		l.ev.Domain, l.ev.ID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("workflow: read action runs of %s: %w", l.ev.Ref(), err)
	}
	out := map[int64]map[int]ActionStatus{}
	for _, r := range rows {
		if out[r.RuleID] == nil {
			out[r.RuleID] = map[int]ActionStatus{}
		}
		out[r.RuleID][r.ActionIndex] = ActionStatus(r.Status)
	}
	return out, nil
}
