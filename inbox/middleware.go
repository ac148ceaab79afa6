package inbox

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// Middleware wraps the processing of every delivery, asynq style: call
// next to continue, or return without calling it to stop.
//
//	func tracing(next inbox.ProcessFunc) inbox.ProcessFunc {
//		return func(ctx context.Context, d *inbox.Delivery) error {
//			ctx, span := tracer.Start(ctx, "inbox "+d.Inbox)
//			defer span.End()
//			return next(ctx, d)
//		}
//	}
//
// The worker runs Logging, then its Metrics, then Config.Middleware in
// order, then Recover, then the inbox's Process.
type Middleware func(next ProcessFunc) ProcessFunc

// chain wraps fn in mws, the first outermost.
func chain(fn ProcessFunc, mws ...Middleware) ProcessFunc {
	for i := len(mws) - 1; i >= 0; i-- {
		fn = mws[i](fn)
	}
	return fn
}

// Recover turns a panic in Process into a *PanicError (retried like any
// error) carrying the stack, instead of letting it reach asynq.
func Recover() Middleware {
	return func(next ProcessFunc) ProcessFunc {
		return func(ctx context.Context, d *Delivery) (err error) {
			defer func() {
				if v := recover(); v != nil {
					err = &PanicError{Inbox: d.Inbox, Value: v, Stack: debug.Stack()}
				}
			}()
			return next(ctx, d)
		}
	}
}

// Logging logs every attempt on logger: a success at Debug, a failure that
// will be retried at Warn, a final failure (permanent, or the last
// attempt) at Error, a panic at Error with its stack.
func Logging(logger *slog.Logger) Middleware {
	return func(next ProcessFunc) ProcessFunc {
		return func(ctx context.Context, d *Delivery) error {
			start := time.Now()
			err := next(ctx, d)
			if err == nil && !logger.Enabled(ctx, slog.LevelDebug) {
				return nil
			}
			attrs := []slog.Attr{
				slog.String("inbox", d.Inbox),
				slog.String("event", d.Event.Ref().String()),
				slog.String("action", d.Event.Action),
				slog.Int("attempt", d.Attempt),
				slog.Int("max_attempts", d.MaxAttempts),
				slog.Duration("took", time.Since(start)),
			}
			if err == nil {
				logger.LogAttrs(ctx, slog.LevelDebug, "inbox: delivered", attrs...)
				return nil
			}
			attrs = append(attrs, slog.Any("error", err))
			var pe *PanicError
			if errors.As(err, &pe) {
				attrs = append(attrs, slog.String("stack", string(pe.Stack)))
			}
			switch {
			case errors.Is(err, ErrStopping):
				logger.LogAttrs(ctx, slog.LevelDebug, "inbox: handed back to the queue: the worker is stopping", attrs...)
			case errors.Is(err, ErrHeld):
				logger.LogAttrs(ctx, slog.LevelDebug, "inbox: held while the sink is down", attrs...)
			case errors.Is(err, activity.ErrCausationDepth):
				logger.LogAttrs(ctx, slog.LevelError, "inbox: causation chain too deep, not retrying: an event recorded while handling an event would pass the domain's MaxDepth (a loop of inboxes or workflows recording events?)", attrs...)
			case IsPermanent(err):
				logger.LogAttrs(ctx, slog.LevelError, "inbox: permanent failure, not retrying; see the dead letters", attrs...)
			case d.LastAttempt():
				logger.LogAttrs(ctx, slog.LevelError, "inbox: last attempt failed; see the dead letters", attrs...)
			default:
				logger.LogAttrs(ctx, slog.LevelWarn, "inbox: attempt failed, will retry", attrs...)
			}
			return err
		}
	}
}
