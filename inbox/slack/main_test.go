package slack_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// The package's own Redis database (internal/redistest).
const redisDB = 4

var (
	// testDB is the package's own database, tidings_test_slack, created
	// afresh with the library's migrations applied (slack_threads is in
	// migrations/00004_channels.sql), an issues table and the issue
	// domain's events table.
	testDB *gorm.DB
	// issues is the domain the worker tests record events in.
	issues = activity.MustDomain(activity.DomainConfig{
		Name:    "issue",
		Actions: []string{"comment_added", "label_added", "deleted"},
	})
	redisOpt asynq.RedisClientOpt
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(issues)
	var err error
	testDB, err = pgtest.Create(ctx, "tidings_test_slack", `CREATE TABLE issues (id bigserial PRIMARY KEY)`, up)
	if err != nil {
		fmt.Fprintln(os.Stderr, "slack tests need PostgreSQL:", err)
		os.Exit(1)
	}
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		fmt.Fprintln(os.Stderr, "slack tests need Redis:", err)
		os.Exit(1)
	}
	redisOpt = asynq.RedisClientOpt{Addr: redistest.Addr(), DB: redisDB}
	keySeq.Store(1 << 20)
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
