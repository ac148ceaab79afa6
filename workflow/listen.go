package workflow

import (
	"context"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// ListenApplicationName is the application_name of the engine's LISTEN
// connection, so it can be told apart in pg_stat_activity.
const ListenApplicationName = "tidings workflow listener"

// CheckApplicationName is the application_name of the connection Run
// refreshes on.
const CheckApplicationName = "tidings workflow checks"

// Run keeps Accepts current until ctx is done: it refreshes at once, then
// on every rule change announced on NotifyChannel (a LISTEN connection,
// reconnected when lost) and every RefreshInterval. It returns ctx's error.
// Run it beside the worker, in every process whose relay feeds the engine.
//
// Run's refreshes use a one-connection pool of their own (inbox.OwnPool,
// on ListenDSN or the DB's DSN), never the application's: a pool saturated
// by writers must not delay them.
func (e *Engine) Run(ctx context.Context) error {
	db, shared, err := inbox.OwnPool(e.rules.db, e.listen, 1, CheckApplicationName)
	if err != nil {
		return err
	}
	if shared {
		e.log.WarnContext(ctx, "workflow: the engine's refreshes share the application's connection pool (the DB was opened on an existing pool and EngineConfig.ListenDSN is empty)")
	} else {
		defer func() {
			if sqlDB, err := db.DB(); err == nil {
				sqlDB.Close()
			}
		}()
	}
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
		if err := e.cache.refresh(ctx, db); err != nil && ctx.Err() == nil {
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
