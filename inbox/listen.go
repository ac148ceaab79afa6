package inbox

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"

	"github.com/tidingsdev/tidings/activity"
)

// ListenApplicationName is the application_name of a relay's dedicated
// LISTEN connection, so it can be told apart in pg_stat_activity.
const ListenApplicationName = "tidings relay listener"

// listen keeps a LISTEN connection on activity.OutboxChannel and wakes the
// relay on each notification, reconnecting (with a capped backoff) when the
// connection is lost. It only speeds the relay up: polling goes on without
// it.
func (r *Relay) listen(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		err := r.listenOnce(ctx, func() { failures = 0 })
		r.listenUp.Store(false)
		if ctx.Err() != nil {
			return
		}
		failures++
		pause := backoff(100*time.Millisecond, 5*time.Second, failures)
		if failures == 1 || failures%20 == 0 {
			r.log.LogAttrs(ctx, slog.LevelWarn, "inbox: relay LISTEN connection lost; polling meanwhile, reconnecting",
				slog.Any("error", err), slog.Duration("poll_interval", r.cfg.PollInterval), slog.Duration("retry_in", pause))
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// listenOnce opens (or borrows) a connection, LISTENs, and forwards
// notifications until the connection fails or ctx is done.
func (r *Relay) listenOnce(ctx context.Context, up func()) error {
	loop := func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "LISTEN "+activity.OutboxChannel); err != nil {
			return fmt.Errorf("LISTEN: %w", err)
		}
		r.listenUp.Store(true)
		up()
		r.Wake() // rows committed while nobody listened
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				return err
			}
			r.Wake()
		}
	}
	if dsn := r.listenDSN(); dsn != "" {
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
	// No DSN: borrow a pool connection for as long as it lasts.
	c, err := r.sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("the database driver is %T, not pgx: set RelayConfig.ListenDSN", dc)
		}
		// The connection is still LISTENing or broken: never give it back.
		return errors.Join(loop(sc.Conn()), driver.ErrBadConn)
	})
}

// listenDSN returns the DSN for the dedicated connection, or "".
func (r *Relay) listenDSN() string {
	if r.cfg.ListenDSN != "" {
		return r.cfg.ListenDSN
	}
	switch d := r.cfg.DB.Dialector.(type) {
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
