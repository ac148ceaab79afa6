package workflow

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
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
	go e.listenLoop(ctx, wake)
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

// listenLoop LISTENs on NotifyChannel and signals wake on each
// notification, reconnecting with a capped backoff.
func (e *Engine) listenLoop(ctx context.Context, wake chan<- struct{}) {
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	failures := 0
	for ctx.Err() == nil {
		err := e.listenOnce(ctx, func() { failures = 0; signal() }, signal)
		if ctx.Err() != nil {
			return
		}
		failures++
		if failures == 1 || failures%20 == 0 {
			e.log.WarnContext(ctx, "workflow: LISTEN connection lost; refreshing on the interval meanwhile, reconnecting", "error", err)
		}
		pause := min(100*time.Millisecond<<min(failures, 6), 5*time.Second)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (e *Engine) listenOnce(ctx context.Context, up, notified func()) error {
	loop := func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
			return fmt.Errorf("LISTEN: %w", err)
		}
		up() // changes made while nobody listened
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				return err
			}
			notified()
		}
	}
	if dsn := e.listenDSN(); dsn != "" {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return fmt.Errorf("parse ListenDSN: %w", err)
		}
		cfg.RuntimeParams["application_name"] = ListenApplicationName
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		return loop(conn)
	}
	sqlDB, err := e.rules.db.DB()
	if err != nil {
		return err
	}
	c, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("the database driver is %T, not pgx: set EngineConfig.ListenDSN", dc)
		}
		// The connection is still LISTENing or broken: never give it back.
		return errors.Join(loop(sc.Conn()), driver.ErrBadConn)
	})
}

// listenDSN returns the DSN for a dedicated connection, or "".
func (e *Engine) listenDSN() string {
	if e.listen != "" {
		return e.listen
	}
	switch d := e.rules.db.Dialector.(type) {
	case *postgres.Dialector:
		if d.Config != nil {
			return d.DSN
		}
	case postgres.Dialector:
		if d.Config != nil {
			return d.DSN
		}
	}
	return ""
}
