package address

import (
	"fmt"
	"sync"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// defaultRateLimitWait is the wait of a rate limit that said none.
const defaultRateLimitWait = time.Minute

// WaitError is a send not made because its sink asked this process to
// wait (a 429's Retry-After): it wraps the answer that asked, so it
// matches the channel's rate-limit sentinel (errors.Is).
type WaitError struct {
	Sink string
	Wait time.Duration // what is left of the wait
	Err  error         // the rate-limited answer
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("waiting %s for %s's rate limit: %v", e.Wait.Round(time.Millisecond), e.Sink, e.Err)
}
func (e *WaitError) Unwrap() error { return e.Err }

// limits holds each sink's rate-limit wait in this process.
type limits struct {
	now   func() time.Time
	mu    sync.Mutex
	until map[string]limit
}

type limit struct {
	until time.Time
	err   error
}

// waiting returns the error of a send to sink that must still wait, nil
// when it may go.
func (l *limits) waiting(sink string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.until[sink]
	if !ok {
		return nil
	}
	wait := b.until.Sub(l.now())
	if wait <= 0 {
		delete(l.until, sink)
		return nil
	}
	return inbox.RetryAfter(wait, &WaitError{Sink: sink, Wait: wait, Err: b.err})
}

// block makes sends to sink wait d, because of err.
func (l *limits) block(sink string, d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	until := l.now().Add(d)
	if until.After(l.until[sink].until) {
		l.until[sink] = limit{until: until, err: err}
	}
}
