package retention_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/retention"
)

var (
	db  *gorm.DB
	now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	day = 24 * time.Hour
	// A partitioned domain keeping 100 days, an unpartitioned one 30.
	parted = activity.MustDomain(activity.DomainConfig{Name: "parted", Subject: activity.Subject{Table: "issues"}, Actions: []string{"a"},
		Partition: &activity.Partitioning{}, Retention: 100 * day, Now: func() time.Time { return now }})
	plain = activity.MustDomain(activity.DomainConfig{Name: "plain", Subject: activity.Subject{Table: "issues"}, Actions: []string{"a"},
		Retention: 30 * day, Now: func() time.Time { return now }})
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	up1, _ := activity.MigrationSQL(parted)
	up2, _ := activity.MigrationSQL(plain)
	var err error
	if db, err = pgtest.Create(ctx, "tidings_test_retention", "CREATE TABLE issues (id bigint PRIMARY KEY); INSERT INTO issues VALUES (1)", up1, up2); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func count(t *testing.T, table, where string) int64 {
	t.Helper()
	var n int64
	if err := db.Raw("SELECT count(*) FROM " + table + " WHERE " + where).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// seed fills every table retention prunes with one old and one recent row
// (or more), as of now.
func seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	actor := activity.Actor(activity.System("system"))
	// The partitions of the backfill, made by the domain without its
	// retention (which would not create partitions already past it).
	keepAll := activity.MustDomain(activity.DomainConfig{Name: "parted", Subject: activity.Subject{Table: "issues"}, Actions: []string{"a"}, Partition: &activity.Partitioning{}})
	if _, err := keepAll.Maintain(ctx, db, activity.MaintainConfig{Now: now, Since: now.AddDate(0, -8, 0)}); err != nil {
		t.Fatal(err)
	}
	for _, ago := range []int{240, 200, 150, 20, 0} { // days
		for _, d := range []*activity.Domain{parted, plain} {
			if _, err := d.RecordEvent(ctx, db, 1, "a", actor, activity.OccurredAt(now.Add(-time.Duration(ago)*day))); err != nil {
				t.Fatal(err)
			}
		}
	}
	old, recent := now.Add(-400*day), now.Add(-day)
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO notifications (recipient, domain, event_id, inbox, action, subject_id, actor_type, actor_id, occurred_at, created_at, read_at, seq)
VALUES ('ana', 'plain', 1, 'app', 'a', '1', 'system', 'system', ?, ?, ?, 1), ('ana', 'plain', 2, 'app', 'a', '1', 'system', 'system', ?, ?, NULL, 2),
       ('ana', 'plain', 3, 'app', 'a', '1', 'system', 'system', ?, ?, ?, 3), ('ana', 'plain', 4, 'app', 'a', '1', 'system', 'system', ?, ?, NULL, 4)`,
			[]any{old, old, old, old, old, recent, recent, recent, recent, recent}},
		{`INSERT INTO inbox_deliveries (inbox, domain, event_id, status, created_at) VALUES ('app', 'plain', 1, 'done', ?), ('app', 'plain', 2, 'done', ?), ('app', 'plain', 3, 'sending', ?)`, []any{old, recent, old}},
		{`INSERT INTO inbox_dead_letters (inbox, domain, event_id, queue, task_id, attempts, last_error, failed_at) VALUES ('app', 'plain', 1, 'q', 't1', 3, 'x', ?), ('app', 'plain', 2, 'q', 't2', 3, 'x', ?)`, []any{old, recent}},
		{`INSERT INTO email_digests (inbox, recipient, period_start, due_at, recipient_email, status, updated_at) VALUES ('mail', 'ana', ?, ?, 'a@example.com', 'sent', ?), ('mail', 'ana', ?, ?, 'a@example.com', 'sent', ?), ('mail', 'bob', ?, ?, 'b@example.com', 'open', ?)`,
			[]any{old, old, old, recent, recent, recent, old, old, old}},
		{`INSERT INTO workflow_runs (rule_id, rule_name, domain, event_id, event_action, subject_id, status, matched, started_at) VALUES (1, 'r', 'plain', 1, 'a', '1', 'done', true, ?), (1, 'r', 'plain', 2, 'a', '1', 'done', true, ?), (1, 'r', 'plain', 3, 'a', '1', 'failed', true, ?)`, []any{old, recent, old}},
		{`INSERT INTO workflow_action_runs (domain, event_id, rule_id, action_index, type, status, started_at) VALUES ('plain', 1, 1, 0, 'notify', 'done', ?)`, []any{old}},
	}
	for _, s := range stmts {
		if err := db.Exec(s.sql, s.args...).Error; err != nil {
			t.Fatal(err)
		}
	}
}

// One Run prunes every table by its own rule, in batches smaller than what
// it removes, logs one line per step, and a second Run removes nothing.
func TestRun(t *testing.T) {
	seed(t)
	var logs bytes.Buffer
	job, err := retention.New(retention.Config{DB: db, Domains: []*activity.Domain{parted, plain},
		ReadNotifications: 90 * day, UnreadNotifications: 365 * day, Deliveries: 180 * day, DeadLetters: 90 * day,
		Digests: 30 * day, RunLog: 90 * day, Batch: 1, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := job.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		table, where string
		want         int64
	}{
		// parted keeps 100 days: the partitions of 240, 200 and 150 days ago go.
		{"parted_events", "true", 2},
		// plain keeps 30 days: 3 of 5 go, in batches of 1.
		{"plain_events", "true", 2},
		{"notifications", "read_at IS NOT NULL", 1}, // the old read one went
		{"notifications", "read_at IS NULL", 1},     // the 400-day unread one went
		{"inbox_deliveries", "true", 2},             // the old done row went; the claim in flight stays
		{"inbox_dead_letters", "true", 1},           // the old one went
		{"email_digests", "true", 2},                // the old sent one went; open stays
		{"workflow_runs", "true", 2},                // the old done run went; the failed one stays
		{"workflow_action_runs", "true", 0},         // with its action runs
		{"activity_outbox", "domain = 'plain'", 5},  // outbox rows are recent (created now)
	} {
		if got := count(t, c.table, c.where); got != c.want {
			t.Errorf("%s where %s: %d rows, want %d", c.table, c.where, got, c.want)
		}
	}
	var dropped []string
	for _, s := range rep.Steps {
		if s.Name == "events parted" {
			dropped = s.Dropped
		}
	}
	if len(dropped) != 5 {
		t.Errorf("dropped partitions %v, want March to July (100 days before Nov 20 is Aug 12)", dropped)
	}
	for _, step := range []string{"events parted", "events plain", "notifications", "deliveries ledger", "dead letters", "email digests", "workflow run log", "retention run"} {
		if !strings.Contains(logs.String(), step) {
			t.Errorf("the log has no line for %q:\n%s", step, logs.String())
		}
	}
	if rep, err := job.Run(context.Background()); err != nil || rep.Removed() != 0 {
		t.Errorf("second run removed %d (err %v), want 0", rep.Removed(), err)
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []retention.Config{{}, {DB: db, RunLog: -1}, {DB: db, Batch: -1}, {DB: db, Domains: []*activity.Domain{nil}}} {
		if _, err := retention.New(cfg); !errors.Is(err, retention.ErrInvalidConfig) {
			t.Errorf("New(%+v) err = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

// The worker's scheduled job: Schedule enqueues TaskType on a queue the
// inbox worker serves, and the real worker (inbox.NewWorker, the Job in
// its Tasks) runs it within the first tick. (It was enqueued on asynq's
// "default" queue, which the worker does not serve: the job stayed
// pending forever while a bare asynq server's test passed.)
func TestScheduled(t *testing.T) {
	r := redistest.NewPrivate(t)
	opt := asynq.RedisClientOpt{Addr: r.Addr()}
	var mu sync.Mutex
	var logs bytes.Buffer
	job, err := retention.New(retention.Config{DB: db, Domains: []*activity.Domain{plain}, RunLog: day,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{}, 1)
	worker, err := inbox.NewWorker(inbox.Config{DB: db, Redis: opt, Domains: []*activity.Domain{plain},
		Inboxes: []inbox.Inbox{inbox.Func("noop", nil, func(context.Context, *inbox.Delivery) error { return nil })},
		Tasks: map[string]asynq.Handler{retention.TaskType: asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) error {
			err := job.ProcessTask(ctx, task)
			select {
			case ran <- struct{}{}:
			default:
			}
			return err
		})},
		DisableRelay: true, ShutdownTimeout: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer worker.Shutdown()
	sched := asynq.NewScheduler(opt, &asynq.SchedulerOpts{Logger: quiet{}})
	if _, err := retention.Schedule(sched, "@every 1s"); err != nil {
		t.Fatal(err)
	}
	if err := sched.Start(); err != nil {
		t.Fatal(err)
	}
	defer sched.Shutdown()
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the scheduled retention task did not run on the worker within 10s (its tick is 1s)")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "retention run") {
		t.Errorf("no run logged:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type quiet struct{}

func (quiet) Debug(...any) {}
func (quiet) Info(...any)  {}
func (quiet) Warn(...any)  {}
func (quiet) Error(...any) {}
func (quiet) Fatal(...any) {}
