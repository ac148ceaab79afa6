package inbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrStopping matches the error of a job that gave up waiting because its
// worker began a graceful stop (Stopping): see Stopped.
var ErrStopping = errors.New("inbox: the worker is stopping")

// Stopping returns a channel closed when the worker running ctx's job
// begins a graceful stop (Worker.Shutdown), so that a job waiting for its
// turn (a Slack post waiting for the earlier posts of its thread, a
// channel's rate limit) gives up at once instead of holding the shutdown
// until ShutdownTimeout, when asynq abandons it with a "Quitting worker"
// warning. Such a job returns Stopped's error.
//
// The channel is nil (it never fires) outside an inbox's job (the tasks of
// Config.Tasks are not told) and on a job's last attempt, which asynq would archive rather than hand back:
// that one keeps waiting as before. A job must not give up once its effect
// may have happened (a request sent): only waits before it.
func Stopping(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(stoppingKey{}).(chan struct{})
	return ch
}

// Stopped is the error of a job that gave up waiting at Stopping, while
// doing what (it wraps cause when there is one). The worker hands the job
// back to its queue, due at once for the next worker (or this one when it
// starts again): not counted as an attempt (asynq's IsFailure), not a
// failure of the inbox's sink, not counted in its retry window, logged at
// debug only, reported as held (OutcomeHeld). The ledger's claim is
// released as for any error.
func Stopped(what string, cause error) error {
	return &StoppingError{What: what, Err: cause}
}

// StoppingError is Stopped's error; it matches ErrStopping.
type StoppingError struct {
	What string
	Err  error
}

func (e *StoppingError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", ErrStopping, e.What, e.Err)
	}
	return fmt.Sprintf("%s: %s", ErrStopping, e.What)
}

func (e *StoppingError) Unwrap() error        { return e.Err }
func (e *StoppingError) Is(target error) bool { return target == ErrStopping }

type stoppingKey struct{}

// withStopping gives a job's ctx the worker's stop signal (Stopping),
// unless it is the job's last attempt.
func withStopping(ctx context.Context, ch chan struct{}, retried, maxRetry int) context.Context {
	if ch == nil || retried >= maxRetry {
		return ctx
	}
	return context.WithValue(ctx, stoppingKey{}, ch)
}

// UntilStopping returns a context that is done when ctx is, or when the
// worker begins a graceful stop (Stopping): for a blocking wait that takes
// a context (a lock in PostgreSQL). Call cancel when the wait is over.
func UntilStopping(ctx context.Context) (context.Context, context.CancelFunc) {
	stop := Stopping(ctx)
	wctx, cancel := context.WithCancel(ctx)
	if stop == nil {
		return wctx, cancel
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-stop:
			cancel()
		case <-done:
		}
	}()
	return wctx, sync.OnceFunc(func() { close(done); cancel() })
}
