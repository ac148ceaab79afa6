package observe

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/workflow"
)

// Workflow returns the workflow.Observer that runs each action of a
// matched rule in a span ("workflow action <type>"), a child of the
// engine's delivery span; events the action records continue the trace.
func (t *Tracing) Workflow() workflow.Observer { return workflowTracing{t} }

type workflowTracing struct{ t *Tracing }

func (workflowTracing) RuleDecided(activity.Event, workflow.Rule, workflow.RuleVerdict) {}

func (w workflowTracing) ActionStart(ctx context.Context, ev activity.Event, r workflow.Rule, index int, typ string) (context.Context, func(workflow.ActionOutcome)) {
	ctx, span := w.t.tracer.Start(ctx, "workflow action "+typ, trace.WithAttributes(
		attribute.Int64("tidings.workflow.rule.id", r.ID),
		attribute.String("tidings.workflow.rule.name", r.Name),
		attribute.Int("tidings.workflow.action.index", index),
		attribute.String("tidings.workflow.action.type", typ),
		attribute.Int64("tidings.event.id", ev.ID),
	))
	return ctx, func(o workflow.ActionOutcome) {
		span.SetAttributes(attribute.String("tidings.outcome", string(o.Status)))
		if o.Err != nil {
			span.RecordError(o.Err)
			span.SetStatus(codes.Error, o.Err.Error())
		}
		span.End()
	}
}
