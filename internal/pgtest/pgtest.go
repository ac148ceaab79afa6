// Package pgtest gives each test package a database of its own on the real
// PostgreSQL server: dropped, created and migrated at start, so packages run
// in parallel under `go test ./...` without seeing each other's rows.
//
// The server is found through TIDINGS_PG_DSN (a key=value or URL DSN without
// a database name); the default is host=127.0.0.1 port=5432 user=postgres.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tidingsdev/tidings/migrations"
)

// BaseDSN is the server DSN without a database name.
func BaseDSN() string {
	if dsn := os.Getenv("TIDINGS_PG_DSN"); dsn != "" {
		return dsn
	}
	return "host=127.0.0.1 port=5432 user=postgres sslmode=disable"
}

// Name returns the database name a test package's name maps to: name plus
// TIDINGS_TEST_DB_SUFFIX, so two checkouts can run their tests on one
// server at once without dropping each other's databases.
func Name(name string) string { return name + os.Getenv("TIDINGS_TEST_DB_SUFFIX") }

// DSN returns the DSN of database Name(name) on the test server.
func DSN(name string) string { return BaseDSN() + " dbname=" + Name(name) }

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Create drops and re-creates database name, applies the library's
// migrations, then runs each of extra (SQL, applied in order), and returns a
// gorm handle on it.
func Create(ctx context.Context, name string, extra ...string) (*gorm.DB, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("pgtest: bad database name %q", name)
	}
	admin, err := sql.Open("pgx", BaseDSN()+" dbname=postgres")
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+Name(name)+" WITH (FORCE)"); err != nil {
		return nil, fmt.Errorf("pgtest: drop %s: %w (is PostgreSQL running? see .ci/run)", Name(name), err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+Name(name)); err != nil {
		return nil, fmt.Errorf("pgtest: create %s: %w", name, err)
	}
	db, err := Open(name)
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if err := migrations.Up(ctx, sqlDB); err != nil {
		return nil, err
	}
	for _, stmt := range extra {
		if err := db.WithContext(ctx).Exec(stmt).Error; err != nil {
			return nil, fmt.Errorf("pgtest: apply %.60q: %w", strings.TrimSpace(stmt), err)
		}
	}
	return db, nil
}

// Open returns a gorm handle on database name, logging only errors.
func Open(name string) (*gorm.DB, error) {
	db, err := gorm.Open(postgres.Open(DSN(name)), &gorm.Config{
		Logger:                 logger.Default.LogMode(logger.Silent),
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("pgtest: open %s: %w", name, err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(64)
	sqlDB.SetMaxIdleConns(64)
	return db, nil
}
