package activity

import "context"

// Observer watches recording. Metrics and tracing plug in here (package
// observe has both) without this package knowing either; set one on
// DomainConfig.Observer, and combine several with Observers.
type Observer interface {
	// Declared is called once by NewDomain with the new domain, so an
	// observer can prepare per-action series before the first event.
	Declared(d *Domain)
	// RecordStart is called when a RecordEvent call starts. The context
	// it returns is the one the call continues with: a tracer puts its
	// span there and sets Metadata.TraceParent, so the event carries its
	// trace. end is called once, with the call's outcome.
	RecordStart(ctx context.Context, d *Domain, action string) (_ context.Context, end func(Result, error))
}

// BulkObserver is an Observer that also watches RecordEvents calls: it is
// called once per call, with its entries, and its end function with the
// call's outcome. An Observer that is not one sees no bulk calls.
type BulkObserver interface {
	Observer
	RecordEventsStart(ctx context.Context, d *Domain, entries []NewEvent) (_ context.Context, end func(BulkResult, error))
}

// Observers returns an Observer calling each of obs in order (nil ones
// are skipped); their end functions run in reverse order.
func Observers(obs ...Observer) Observer {
	var list observers
	for _, o := range obs {
		if o != nil {
			list = append(list, o)
		}
	}
	if len(list) == 1 {
		return list[0]
	}
	return list
}

type observers []Observer

func (os observers) Declared(d *Domain) {
	for _, o := range os {
		o.Declared(d)
	}
}

func (os observers) RecordStart(ctx context.Context, d *Domain, action string) (context.Context, func(Result, error)) {
	if len(os) == 2 { // metrics and tracing, the usual pair: one allocation, not two
		ctx, first := os[0].RecordStart(ctx, d, action)
		ctx, second := os[1].RecordStart(ctx, d, action)
		return ctx, func(r Result, err error) {
			second(r, err)
			first(r, err)
		}
	}
	ends := make([]func(Result, error), len(os))
	for i, o := range os {
		ctx, ends[i] = o.RecordStart(ctx, d, action)
	}
	return ctx, func(r Result, err error) {
		for i := len(ends) - 1; i >= 0; i-- {
			ends[i](r, err)
		}
	}
}

// ValidTraceParent reports whether s is a W3C traceparent value, the form
// Metadata.TraceParent takes: the trace-context header of version 00 (and
// of future versions, which keep its first four fields),
// "<2 hex>-<32 hex>-<16 hex>-<2 hex>", lower-case hex digits. (A check by
// hand: it runs on every traced recording, and a regular expression cost
// a microsecond of it.)
func ValidTraceParent(s string) bool {
	if len(s) != 55 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 2, 35, 52:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func (os observers) RecordEventsStart(ctx context.Context, d *Domain, entries []NewEvent) (context.Context, func(BulkResult, error)) {
	var ends []func(BulkResult, error)
	for _, o := range os {
		if b, ok := o.(BulkObserver); ok {
			var end func(BulkResult, error)
			ctx, end = b.RecordEventsStart(ctx, d, entries)
			ends = append(ends, end)
		}
	}
	return ctx, func(r BulkResult, err error) {
		for i := len(ends) - 1; i >= 0; i-- {
			ends[i](r, err)
		}
	}
}
