package inbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
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

// The app these tests play: an issue tracker whose issue domain records
// comments and labels.
const (
	dbName  = "tidings_test_inbox"
	redisDB = 1
)

const appSchema = `
CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL);
CREATE TABLE issues (id bigserial PRIMARY KEY, title text NOT NULL, author_id bigint);
`

func newIssues() *activity.Domain {
	return activity.MustDomain(activity.DomainConfig{
		Name:    "issue",
		Actions: []string{"comment_added", "comment_deleted", "label_added", "looped"},
	})
}

var (
	testDB *gorm.DB
	issues = newIssues()
	redis  asynq.RedisClientOpt
)

func TestMain(m *testing.M) {
	if os.Getenv(crashWorkerEnv) != "" {
		os.Exit(crashWorkerMain())
	}
	ctx := context.Background()
	up, _ := activity.MigrationSQL(issues)
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

// testLogger discards logs unless TIDINGS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("TIDINGS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// reset empties the outbox, the inbox tables and the test Redis database,
// so each test starts from nothing.
func reset(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	err := testDB.Exec(`TRUNCATE activity_outbox, inbox_pending, inbox_deliveries, inbox_dead_letters, notification_preferences, notifications, issue_events`).Error
	if err != nil {
		t.Fatal(err)
	}
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		t.Fatal(err)
	}
}

// newIssue creates a user and an issue.
func newIssue(t testing.TB) (userID, issueID int64) {
	t.Helper()
	if err := testDB.Raw(`INSERT INTO users (name) VALUES ('Ana') RETURNING id`).Scan(&userID).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Raw(`INSERT INTO issues (title, author_id) VALUES ('Login fails', ?) RETURNING id`, userID).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	return userID, issueID
}

func record(t testing.TB, db *gorm.DB, issueID int64, action string, opts ...activity.Option) activity.Event {
	t.Helper()
	opts = append([]activity.Option{activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "Ana"})}, opts...)
	res, err := issues.RecordEvent(context.Background(), db, issueID, action, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return res.Event
}

// startWorker starts a worker on the test databases and stops it when the
// test ends.
func startWorker(t *testing.T, cfg inbox.Config) *inbox.Worker {
	t.Helper()
	if cfg.DB == nil {
		cfg.DB = testDB
	}
	if cfg.Redis == nil {
		cfg.Redis = redis
	}
	if cfg.Domains == nil {
		cfg.Domains = []*activity.Domain{issues}
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
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

// collector is an inbox that counts what it processed and signals each
// delivery, so tests wait on it instead of sleeping.
type collector struct {
	name    string
	accepts inbox.Filter
	fn      func(ctx context.Context, d *inbox.Delivery) error // optional; runs before counting

	mu       sync.Mutex
	seen     map[int64]int
	attempts []time.Time
	changed  chan struct{}
}

func newCollector(name string, accepts inbox.Filter) *collector {
	return &collector{name: name, accepts: accepts, seen: map[int64]int{}, changed: make(chan struct{}, 1)}
}

func (c *collector) Name() string                       { return c.name }
func (c *collector) Accepts(domain, action string) bool { return c.accepts(domain, action) }
func (c *collector) Process(ctx context.Context, d *inbox.Delivery) error {
	c.mu.Lock()
	c.attempts = append(c.attempts, time.Now())
	c.mu.Unlock()
	defer c.signal()
	if c.fn != nil {
		if err := c.fn(ctx, d); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.seen[d.Event.ID]++
	c.mu.Unlock()
	return nil
}

func (c *collector) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *collector) count(id int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[id]
}

func (c *collector) total() (events, deliveries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.seen {
		events++
		deliveries += n
	}
	return events, deliveries
}

func (c *collector) attemptTimes() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.attempts...)
}

// waitFor waits until cond holds, re-checking whenever one of the signal
// channels fires and at least every 20ms (for state outside the process,
// like Redis queues), failing the test at the deadline.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool, signals ...<-chan struct{}) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	merged := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	for _, s := range signals {
		go func(s <-chan struct{}) {
			for {
				select {
				case <-stop:
					return
				case <-s:
					select {
					case merged <- struct{}{}:
					default:
					}
				}
			}
		}(s)
	}
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-merged:
		case <-tick.C:
		}
	}
}

// outboxLen counts the outbox rows.
func outboxLen(t testing.TB) int64 {
	var n int64
	if err := testDB.Raw(`SELECT count(*) FROM activity_outbox`).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// quiet reports whether the outbox is empty and no job of queue is waiting,
// running or due for a retry: everything that will be processed has been.
// It reads asynq's keys directly: the Inspector only sees queues listed in
// asynq:queues, which a restarted Redis has forgotten.
func quiet(t testing.TB, opt asynq.RedisClientOpt, queues ...string) bool {
	if outboxLen(t) != 0 {
		return false
	}
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: opt.Addr, DB: opt.DB})
	defer c.Close()
	if len(queues) == 0 {
		queues = []string{inbox.DefaultQueue}
	}
	for _, q := range queues {
		p := "asynq:{" + q + "}:"
		pipe := c.Pipeline()
		cmds := []*goredis.IntCmd{pipe.LLen(ctx, p+"pending"), pipe.LLen(ctx, p+"active"), pipe.ZCard(ctx, p+"scheduled"), pipe.ZCard(ctx, p+"retry")}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range cmds {
			if cmd.Val() > 0 {
				return false
			}
		}
	}
	return true
}

// silentRedisLog drops go-redis's own log lines (dial failures while a
// test's Redis is down on purpose).
type silentRedisLog struct{}

func (silentRedisLog) Printf(context.Context, string, ...any) {}
