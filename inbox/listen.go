package inbox

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// ListenApplicationName is the application_name of a relay's dedicated
// LISTEN connection, so it can be told apart in pg_stat_activity.
const ListenApplicationName = "tidings relay listener"

// ListenConfig configures Listen.
type ListenConfig struct {
	// DB is the app's database. Without a DSN, Listen takes the DSN of its
	// gorm postgres dialector for a dedicated connection, or else borrows
	// one of its pool connections (never returned to the pool).
	DB *gorm.DB
	// DSN opens the dedicated LISTEN connection. Default: DB's DSN.
	DSN string
	// Channel is the channel to LISTEN on (a constant identifier).
	Channel string
	// ApplicationName names the dedicated connection in pg_stat_activity.
	ApplicationName string
	// Up is called each time LISTEN is (re)established: catch up there on
	// what was notified while nobody listened.
	Up func()
	// Notified is called on each notification.
	Notified func()
	// Down is called when the connection is lost, with the error, the
	// count of consecutive failures and the pause before reconnecting.
	Down func(err error, failures int, retryIn time.Duration)
}

// Listen keeps a LISTEN connection on cfg.Channel until ctx is done,
// calling Notified on each notification and reconnecting with a capped
// backoff (100ms doubling to 5s) when the connection is lost. A wake-up
// only: callers poll as well, so a lost connection delays, never loses.
// The relay listens on activity.OutboxChannel through it; the workflow
// engine on its rules channel.
func Listen(ctx context.Context, cfg ListenConfig) {
	failures := 0
	for ctx.Err() == nil {
		err := listenOnce(ctx, cfg, func() {
			failures = 0
			if cfg.Up != nil {
				cfg.Up()
			}
		})
		if ctx.Err() != nil {
			return
		}
		failures++
		pause := backoff(100*time.Millisecond, 5*time.Second, failures)
		if cfg.Down != nil {
			cfg.Down(err, failures, pause)
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
func listenOnce(ctx context.Context, cfg ListenConfig, up func()) error {
	loop := func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{cfg.Channel}.Sanitize()); err != nil { // quoted: Channel is config, not code
			return fmt.Errorf("LISTEN: %w", err)
		}
		up()
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				return err
			}
			if cfg.Notified != nil {
				cfg.Notified()
			}
		}
	}
	if dsn := listenDSN(cfg); dsn != "" {
		pc, err := pgx.ParseConfig(dsn)
		if err != nil {
			return fmt.Errorf("parse ListenDSN: %w", err)
		}
		if cfg.ApplicationName != "" {
			pc.RuntimeParams["application_name"] = cfg.ApplicationName
		}
		conn, err := pgx.ConnectConfig(ctx, pc)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		return loop(conn)
	}
	// No DSN: borrow a pool connection for as long as it lasts.
	if cfg.DB == nil {
		return errors.New("inbox: Listen needs a DB or a DSN")
	}
	sqlDB, err := cfg.DB.DB()
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
			return fmt.Errorf("the database driver is %T, not pgx: set a ListenDSN", dc)
		}
		// The connection is still LISTENing or broken: never give it back.
		return errors.Join(loop(sc.Conn()), driver.ErrBadConn)
	})
}

// listenDSN returns the DSN for the dedicated connection, or "".
func listenDSN(cfg ListenConfig) string {
	if cfg.DSN != "" {
		return cfg.DSN
	}
	return dsnOf(cfg.DB)
}
