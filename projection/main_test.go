package projection_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

const (
	dbName  = "tidings_test_projection"
	redisDB = 9
)

const appSchema = `
CREATE TABLE projects (id bigserial PRIMARY KEY, name text NOT NULL);
CREATE TABLE issues (id bigserial PRIMARY KEY, project_id bigint NOT NULL REFERENCES projects, title text NOT NULL,
    last_commented_at timestamptz);
CREATE TABLE project_comment_counts (project_id bigint PRIMARY KEY, comments bigint NOT NULL);
`

var (
	testDB *gorm.DB
	issues = activity.MustDomain(activity.DomainConfig{
		Name: "issue", Actions: []string{"comment_added", "label_added", "import_retracted"},
	})
	redis asynq.RedisClientOpt
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(issues)
	db, err := pgtest.Create(ctx, dbName, appSchema, up)
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
	redis = asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB, PoolSize: 32}
	os.Exit(m.Run())
}

func testLogger() *slog.Logger {
	if os.Getenv("TIDINGS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func reset(t *testing.T) {
	t.Helper()
	if err := testDB.Exec(`TRUNCATE activity_outbox, inbox_pending, inbox_deliveries, projections, projection_applied, project_comment_counts, issue_events, issues, projects`).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := redistest.Flush(context.Background(), redisDB); err != nil {
		t.Fatal(err)
	}
}

func startWorker(t *testing.T, ins ...inbox.Inbox) *inbox.Worker {
	t.Helper()
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: redis, Domains: []*activity.Domain{issues}, Inboxes: ins,
		Logger: testLogger(), Relay: inbox.RelayConfig{PollInterval: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return w
}
