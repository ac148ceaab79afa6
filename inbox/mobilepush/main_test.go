package mobilepush_test

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
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/mobilepush"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// The package's own Redis database (the test binary's own redis-server).
const redisDB = 11

const wait = 20 * time.Second

var (
	testDB   *gorm.DB
	redisOpt asynq.RedisClientOpt
	// issues is tenanted: a person's subscriptions are per tenant.
	issues = activity.MustDomain(activity.DomainConfig{
		Name: "issue", Tenant: activity.KeyText,
		Actions: []string{"comment_added", "label_added"},
	})
	seq atomic.Int64
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(issues)
	var err error
	testDB, err = pgtest.Create(ctx, "tidings_test_mobilepush", `CREATE TABLE issues (id bigserial PRIMARY KEY)`, up)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mobilepush tests need PostgreSQL:", err)
		os.Exit(1)
	}
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		fmt.Fprintln(os.Stderr, "mobilepush tests need Redis:", err)
		os.Exit(1)
	}
	redisOpt = asynq.RedisClientOpt{Addr: redistest.Addr(), DB: redisDB}
	code := m.Run()
	if sqlDB, err := testDB.DB(); err == nil {
		_ = sqlDB.Close()
	}
	os.Exit(code)
}

func testLogger() *slog.Logger {
	if os.Getenv("TIDINGS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, seq.Add(1))
}

// to is a RecipientsFunc naming the same people for every event.
func to(people ...mobilepush.Recipient) mobilepush.RecipientsFunc {
	return func(context.Context, *gorm.DB, activity.Event) ([]mobilepush.Recipient, error) { return people, nil }
}

func newInbox(t *testing.T, p mobilepush.Provider, cfg mobilepush.Config) *mobilepush.Inbox {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = unique(p.Name())
	}
	cfg.Provider = p
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	in, err := mobilepush.NewInbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// register stores a device token of kind for recipient in tenant.
func register(t *testing.T, tenant, recipient string, kind device.Kind, token string) {
	t.Helper()
	if _, err := device.Register(activity.WithTenant(context.Background(), tenant), testDB,
		device.Address{Recipient: recipient, Kind: kind, Address: token}); err != nil {
		t.Fatal(err)
	}
}

func newIssue(t *testing.T) int64 {
	t.Helper()
	var id int64
	if err := testDB.Raw(`INSERT INTO issues DEFAULT VALUES RETURNING id`).Scan(&id).Error; err != nil {
		t.Fatal(err)
	}
	return id
}

func record(t *testing.T, tenant string, issue int64, action, actor string) activity.Event {
	t.Helper()
	res, err := issues.RecordEvent(context.Background(), testDB, issue, action, activity.InTenant(tenant),
		activity.Actor(activity.Ref{Type: "users", ID: "1", Label: actor}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Event
}

type attempt struct {
	event activity.EventRef
	n     int
	err   error
	at    time.Time
}

// startWorker runs a worker with in, breakers and delays scaled down.
func startWorker(t *testing.T, in inbox.Inbox, breakers inbox.BreakerConfig) (*inbox.Worker, chan attempt) {
	t.Helper()
	ctx := context.Background()
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		t.Fatal(err)
	}
	// Events of earlier tests (processed by hand, never relayed) would
	// reach this inbox too: the worker starts from an empty outbox.
	if err := testDB.Exec(`DELETE FROM activity_outbox`).Error; err != nil {
		t.Fatal(err)
	}
	attempts := make(chan attempt, 10000)
	recordAttempt := func(next inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			err := next(ctx, d)
			attempts <- attempt{event: d.Event.Ref(), n: d.Attempt, err: err, at: time.Now()}
			return err
		}
	}
	w, err := inbox.NewWorker(inbox.Config{
		DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{in},
		Middleware:               []inbox.Middleware{recordAttempt},
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		Breakers:                 breakers,
		Relay:                    inbox.RelayConfig{PollInterval: 50 * time.Millisecond},
		Logger:                   testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return w, attempts
}

func nextAttempt(t *testing.T, ch <-chan attempt) attempt {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(wait):
		t.Fatal("no attempt within the deadline")
	}
	return attempt{}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", wait, what)
		case <-tick.C:
		}
	}
}
