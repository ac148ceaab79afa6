package observe

import (
	"context"
	"sync"

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
	var perInbox sync.Map // inbox name -> *deliveryTracing
	return func(next inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			if tp := d.Event.TraceParent; tp != nil {
				if sc, ok := ParseTraceParent(*tp); ok {
					ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
				}
			}
			dt := t.deliveryTracing(&perInbox, d.Inbox)
			ctx, span := t.tracer.Start(ctx, dt.process, deliverySpanStart...)
			defer span.End()
			if span.IsRecording() {
				// Few attributes, each costs on every attempt: the task
				// ID names the inbox, the domain and the event. Set in
				// one call after the start, from a reused array: the SDK
				// copies them once into a list of the right size.
				attrs := deliveryAttrs.Get().(*[5]attribute.KeyValue)
				attrs[0] = messagingAsynq
				attrs[1] = attribute.String("messaging.destination.name", d.Queue)
				attrs[2] = attribute.String("messaging.message.id", d.TaskID)
				attrs[3] = attribute.String("tidings.action", d.Event.Action)
				attrs[4] = attribute.Int("tidings.attempt", d.Attempt)
				span.SetAttributes(attrs[:]...)
				clear(attrs[:])
				deliveryAttrs.Put(attrs)
			}
			d.OnSend(dt.send)
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

// deliveryTracing is what the spans of one inbox's deliveries share, made
// once per inbox: the span name and the send hook.
type deliveryTracing struct {
	process string
	send    inbox.SendHook
}

func (t *Tracing) deliveryTracing(m *sync.Map, name string) *deliveryTracing {
	if v, ok := m.Load(name); ok {
		return v.(*deliveryTracing)
	}
	v, _ := m.LoadOrStore(name, &deliveryTracing{process: "process " + name, send: t.sendSpan(name)})
	return v.(*deliveryTracing)
}

var (
	deliverySpanStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
	messagingAsynq    = attribute.String("messaging.system", "asynq")
	deliveryAttrs     = sync.Pool{New: func() any { return new([5]attribute.KeyValue) }}
)

// sendSpan makes the span of one external send of inbox's deliveries.
func (t *Tracing) sendSpan(inboxName string) inbox.SendHook {
	name := "send " + inboxName
	return func(ctx context.Context, recipient string) (context.Context, func(error)) {
		ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("tidings.inbox", inboxName), attribute.String("tidings.recipient", recipient)))
		return ctx, func(err error) {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}
	}
}
