package workflow_test

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
	"github.com/tidingsdev/tidings/workflow"
)

// The app these tests play: an issue tracker whose issues have comments,
// and whose issue domain the rules react to.
const (
	dbName  = "tidings_test_workflow"
	redisDB = 5
)

const appSchema = `
CREATE TABLE issues (
    id         bigserial   PRIMARY KEY,
    title      text        NOT NULL,
    tenant     text        NOT NULL DEFAULT 'acme',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE comments (
    id       bigserial PRIMARY KEY,
    issue_id bigint    NOT NULL REFERENCES issues (id),
    body     text      NOT NULL,
    author   text               -- NULL for a comment a rule wrote
);
`

var (
	testDB *gorm.DB
	issues = activity.MustDomain(activity.DomainConfig{
		Name:    "issue",
		Actions: []string{"comment_added", "labeled", "status_changed", "looped", "closed"},
		Aliases: map[string]string{"commented": "comment_added"},
	})
	redisOpt asynq.RedisClientOpt
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
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	redisOpt = asynq.RedisClientOpt{Addr: redistest.Addr(), DB: redisDB}
	os.Exit(m.Run())
}

// reset empties the app's and the library's tables and the test Redis
// database, so each test starts from nothing.
func reset(t *testing.T) {
	t.Helper()
	if err := resetTables(); err != nil {
		t.Fatal(err)
	}
	if _, err := redistest.Flush(context.Background(), redisDB); err != nil {
		t.Fatal(err)
	}
}

func resetTables() error {
	return testDB.Exec(`TRUNCATE workflow_rules, workflow_versions, workflow_runs, workflow_action_runs,
    activity_outbox, inbox_pending, inbox_deliveries, inbox_dead_letters, notifications, issue_events, comments, issues RESTART IDENTITY CASCADE`).Error
}

func testLogger() *slog.Logger {
	if os.Getenv("TIDINGS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startWorker runs a worker with the engine as its only inbox on the test
// databases, retrying quickly, until the test ends.
func startWorker(t *testing.T, e *workflow.Engine) *inbox.Worker {
	t.Helper()
	w, err := inbox.NewWorker(inbox.Config{
		DB:                       testDB,
		Redis:                    redisOpt,
		Domains:                  []*activity.Domain{issues},
		Inboxes:                  []inbox.Inbox{e},
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		Logger:                   testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return w
}

// waitFor waits until cond holds, checking every 20ms, and fails the test
// at the deadline.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}
