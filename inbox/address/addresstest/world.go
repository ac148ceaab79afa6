package addresstest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// Wait is how long a test waits for what it expects before it fails.
const Wait = 20 * time.Second

// World is a channel package's test world.
type World struct {
	// DB is the package's own database ("tidings_test_" and its name),
	// with the issues table and Issues' events tables.
	DB *gorm.DB
	// Redis is the package's own database of the test binary's
	// redis-server.
	Redis asynq.RedisClientOpt
	// Issues is a tenanted domain (a person's addresses are per tenant)
	// with the actions comment_added and label_added.
	Issues *activity.Domain

	name    string
	redisDB int
	seq     atomic.Int64
}

// NewWorld returns the world of package name, which Run sets up; redisDB
// is the package's own Redis database.
func NewWorld(name string, redisDB int) *World {
	return &World{name: name, redisDB: redisDB, Issues: activity.MustDomain(activity.DomainConfig{
		Name: "issue", Tenant: activity.KeyText,
		Actions: []string{"comment_added", "label_added"},
	})}
}

// Run sets the world up, calls then (nil: nothing) and runs the tests; it
// returns the exit code for os.Exit.
func (w *World) Run(m *testing.M, then func() error) int {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(w.Issues)
	var err error
	w.DB, err = pgtest.Create(ctx, "tidings_test_"+w.name, `CREATE TABLE issues (id bigserial PRIMARY KEY)`, up)
	if err != nil {
		fmt.Fprintln(os.Stderr, w.name, "tests need PostgreSQL:", err)
		return 1
	}
	defer func() {
		if sqlDB, err := w.DB.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()
	if _, err := redistest.Flush(ctx, w.redisDB); err != nil {
		fmt.Fprintln(os.Stderr, w.name, "tests need Redis:", err)
		return 1
	}
	w.Redis = asynq.RedisClientOpt{Addr: redistest.Addr(), DB: w.redisDB}
	if then != nil {
		if err := then(); err != nil {
			fmt.Fprintln(os.Stderr, w.name, "tests:", err)
			return 1
		}
	}
	return m.Run()
}

// Logger discards, or writes everything to stderr when TIDINGS_TEST_LOG
// is set.
func Logger() *slog.Logger {
	if os.Getenv("TIDINGS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Unique is prefix made unique in the database: for names of inboxes,
// people and devices.
func (w *World) Unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, w.seq.Add(1))
}

// NewIssue inserts an issue and returns its ID.
func (w *World) NewIssue(t testing.TB) int64 {
	t.Helper()
	var id int64
	if err := w.DB.Raw(`INSERT INTO issues DEFAULT VALUES RETURNING id`).Scan(&id).Error; err != nil {
		t.Fatal(err)
	}
	return id
}

// Record records action on issue in tenant, by users:1 named actor.
func (w *World) Record(t testing.TB, tenant string, issue int64, action, actor string) activity.Event {
	t.Helper()
	res, err := w.Issues.RecordEvent(context.Background(), w.DB, issue, action, activity.InTenant(tenant),
		activity.Actor(activity.Ref{Type: "users", ID: "1", Label: actor}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Event
}

// WaitUntil polls cond until it holds, failing the test after Wait.
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(Wait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", Wait, what)
		case <-tick.C:
		}
	}
}
