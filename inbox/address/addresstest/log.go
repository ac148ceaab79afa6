package addresstest

import (
	"fmt"
	"sync"
	"time"
)

// Log is what a local peer received, in order. Its zero value is empty
// and ready; it is safe for concurrent use.
type Log[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{} // closed and replaced at each Add
	closed  chan struct{} // closed by Close
	once    sync.Once
}

func (l *Log[T]) init() {
	if l.changed == nil {
		l.changed, l.closed = make(chan struct{}), make(chan struct{})
	}
}

// Add records v and wakes the waiters.
func (l *Log[T]) Add(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	l.items = append(l.items, v)
	close(l.changed)
	l.changed = make(chan struct{})
}

// All returns what was received so far, in order.
func (l *Log[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}

// Filter returns what was received that keep keeps, in order.
func (l *Log[T]) Filter(keep func(T) bool) []T {
	var out []T
	for _, v := range l.All() {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

// Close says the peer stopped: WaitFor returns at once from then on.
func (l *Log[T]) Close() {
	l.mu.Lock()
	l.init()
	l.mu.Unlock()
	l.once.Do(func() { close(l.closed) })
}

// WaitFor waits until cond holds of what was received, at most d, and
// returns it; an error says the deadline passed (or the peer stopped)
// first.
func (l *Log[T]) WaitFor(d time.Duration, cond func([]T) bool) ([]T, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		l.init()
		got, changed, closed := append([]T(nil), l.items...), l.changed, l.closed
		l.mu.Unlock()
		if cond(got) {
			return got, nil
		}
		select {
		case <-changed:
		case <-closed:
			return got, fmt.Errorf("the peer stopped before the condition held (%d received)", len(got))
		case <-deadline.C:
			return got, fmt.Errorf("condition not met within %v (%d received)", d, len(got))
		}
	}
}
