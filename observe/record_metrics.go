package observe

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidingsdev/tidings/activity"
)

// The results of a RecordEvent call, the events_recorded_total "result"
// label.
const (
	ResultInserted  = "inserted"
	ResultThrottled = "throttled"
	ResultFailed    = "failed"
)

// unknownAction stands for an action a domain does not declare, so a
// caller's typo cannot add series.
const unknownAction = "(unknown)"

// Recording returns the activity.Observer counting RecordEvent calls per
// domain, action and result (tidings_events_recorded_total). Set it on
// each domain's DomainConfig.Observer (with activity.Observers to add
// tracing). A declared domain's series exist from its declaration, at 0,
// so "no such event in a minute" alerts work from the start.
func (m *Metrics) Recording() activity.Observer { return &recordMetrics{m: m} }

type recordMetrics struct {
	m       *Metrics
	domains sync.Map // *activity.Domain -> map[string]*actionCounters
}

type actionCounters struct {
	inserted, throttled, failed prometheus.Counter
	end                         func(activity.Result, error) // c.observe, made once
}

func (c *actionCounters) observe(res activity.Result, err error) {
	switch {
	case err != nil:
		c.failed.Inc()
	case res.Throttled:
		c.throttled.Inc()
	default:
		c.inserted.Inc()
	}
}

func (r *recordMetrics) counters(domain, action string) *actionCounters {
	c := &actionCounters{
		inserted:  r.m.recorded.WithLabelValues(domain, action, ResultInserted),
		throttled: r.m.recorded.WithLabelValues(domain, action, ResultThrottled),
		failed:    r.m.recorded.WithLabelValues(domain, action, ResultFailed),
	}
	c.end = c.observe
	return c
}

func (r *recordMetrics) Declared(d *activity.Domain) {
	byAction := map[string]*actionCounters{unknownAction: r.counters(d.Name(), unknownAction)}
	for _, a := range d.Actions() {
		byAction[a] = r.counters(d.Name(), a)
	}
	r.domains.Store(d, byAction)
}

func (r *recordMetrics) RecordStart(ctx context.Context, d *activity.Domain, action string) (context.Context, func(activity.Result, error)) {
	v, ok := r.domains.Load(d)
	if !ok { // a domain declared with another observer, then given this one
		r.Declared(d)
		v, _ = r.domains.Load(d)
	}
	byAction := v.(map[string]*actionCounters)
	c := byAction[action]
	if c == nil {
		c = byAction[unknownAction]
	}
	return ctx, c.end
}

// RecordEventsStart counts a RecordEvents call: each recorded event as
// inserted under its action, or, when the call failed (it is all or
// nothing), each entry as failed.
func (r *recordMetrics) RecordEventsStart(ctx context.Context, d *activity.Domain, entries []activity.NewEvent) (context.Context, func(activity.BulkResult, error)) {
	return ctx, func(res activity.BulkResult, err error) {
		v, ok := r.domains.Load(d)
		if !ok {
			r.Declared(d)
			v, _ = r.domains.Load(d)
		}
		byAction := v.(map[string]*actionCounters)
		of := func(action string) *actionCounters {
			if c := byAction[action]; c != nil {
				return c
			}
			return byAction[unknownAction]
		}
		if err != nil {
			for _, e := range entries {
				of(e.Action).failed.Inc()
			}
			return
		}
		for _, e := range res.Events {
			of(e.Action).inserted.Inc()
		}
	}
}

var _ activity.BulkObserver = (*recordMetrics)(nil)
