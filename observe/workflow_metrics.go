package observe

import (
	"context"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/workflow"
)

// Workflow returns the workflow.Observer counting rule verdicts per
// domain, action and verdict (tidings_workflow_rule_evaluations_total) and
// action runs per action type and outcome (tidings_workflow_actions_total).
// Rules are data users create, so no label names a rule.
func (m *Metrics) Workflow() workflow.Observer { return workflowMetrics{m} }

type workflowMetrics struct{ m *Metrics }

func (w workflowMetrics) RuleDecided(ev activity.Event, _ workflow.Rule, v workflow.RuleVerdict) {
	w.m.rules.WithLabelValues(ev.Domain, ev.Action, string(v)).Inc()
}

func (w workflowMetrics) ActionStart(ctx context.Context, _ activity.Event, _ workflow.Rule, _ int, typ string) (context.Context, func(workflow.ActionOutcome)) {
	return ctx, func(o workflow.ActionOutcome) {
		w.m.actions.WithLabelValues(typ, string(o.Status)).Inc()
	}
}
