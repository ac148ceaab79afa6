package activity

import (
	"sync/atomic"
	"time"
)

// DefaultWakeInterval is the default DomainConfig.WakeInterval.
const DefaultWakeInterval = 100 * time.Millisecond

// waker decides which recordings carry a wake-up for relays: at most one
// per interval per Domain value, so per process.
//
// Why not one notification per event: PostgreSQL takes one server-wide lock
// at the commit of every transaction that called pg_notify and holds it
// through the WAL flush, so notifying transactions commit one at a time and
// group commit is lost (measured on 2 cores: recording at 0.33-0.54x of the
// same statement without notification). A wake-up every interval costs that
// lock for a handful of commits per second; relays find the events in
// between by polling, which they tighten while events keep coming (see
// package inbox).
//
// The wake-up rides in the recording statement itself (no extra round
// trip), so it is delivered at that transaction's commit; if that
// transaction rolls back, the wake-up is lost and polling finds the others.
type waker struct {
	every int64 // nanoseconds; 0 = never wake
	clock func() time.Time
	next  atomic.Int64 // monotonic-ish: UnixNano of the next allowed wake-up
}

// take reports whether this recording should carry a wake-up.
func (w *waker) take() bool {
	if w.every <= 0 {
		return false
	}
	now := w.clock().UnixNano()
	next := w.next.Load()
	if now < next {
		return false
	}
	return w.next.CompareAndSwap(next, now+w.every)
}
