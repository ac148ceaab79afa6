// Package pgtest gives each test package a database of its own on the real
// PostgreSQL server: dropped, created and migrated at start, so packages run
// in parallel under `go test ./...` without seeing each other's rows. Its
// name says it is scratch (Prefix), and it is dropped only when an earlier
// run created it (internal/scratchdb's mark): a database of the same name
// that a test did not create stops the test instead.
//
// The server is found through TIDINGS_PG_DSN (a key=value or URL DSN without
// a database name); the default is host=127.0.0.1 port=5432 user=postgres.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tidingsdev/tidings/internal/scratchdb"
	"github.com/tidingsdev/tidings/migrations"
)

// Prefix starts the name of every database Create makes.
const Prefix = "tidings_test_"

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

// Create drops (when an earlier run created it) and creates database
// Name(name), applies the library's migrations, then runs each of extra
// (SQL, applied in order), and returns a gorm handle on it. name must start
// with Prefix.
func Create(ctx context.Context, name string, extra ...string) (*gorm.DB, error) {
	if !strings.HasPrefix(name, Prefix) {
		return nil, fmt.Errorf("pgtest: database name %q does not start with %q", name, Prefix)
	}
	admin, err := sql.Open("pgx", BaseDSN()+" dbname=postgres")
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if err := scratchdb.Recreate(ctx, admin, Name(name)); errors.Is(err, scratchdb.ErrNotScratch) {
		return nil, fmt.Errorf("pgtest: %w", err)
	} else if err != nil {
		return nil, fmt.Errorf("pgtest: %w (is PostgreSQL running? see .ci/run)", err)
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

// CreateForFuzz is Create, except in a worker process that `go test
// -fuzz` started (the test.fuzzworker flag; call flag.Parse first): the
// coordinator has made the database already, and making it again (drop,
// create) would cut off the other workers mid-input, so it opens it.
func CreateForFuzz(ctx context.Context, name string, extra ...string) (*gorm.DB, error) {
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		return Open(name)
	}
	return Create(ctx, name, extra...)
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
