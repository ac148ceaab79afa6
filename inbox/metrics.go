package inbox

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics counts deliveries per inbox. The worker keeps one (see
// Worker.Metrics); export its Snapshot to your metrics system.
type Metrics struct {
	mu      sync.RWMutex
	inboxes map[string]*counters
}

// Counts are one inbox's counters since the process started.
type Counts struct {
	Inbox      string
	Attempts   int64         // Process calls
	Succeeded  int64         // attempts that returned nil
	Retried    int64         // failed attempts that will be retried
	Failed     int64         // final failures: permanent or last attempt (dead letters)
	Panics     int64         // attempts that panicked (also counted above)
	Suppressed int64         // successes that delivered nothing (Delivery.Suppress; also in Succeeded)
	Held       int64         // retried attempts held back by ErrHeld (also in Retried)
	Busy       time.Duration // total time spent in Process
}

type counters struct {
	attempts, succeeded, retried, failed, panics, busy atomic.Int64
	suppressed, held                                   atomic.Int64
}

// NewMetrics returns empty counters.
func NewMetrics() *Metrics { return &Metrics{inboxes: map[string]*counters{}} }

func (m *Metrics) of(inbox string) *counters {
	m.mu.RLock()
	c := m.inboxes[inbox]
	m.mu.RUnlock()
	if c != nil {
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c = m.inboxes[inbox]; c == nil {
		c = &counters{}
		m.inboxes[inbox] = c
	}
	return c
}

// Middleware counts each attempt.
func (m *Metrics) Middleware() Middleware {
	return func(next ProcessFunc) ProcessFunc {
		return func(ctx context.Context, d *Delivery) error {
			c := m.of(d.Inbox)
			start := time.Now()
			c.attempts.Add(1)
			err := next(ctx, d)
			c.busy.Add(int64(time.Since(start)))
			switch OutcomeOf(d, err) {
			case OutcomeDone:
				c.succeeded.Add(1)
			case OutcomeSuppressed:
				c.succeeded.Add(1)
				c.suppressed.Add(1)
			case OutcomeDead:
				c.failed.Add(1)
			case OutcomeHeld:
				c.retried.Add(1)
				c.held.Add(1)
			default:
				c.retried.Add(1)
			}
			if errors.Is(err, ErrPanic) {
				c.panics.Add(1)
			}
			return err
		}
	}
}

// Snapshot returns every inbox's counts, by name.
func (m *Metrics) Snapshot() []Counts {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Counts, 0, len(m.inboxes))
	for name, c := range m.inboxes {
		out = append(out, Counts{
			Inbox: name, Attempts: c.attempts.Load(), Succeeded: c.succeeded.Load(), Retried: c.retried.Load(),
			Failed: c.failed.Load(), Panics: c.panics.Load(), Busy: time.Duration(c.busy.Load()),
			Suppressed: c.suppressed.Load(), Held: c.held.Load(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Inbox < out[j].Inbox })
	return out
}

// Of returns one inbox's counts.
func (m *Metrics) Of(inbox string) Counts {
	for _, c := range m.Snapshot() {
		if c.Inbox == inbox {
			return c
		}
	}
	return Counts{Inbox: inbox}
}
