package observe

import (
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation name of the spans this package makes.
const TracerName = "github.com/tidingsdev/tidings"

// TracingConfig configures Tracing. Zero fields take the documented
// defaults.
type TracingConfig struct {
	// TracerProvider makes the spans. Default otel.GetTracerProvider():
	// the global one, a no-op until the app sets one, so that tracing
	// costs next to nothing when nobody collects it.
	TracerProvider trace.TracerProvider
	// Propagator reads a caller's trace context from incoming HTTP
	// headers (HTTP). Default propagation.TraceContext (W3C traceparent).
	Propagator propagation.TextMapPropagator
	// RecordingEndBatch is how many recording spans (Recording) are
	// ended together: a RecordEvent call returns at once, and its span,
	// with the end time taken then, reaches the tracer provider's span
	// processors with a group of others (see Tracing.Flush for why, and
	// what it means at shutdown). Default DefaultRecordingEndBatch (32);
	// 1 ends each span as its call returns.
	RecordingEndBatch int
	// RecordingEndDelay is how long a recording span waits for its group
	// at most. Default DefaultRecordingEndDelay (20 ms): next to the batch
	// span processor's own wait for its next export (5 s by default),
	// nothing.
	RecordingEndDelay time.Duration
}

// Tracing follows one act from the request that recorded an event to each
// of its deliveries, in one OpenTelemetry trace:
//
//	HTTP POST /issues/{id}/comments      (HTTP, or the app's own server span)
//	└─ record issue comment_added        (Recording: the event stores this span's traceparent)
//	   ├─ process notify                 (Delivery, in the worker: a child of the recording span)
//	   ├─ process email
//	   │  └─ send email                  (each external send through Delivery.Send: one per recipient)
//	   ├─ process slack
//	   │  └─ send slack
//	   └─ process workflow
//	      └─ workflow action reply       (Workflow)
//	         └─ record issue comment_added  (an event caused by a job continues the trace)
//	            └─ process notify ...
//
// The trace context travels with the event: Recording puts the span's
// W3C traceparent in the event's metadata (activity.Metadata.TraceParent,
// stored in its trace_parent column), the worker loads it with the event
// when the job runs (jobs carry references only), and Delivery starts each job's
// span as a child of it. A span per delivery attempt: retries show as
// sibling spans.
type Tracing struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	ends   *spanEnds // of recording spans
}

// NewTracing returns the tracing middleware and observers.
func NewTracing(cfg TracingConfig) *Tracing {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	prop := cfg.Propagator
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return &Tracing{tracer: tp.Tracer(TracerName), prop: prop, ends: newSpanEnds(cfg.RecordingEndBatch, cfg.RecordingEndDelay)}
}

// Flush ends the recording spans waiting for their group now. Call it
// before shutting down or flushing the tracer provider, or the spans of
// the last RecordingEndDelay may miss it.
//
// Why recording spans wait: ending a span hands it to the span
// processors at once, and the SDK's batch span processor passes each on
// a channel to its goroutine. In a process that mostly waits on
// PostgreSQL that goroutine is parked, so every End wakes it and a thread
// to run it, which on a 2-core machine cost a recording more CPU than
// making its span (cmd/bench's observe group). Ended in groups, the
// spans wake it once a group. Each keeps its own end time.
func (t *Tracing) Flush() { t.ends.flush() }
