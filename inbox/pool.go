package inbox

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// OwnPool opens a small connection pool of its own (at most maxConns
// connections) on the database db is connected to, named appName in
// pg_stat_activity, for a background loop: the relay, a workflow engine's
// checks. Such loops must not draw from the application's pool: when
// recording saturates it, database/sql hands a freed connection to a random
// one of hundreds of waiters, and a relay sharing it was measured waiting
// 0.25-4.6 s for a connection.
//
// dsn names the database; "" takes the DSN db was opened with (a gorm
// postgres dialector opened from a DSN). When there is neither, OwnPool
// returns db itself and shared = true: the caller should say so in its log.
// Close the returned pool's *sql.DB when the loop ends (unless shared).
func OwnPool(db *gorm.DB, dsn string, maxConns int, appName string) (pool *gorm.DB, shared bool, err error) {
	return ownPool(db, dsn, maxConns, appName, nil)
}

// ownPool is OwnPool with session settings for every connection (the
// loop's own connections: nobody else's statements see them).
func ownPool(db *gorm.DB, dsn string, maxConns int, appName string, settings map[string]string) (pool *gorm.DB, shared bool, err error) {
	if dsn == "" {
		dsn = dsnOf(db)
	}
	if dsn == "" {
		return db, true, nil
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, false, fmt.Errorf("inbox: parse DSN for the %s pool: %w", appName, err)
	}
	if appName != "" {
		cfg.RuntimeParams["application_name"] = appName
	}
	for k, v := range settings {
		cfg.RuntimeParams[k] = v
	}
	sqlDB := stdlib.OpenDB(*cfg)
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	pool, err = gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		NowFunc:                db.Config.NowFunc,
	})
	if err != nil {
		sqlDB.Close()
		return nil, false, fmt.Errorf("inbox: open the %s pool: %w", appName, err)
	}
	return pool, false, nil
}

// closePool closes a pool OwnPool opened (not a shared one).
func closePool(pool *gorm.DB, shared bool) error {
	if shared || pool == nil {
		return nil
	}
	sqlDB, err := pool.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// dsnOf returns the DSN a gorm postgres dialector was opened with, or "".
func dsnOf(db *gorm.DB) string {
	if db == nil {
		return ""
	}
	switch d := db.Dialector.(type) {
	case *postgres.Dialector:
		if d.Config != nil && d.Conn == nil {
			return d.DSN
		}
	case postgres.Dialector:
		if d.Config != nil && d.Conn == nil {
			return d.DSN
		}
	}
	return ""
}
