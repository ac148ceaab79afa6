package observe

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tidingsdev/tidings/inbox"
)

// Delivery returns the inbox.Middleware that runs each delivery attempt in
// a span ("process <inbox>", kind consumer) whose parent is the span that
// recorded the event (its activity.Metadata.TraceParent, carried with the
// event), so jobs join the request's trace. Each external send the inbox
// makes through Delivery.Send (an SMTP send, a Slack post) gets a child
// span ("send <inbox>", kind client); whatever the inbox records under the
// attempt's context continues the trace. Put it in inbox.Config.Middleware.
func (t *Tracing) Delivery() inbox.Middleware {
	return func(next inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			if tp := d.Event.TraceParent; tp != nil {
				if sc, ok := ParseTraceParent(*tp); ok {
					ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
				}
			}
			// Few attributes, each costs on every attempt: the task ID
			// names the inbox, the domain and the event.
			ctx, span := t.tracer.Start(ctx, "process "+d.Inbox, trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(
					attribute.String("messaging.system", "asynq"),
					attribute.String("messaging.destination.name", d.Queue),
					attribute.String("messaging.message.id", d.TaskID),
					attribute.String("tidings.action", d.Event.Action),
					attribute.Int("tidings.attempt", d.Attempt),
				))
			defer span.End()
			d.OnSend(t.sendSpan(d))
			err := next(ctx, d)
			if out := inbox.OutcomeOf(d, err); out != inbox.OutcomeDone {
				span.SetAttributes(attribute.String("tidings.outcome", string(out)))
			}
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			return err
		}
	}
}

// sendSpan makes the span of one external send of d.
func (t *Tracing) sendSpan(d *inbox.Delivery) inbox.SendHook {
	return func(ctx context.Context, recipient string) (context.Context, func(error)) {
		ctx, span := t.tracer.Start(ctx, "send "+d.Inbox, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("tidings.inbox", d.Inbox), attribute.String("tidings.recipient", recipient)))
		return ctx, func(err error) {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}
	}
}
