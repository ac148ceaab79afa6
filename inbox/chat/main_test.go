package chat_test

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
	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/chat/discord"
	"github.com/tidingsdev/tidings/inbox/chat/discord/discordtest"
	"github.com/tidingsdev/tidings/inbox/chat/teams"
	"github.com/tidingsdev/tidings/inbox/chat/teams/teamstest"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// The package's own Redis database (the test binary's own redis-server).
const redisDB = 12

const wait = 20 * time.Second

var (
	testDB   *gorm.DB
	redisOpt asynq.RedisClientOpt
	// issues is tenanted: each tenant's events go to its own webhooks.
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
	testDB, err = pgtest.Create(ctx, "tidings_test_chat", `CREATE TABLE issues (id bigserial PRIMARY KEY)`, up)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat tests need PostgreSQL:", err)
		os.Exit(1)
	}
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		fmt.Fprintln(os.Stderr, "chat tests need Redis:", err)
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

// peer is a local receiver speaking one provider's webhook API.
type peer struct {
	name     string
	provider chat.Provider
	hook     func(id string) string // registers a webhook, returns its URL
	delete   func(id string)
	down     func(status int)
	up       func()
	limit    func(n, seconds int) // the next n posts are rate-limited
	posts    func() int
	accepted func() []post
	waitFor  func(n int) ([]post, error)
	client   *webhook.Client
}

// post is an accepted message: its webhook and its text, a line per
// block (the title first).
type post struct {
	hook  string
	texts []string
}

func discordPeer(t *testing.T) peer {
	s := discordtest.Start(t)
	conv := func(ms []discordtest.Message) []post {
		var out []post
		for _, m := range ms {
			p := post{hook: m.WebhookID, texts: []string{m.Payload.Content}}
			for _, e := range m.Payload.Embeds {
				p.texts = append(p.texts, e.Description)
			}
			out = append(out, p)
		}
		return out
	}
	return peer{
		name: "discord", provider: discord.Provider{},
		hook:   func(id string) string { return s.Webhook(id, "tok-"+id) },
		delete: s.Delete, down: s.Down, up: s.Up,
		limit:    func(n, sec int) { s.RateLimit(n, float64(sec)) },
		posts:    s.Posts,
		accepted: func() []post { return conv(s.Messages()) },
		waitFor: func(n int) ([]post, error) {
			ms, err := s.WaitFor(n, wait)
			return conv(ms), err
		},
		client: s.Client(),
	}
}

func teamsPeer(t *testing.T, legacy bool) peer {
	s := teamstest.Start(t, teamstest.Config{Legacy: legacy})
	conv := func(ms []teamstest.Message) []post {
		var out []post
		for _, m := range ms {
			out = append(out, post{hook: m.WebhookID, texts: m.Payload.Texts()})
		}
		return out
	}
	name := "teams"
	if legacy {
		name = "teams-connector"
	}
	return peer{
		name: name, provider: teams.Provider{},
		hook:   func(id string) string { return s.Webhook(id, "sig-"+id) },
		delete: s.Delete, down: s.Down, up: s.Up,
		limit:    s.RateLimit,
		posts:    s.Posts,
		accepted: func() []post { return conv(s.Messages()) },
		waitFor: func(n int) ([]post, error) {
			ms, err := s.WaitFor(n, wait)
			return conv(ms), err
		},
		client: s.Client(),
	}
}

// eachPeer runs f for Discord, a Teams workflow and a Teams connector.
func eachPeer(t *testing.T, f func(t *testing.T, p peer)) {
	for _, mk := range []func(*testing.T) peer{discordPeer, func(t *testing.T) peer { return teamsPeer(t, false) }, func(t *testing.T) peer { return teamsPeer(t, true) }} {
		p := mk(t)
		t.Run(p.name, func(t *testing.T) { f(t, p) })
	}
}

func newInbox(t *testing.T, p peer, cfg chat.Config) *chat.Inbox {
	t.Helper()
	cfg.Provider, cfg.Client = p.provider, p.client
	if cfg.Name == "" {
		cfg.Name = unique(p.provider.Name())
	}
	in, err := chat.NewInbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func router(t *testing.T, cfg chat.RouterConfig) *chat.Router {
	t.Helper()
	r, err := chat.NewRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
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
		activity.Actor(activity.Ref{Type: "users", ID: "7", Label: actor}))
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
