package email_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// The inbox tests' own database and Redis database.
const (
	dbName  = "tidings_test_email"
	redisDB = 3
)

var (
	// testDB is tidings_test_email, created afresh with the library's
	// migrations, an issues table and the issue domain's events table.
	testDB *gorm.DB
	// issues is the domain the worker tests record events in.
	issues = activity.MustDomain(activity.DomainConfig{
		Name:    "issue",
		Actions: []string{"comment_added", "label_added", "status_changed"},
	})
	redisOpt asynq.RedisClientOpt
	// eventSeq numbers the events tests make up, so ledger rows of one
	// test (or of a -count rerun) never collide with another's.
	eventSeq atomic.Int64
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(issues)
	db, err := pgtest.Create(ctx, dbName, `CREATE TABLE issues (id bigserial PRIMARY KEY)`, up)
	if err != nil {
		fmt.Fprintln(os.Stderr, "email tests need PostgreSQL:", err)
		os.Exit(1)
	}
	testDB = db
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		fmt.Fprintln(os.Stderr, "email tests need Redis:", err)
		os.Exit(1)
	}
	redisOpt = asynq.RedisClientOpt{Addr: redistest.Addr(), DB: redisDB}
	eventSeq.Store(1 << 20)
	code := m.Run()
	if sqlDB, err := testDB.DB(); err == nil {
		_ = sqlDB.Close()
	}
	os.Exit(code)
}

// testLogger discards logs unless TIDINGS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("TIDINGS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
