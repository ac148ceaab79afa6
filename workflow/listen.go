package workflow

import (
	"context"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// ListenApplicationName is the application_name of the engine's LISTEN
// connection, so it can be told apart in pg_stat_activity.
const ListenApplicationName = "tidings workflow listener"

// Run keeps Accepts current until ctx is done: it refreshes at once, then
// on every rule change announced on NotifyChannel (a LISTEN connection,
// reconnected when lost) and every RefreshInterval. It returns ctx's error.
// Run it beside the worker, in every process whose relay feeds the engine.
func (e *Engine) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	go inbox.Listen(ctx, inbox.ListenConfig{
		DB:              e.rules.db,
		DSN:             e.listen,
		Channel:         NotifyChannel,
		ApplicationName: ListenApplicationName,
		Up:              signal, // changes made while nobody listened
		Notified:        signal,
		Down: func(err error, failures int, retryIn time.Duration) {
			if failures == 1 || failures%20 == 0 {
				e.log.WarnContext(ctx, "workflow: LISTEN connection lost; refreshing on the interval meanwhile, reconnecting", "error", err, "retry_in", retryIn)
			}
		},
	})
	t := time.NewTicker(e.refresh)
	defer t.Stop()
	for {
		if err := e.Refresh(ctx); err != nil && ctx.Err() == nil {
			e.log.WarnContext(ctx, "workflow: refreshing triggers failed; retrying", "error", err, "retry_in", e.refresh)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-wake:
		}
	}
}
