package activity

import "context"

// Metadata describes where an event came from. Middleware sets it once per
// request (see Middleware); jobs and consoles set their own.
type Metadata struct {
	RequestID     string // the request that recorded the event
	CorrelationID string // shared by everything one user act set off; defaults to RequestID
	Source        string // web, api, console, job, ... (a lower-case word, at most 32 bytes)
	IP            string // the client's address (IPv4 or IPv6, no port)
	UserAgent     string // truncated to 512 bytes
	// TraceParent is the W3C traceparent ("00-<trace id>-<span id>-<flags>")
	// of the span that recorded the event, stored with it so the jobs that
	// deliver it continue its trace. A tracing Observer (package observe)
	// sets it; without one it stays empty.
	TraceParent string
	// Tags are the app's own labels, stored with each event and filterable
	// (FeedQuery.Tags): a ticket link, the operator running a script. Up to
	// MaxTags; keys like identifiers, values up to 512 bytes of text. Meta
	// options add to (and override) the context's tags key by key.
	Tags map[string]string
}

// Cause is the event being handled while new events are recorded: inbox and
// workflow jobs put it on the context so the events they record carry its
// ID as their causation and the chain's depth.
type Cause struct {
	Event         EventRef
	Depth         int    // the causing event's depth
	CorrelationID string // the causing event's correlation id
	// Tenant is the causing event's tenant ("" when untenanted): events
	// recorded under the cause in a tenanted domain inherit it, and an
	// other tenant is refused (ErrCrossTenant).
	Tenant string
}

type (
	actorKey    struct{}
	metadataKey struct{}
	causeKey    struct{}
)

// WithActor returns a context whose events are recorded as done by actor
// (anything Actor accepts: a Ref, a Referencer, or a gorm model) unless the
// call names its own.
func WithActor(ctx context.Context, actor any) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor set on ctx with WithActor.
func ActorFrom(ctx context.Context) (any, bool) {
	a := ctx.Value(actorKey{})
	return a, a != nil
}

// WithMetadata returns a context carrying request metadata for the events
// recorded under it. Explicit Meta options win field by field.
func WithMetadata(ctx context.Context, md Metadata) context.Context {
	return context.WithValue(ctx, metadataKey{}, md)
}

// WithTraceParent returns a context under which recorded events store tp
// (a W3C traceparent) as their Metadata.TraceParent, over the one of ctx's
// Metadata; a Meta option's still wins. It is what a tracing Observer
// calls in RecordStart: cheaper than copying and storing the whole
// Metadata once per call.
func WithTraceParent(ctx context.Context, tp string) context.Context {
	return context.WithValue(ctx, traceParentKey{}, tp)
}

type traceParentKey struct{}

// MetadataFrom returns the metadata set on ctx.
func MetadataFrom(ctx context.Context) Metadata {
	md, _ := ctx.Value(metadataKey{}).(Metadata)
	return md
}

// WithCause returns a context under which recorded events carry cause as
// their causation, the depth cause.Depth+1, and cause's correlation id.
func WithCause(ctx context.Context, cause Cause) context.Context {
	return context.WithValue(ctx, causeKey{}, cause)
}

// CauseFrom returns the cause set on ctx.
func CauseFrom(ctx context.Context) (Cause, bool) {
	c, ok := ctx.Value(causeKey{}).(Cause)
	return c, ok
}

// CauseOf returns the Cause describing e, for handlers that record events
// while handling e.
func CauseOf(e Event) Cause {
	c := Cause{Event: e.Ref(), Depth: e.Depth, Tenant: e.TenantID}
	if e.CorrelationID != nil {
		c.CorrelationID = *e.CorrelationID
	}
	return c
}
