package webhook

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

const (
	dbName  = "tidings_test_webhook"
	redisDB = 10
)

var (
	testDB    *gorm.DB
	testRedis asynq.RedisClientOpt
	issues    = activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added", "label_added"}})
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(issues)
	db, err := pgtest.Create(ctx, dbName, `CREATE TABLE issues (id bigserial PRIMARY KEY, title text NOT NULL)`, up)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDB = db
	opt, err := redistest.Flush(ctx, redisDB)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testRedis = asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB}
	os.Exit(m.Run())
}

func testLogger() *slog.Logger {
	if os.Getenv("TIDINGS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
