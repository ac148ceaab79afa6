package observe

import (
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Defaults of TracingConfig.RecordingEndBatch and RecordingEndDelay.
const (
	DefaultRecordingEndBatch = 32
	DefaultRecordingEndDelay = 20 * time.Millisecond
)

// spanEnds ends recording spans in groups. A span's End hands it to the
// tracer provider's span processors at once; the SDK's batch span
// processor sends it on a channel to its goroutine, which on a process
// that mostly waits on PostgreSQL is parked, so each End wakes it (and a
// thread to run it): measured on 2 cores, that wake-up cost a recording
// more client CPU than making the span. Ended together, a group wakes it
// once. Each span keeps its own end time (the time its RecordEvent call
// returned): only the hand-over to the processors waits, for at most
// delay, or until size spans are waiting, or Tracing.Flush.
type spanEnds struct {
	size  int
	delay time.Duration

	mu      sync.Mutex
	waiting []endingSpan
	timer   *time.Timer // armed while spans wait; made at the first wait
}

// endingSpan is a span whose call has returned, and when it did.
type endingSpan struct {
	span trace.Span
	at   time.Time
}

func newSpanEnds(size int, delay time.Duration) *spanEnds {
	if size <= 0 {
		size = DefaultRecordingEndBatch
	}
	if delay <= 0 {
		delay = DefaultRecordingEndDelay
	}
	return &spanEnds{size: size, delay: delay}
}

// end ends span as of now: at once when groups are of one, else with the
// next group.
func (e *spanEnds) end(span trace.Span) {
	at := endTime(span)
	if e.size == 1 {
		span.End(trace.WithTimestamp(at))
		return
	}
	e.mu.Lock()
	if e.waiting == nil {
		e.waiting = make([]endingSpan, 0, e.size)
	}
	e.waiting = append(e.waiting, endingSpan{span: span, at: at})
	var group []endingSpan
	switch {
	case len(e.waiting) >= e.size:
		group, e.waiting = e.waiting, nil
		if e.timer != nil {
			e.timer.Stop()
		}
	case len(e.waiting) == 1: // the first to wait: it waits delay at most
		if e.timer == nil {
			e.timer = time.AfterFunc(e.delay, e.flush)
		} else {
			e.timer.Reset(e.delay)
		}
	}
	e.mu.Unlock()
	endAll(group)
}

// flush ends the waiting spans now.
func (e *spanEnds) flush() {
	e.mu.Lock()
	group := e.waiting
	e.waiting = nil
	if e.timer != nil {
		e.timer.Stop()
	}
	e.mu.Unlock()
	endAll(group)
}

func endAll(group []endingSpan) {
	if len(group) == 0 {
		return
	}
	opt := make([]trace.SpanEndOption, 1) // one for the group: End keeps none
	for _, s := range group {
		opt[0] = trace.WithTimestamp(s.at)
		s.span.End(opt...)
	}
}

// endTime is now as the SDK would take it at End: its start plus the
// monotonic time since, so a wall clock step between cannot make the span
// last less than nothing.
func endTime(span trace.Span) time.Time {
	if s, ok := span.(interface{ StartTime() time.Time }); ok { // the SDK's spans
		if start := s.StartTime(); !start.IsZero() {
			return start.Add(time.Since(start))
		}
	}
	return time.Now()
}
