package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// errRanBefore rolls back an action's transaction when another attempt
// committed the action first.
var errRanBefore = errors.New("workflow: the action ran on another attempt")

// actionKey names one action run.
type actionKey struct {
	ev    activity.EventRef
	rule  int64
	index int
}

// runAction runs action i of rule c for the event at most once: inside a
// transaction that also records it (a database action), or between a claim
// and a mark (an external one). It returns nil when the action ran now or
// had run before.
func (e *Engine) runAction(ctx context.Context, d *inbox.Delivery, log *runLog, c *compiled, i int) error {
	a := c.actions[i]
	ra := c.rule.Actions[i]
	k := actionKey{ev: d.Event.Ref(), rule: c.rule.ID, index: i}
	params, err := e.rules.openSecrets(a, ra.Params)
	if err != nil {
		return inbox.Permanent(fmt.Errorf("workflow: rule %d action %d: %w", c.rule.ID, i, err))
	}
	ac := ActionContext{
		Rule: c.rule, Index: i, Event: d.Event, Domain: c.matcher.schema.domain, Params: params,
		DB:             log.db,
		IdempotencyKey: fmt.Sprintf("tidings-workflow-%s-%d-r%d-a%d", k.ev.Domain, k.ev.ID, k.rule, i),
		Logger:         e.log.With(slog.Int64("rule", c.rule.ID), slog.String("event", k.ev.String()), slog.Int("action", i), slog.String("type", ra.Type)),
		engineName:     e.name,
		ledger:         e.ledger,
		answered:       d.Answered,
	}
	if a.External {
		return e.runExternal(ctx, log, k, ra.Type, a, ac)
	}
	var res Result
	err = log.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := log.now()
		var attempts []int
		if err := tx.Raw(`INSERT INTO workflow_action_runs AS w (domain, event_id, rule_id, action_index, type, status, attempts, started_at, finished_at, tenant_id)
VALUES (?, ?, ?, ?, ?, 'done', 1, ?, ?, NULLIF(?, ''))
ON CONFLICT (domain, event_id, rule_id, action_index) DO UPDATE
   SET status = 'done', type = EXCLUDED.type, attempts = w.attempts + 1, error = NULL,
       started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at
 WHERE w.status = 'failed'
RETURNING attempts`, k.ev.Domain, k.ev.ID, k.rule, k.index, ra.Type, now, now, log.ev.TenantID).Scan(&attempts).Error; err != nil {
			return fmt.Errorf("workflow: record action run: %w", err)
		}
		if len(attempts) == 0 {
			return errRanBefore
		}
		ac.Tx, ac.Attempt = tx, attempts[0]
		var err error
		if res, err = safeRun(ctx, a, ac); err != nil {
			return err
		}
		data, err := json.Marshal(res)
		if err != nil {
			return inbox.Permanent(fmt.Errorf("workflow: the action's result does not encode as JSON: %w", err))
		}
		return tx.Exec(`UPDATE workflow_action_runs SET result = ?::jsonb, finished_at = ?
WHERE domain = ? AND event_id = ? AND rule_id = ? AND action_index = ?`, string(data), log.now(), k.ev.Domain, k.ev.ID, k.rule, k.index).Error
	})
	switch {
	case err == nil, errors.Is(err, errRanBefore):
		return nil
	}
	if ferr := e.failAction(ctx, log, k, ra.Type, err); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}

// runExternal claims an external action, runs it, and marks it sent or
// failed.
func (e *Engine) runExternal(ctx context.Context, log *runLog, k actionKey, typ string, a Action, ac ActionContext) error {
	now := log.now()
	var attempts []int
	err := log.db.WithContext(ctx).Raw(`INSERT INTO workflow_action_runs AS w (domain, event_id, rule_id, action_index, type, status, attempts, started_at, tenant_id)
VALUES (?, ?, ?, ?, ?, 'sending', 1, ?, NULLIF(?, ''))
ON CONFLICT (domain, event_id, rule_id, action_index) DO UPDATE
   SET status = 'sending', type = EXCLUDED.type, attempts = w.attempts + 1, error = NULL,
       started_at = EXCLUDED.started_at, finished_at = NULL
 WHERE w.status = 'failed' OR (w.status = 'sending' AND w.started_at <= ?)
RETURNING attempts`, k.ev.Domain, k.ev.ID, k.rule, k.index, typ, now, log.ev.TenantID, now.Add(-e.claim)).Scan(&attempts).Error
	if err != nil {
		return fmt.Errorf("workflow: claim action run: %w", err)
	}
	if len(attempts) == 0 {
		var rows []struct {
			Status    string
			StartedAt time.Time
		}
		if err := log.db.WithContext(ctx).Raw(`SELECT status, started_at FROM workflow_action_runs
WHERE domain = ? AND event_id = ? AND rule_id = ? AND action_index = ?`, k.ev.Domain, k.ev.ID, k.rule, k.index).Scan(&rows).Error; err != nil {
			return fmt.Errorf("workflow: read action run: %w", err)
		}
		if len(rows) == 1 && rows[0].Status == string(ActionSending) {
			wait := rows[0].StartedAt.Add(e.claim).Sub(now)
			return inbox.RetryAfter(max(wait, time.Second), fmt.Errorf("workflow: action run claimed at %s by another attempt that has not finished", rows[0].StartedAt.Format(time.RFC3339Nano)))
		}
		if len(rows) == 1 && rows[0].Status == string(ActionStopped) {
			return fmt.Errorf("%w: an earlier attempt was stopped", activity.ErrCausationDepth)
		}
		return nil // sent (or done) before
	}
	ac.Attempt = attempts[0]
	res, runErr := safeRun(ctx, a, ac)
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if runErr != nil {
		status := ActionFailed
		if errors.Is(runErr, activity.ErrCausationDepth) {
			status = ActionStopped
		}
		if err := log.db.WithContext(mctx).Exec(`UPDATE workflow_action_runs SET status = ?, error = ?, finished_at = ?
WHERE domain = ? AND event_id = ? AND rule_id = ? AND action_index = ? AND status = 'sending' AND attempts = ?`,
			string(status), clip(runErr.Error()), log.now(), k.ev.Domain, k.ev.ID, k.rule, k.index, ac.Attempt).Error; err != nil {
			return errors.Join(runErr, fmt.Errorf("workflow: record action failure: %w", err))
		}
		return runErr
	}
	data, err := json.Marshal(res)
	if err != nil {
		data = []byte(`{"summary": "(the action's result does not encode as JSON)"}`)
	}
	if err := log.db.WithContext(mctx).Exec(`UPDATE workflow_action_runs SET status = 'sent', result = ?::jsonb, finished_at = ?
WHERE domain = ? AND event_id = ? AND rule_id = ? AND action_index = ? AND status = 'sending' AND attempts = ?`,
		string(data), log.now(), k.ev.Domain, k.ev.ID, k.rule, k.index, ac.Attempt).Error; err != nil {
		return fmt.Errorf("workflow: the action ran but marking it sent failed (a retry may run it again): %w", err)
	}
	return nil
}

// failAction records a database action's failure, outside its rolled-back
// transaction.
func (e *Engine) failAction(ctx context.Context, log *runLog, k actionKey, typ string, cause error) error {
	status := ActionFailed
	if errors.Is(cause, activity.ErrCausationDepth) {
		status = ActionStopped
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := log.now()
	err := log.db.WithContext(ctx).Exec(`INSERT INTO workflow_action_runs AS w (domain, event_id, rule_id, action_index, type, status, error, attempts, started_at, finished_at, tenant_id)
VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, NULLIF(?, ''))
ON CONFLICT (domain, event_id, rule_id, action_index) DO UPDATE
   SET status = EXCLUDED.status, error = EXCLUDED.error, attempts = w.attempts + 1,
       started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at
 WHERE w.status = 'failed'`, k.ev.Domain, k.ev.ID, k.rule, k.index, typ, string(status), clip(cause.Error()), now, now, log.ev.TenantID).Error
	if err != nil {
		return fmt.Errorf("workflow: record action failure: %w", err)
	}
	return nil
}

// safeRun calls the action, turning a panic into an error with its stack.
func safeRun(ctx context.Context, a Action, ac ActionContext) (res Result, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &inbox.PanicError{Inbox: ac.engineName, Value: v, Stack: debug.Stack()}
		}
	}()
	return a.Run(ctx, ac)
}
