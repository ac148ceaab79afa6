package observe_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// The app these tests play: a crowdfunding site whose project domain
// records pledges (Kickstarter, seed 002). Projects have text keys.
const (
	dbName  = "tidings_test_observe"
	redisDB = 8
)

const appSchema = `CREATE TABLE projects (id text PRIMARY KEY, title text NOT NULL);
INSERT INTO projects VALUES ('p-alpha', 'Alpha'), ('p-beta', 'Beta');`

// newProjects declares the project domain with obs watching it.
func newProjects(obs activity.Observer) *activity.Domain {
	return activity.MustDomain(activity.DomainConfig{
		Name:     "project",
		Subject:  activity.Subject{Table: "projects", KeyType: activity.KeyText},
		Actions:  []string{"pledged", "refunded", "viewed"},
		Observer: obs,
	})
}

var (
	testDB *gorm.DB
	redis  asynq.RedisClientOpt
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(newProjects(nil))
	db, err := pgtest.Create(ctx, dbName, appSchema, up)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDB = db
	if os.Getenv("TIDINGS_TEST_LOG") == "" {
		goredis.SetLogger(silentRedisLog{})
	}
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	redis = asynq.RedisClientOpt{Addr: redistest.Addr(), DB: redisDB}
	os.Exit(m.Run())
}

func reset(t *testing.T) {
	t.Helper()
	if err := testDB.Exec(`TRUNCATE activity_outbox, inbox_pending, inbox_deliveries, inbox_dead_letters, project_events`).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := redistest.Flush(context.Background(), redisDB); err != nil {
		t.Fatal(err)
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("TIDINGS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startWorker starts a worker on the test databases, stopped at cleanup.
func startWorker(t *testing.T, cfg inbox.Config) *inbox.Worker {
	t.Helper()
	cfg.DB, cfg.Redis, cfg.Logger = testDB, redis, testLogger()
	cfg.Relay.PollInterval = 20 * time.Millisecond
	w, err := inbox.NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return w
}

// waitFor checks cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		<-tick.C
	}
}

// silentRedisLog drops go-redis's own log lines (dial failures while a
// test's Redis is down on purpose).
type silentRedisLog struct{}

func (silentRedisLog) Printf(context.Context, string, ...any) {}
