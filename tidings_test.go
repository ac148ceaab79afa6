package tidings_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings"
	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/workflow"
)

var (
	db     *gorm.DB
	orders = activity.MustDomain(activity.DomainConfig{Name: "order", Actions: []string{"placed", "shipped", "viewed"}, Tenant: activity.KeyBigint})
	// payments is partitioned: the worker schedules its maintenance.
	payments = activity.MustDomain(activity.DomainConfig{Name: "payment", Subject: activity.Subject{Table: "orders"}, Actions: []string{"paid"},
		Partition: &activity.Partitioning{}, Tenant: activity.KeyBigint})
)

const schema = `CREATE TABLE shops (id bigserial PRIMARY KEY, name text NOT NULL);
CREATE TABLE users (id bigserial PRIMARY KEY, shop_id bigint NOT NULL, name text NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, shop_id bigint NOT NULL, owner_id bigint NOT NULL);`

func TestMain(m *testing.M) {
	if os.Getenv("TIDINGS_ROOT_CHILD") != "" {
		os.Exit(child())
	}
	ctx := context.Background()
	var err error
	if db, err = pgtest.Create(ctx, "tidings_test_root", schema); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := tidings.Migrate(ctx, db, orders, payments); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// signalLog is a slog.Handler that sends each message matching want on
// a channel: tests wait on it instead of sleeping.
type signalLog struct {
	want string
	ch   chan slog.Record
	mu   *sync.Mutex
	all  *strings.Builder
}

func newSignalLog(want string) *signalLog {
	return &signalLog{want: want, ch: make(chan slog.Record, 16), mu: &sync.Mutex{}, all: &strings.Builder{}}
}

func (s *signalLog) Enabled(context.Context, slog.Level) bool { return true }
func (s *signalLog) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	fmt.Fprintf(s.all, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(s.all, " %s=%v", a.Key, a.Value); return true })
	s.all.WriteString("\n")
	s.mu.Unlock()
	if strings.Contains(r.Message, s.want) {
		select {
		case s.ch <- r:
		default:
		}
	}
	return nil
}
func (s *signalLog) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *signalLog) WithGroup(string) slog.Handler      { return s }
func (s *signalLog) String() string                     { s.mu.Lock(); defer s.mu.Unlock(); return s.all.String() }

func config(t *testing.T, redisAddr string) tidings.Config {
	t.Helper()
	return tidings.Config{DB: db, Redis: redisAddr, Domains: []*activity.Domain{orders},
		InApp:  &tidings.InApp{Recipients: "SELECT owner_id FROM orders WHERE id = ?"},
		Worker: workerDefaults()}
}

// A retention job and partition maintenance scheduled through the entry
// point run within their first tick on the real worker: they are enqueued
// on a queue the worker serves and handled by the worker's own task
// handlers.
func TestScheduledJobsRunOnTheWorker(t *testing.T) {
	r := redistest.NewPrivate(t)
	for _, job := range []string{"retention run", "tidings: partition maintenance", "tidings: batch sweep"} {
		t.Run(job, func(t *testing.T) {
			logs := newSignalLog(job)
			cfg := config(t, r.Addr())
			cfg.Domains = []*activity.Domain{orders, payments}
			cfg.Inboxes = []inbox.Inbox{batching(t)}
			cfg.SweepEvery = "@every 1s"
			cfg.Retention = &tidings.Retention{Every: "@every 1s", ReadNotifications: 24 * time.Hour}
			cfg.MaintainEvery = "@every 1s"
			cfg.Logger = slog.New(logs)
			c, err := tidings.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case <-logs.ch:
			case <-time.After(10 * time.Second):
				t.Fatalf("the scheduled job did not log %q within 10s (its tick is 1s):\n%s", job, logs)
			}
			if err := c.Stop(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The app's own job (Config.Jobs) runs within its first tick on the real
// worker, and at the next tick again.
func TestAppJobRunsOnTheWorker(t *testing.T) {
	r := redistest.NewPrivate(t)
	ran := make(chan struct{}, 16)
	cfg := config(t, r.Addr())
	cfg.Jobs = []tidings.Job{{Name: "reminders", Every: "@every 1s", Run: func(ctx context.Context) error {
		ran <- struct{}{}
		return nil
	}}}
	c, err := tidings.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		select {
		case <-ran:
		case <-time.After(15 * time.Second):
			t.Fatalf("the app's job did not run a time %d within 15s (its tick is 1s)", i+1)
		}
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func noJob(context.Context) error { return nil }

// batching is an inbox that batches, as email and Slack can: the worker
// schedules the sweep of its windows.
func batching(t *testing.T) inbox.Inbox {
	b, err := batch.New(batch.Config{Inbox: "digest", DB: db, Deliver: func(context.Context, *batch.Batch) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return batchingInbox{Inbox: inbox.Func("digest", inbox.On("nothing"), func(context.Context, *inbox.Delivery) error { return nil }), b: b}
}

type batchingInbox struct {
	inbox.Inbox
	b *batch.Batcher
}

func (i batchingInbox) Batcher() *batch.Batcher { return i.b }

// The whole path through the entry point: a handler records in its
// transaction under the request's identity and tenant, the worker's relay
// and in-app inbox notify the order's owner (recipients from typed SQL),
// and the notification center mounted under the prefix lists it for the
// owner, asking the identity hook once per request.
func TestRecordNotifyAndServe(t *testing.T) {
	r := redistest.NewPrivate(t)
	var shop, ana, bob, order int64
	db.Raw(`INSERT INTO shops (name) VALUES ('Acme') RETURNING id`).Scan(&shop)
	db.Raw(`INSERT INTO users (shop_id, name) VALUES (?, 'Ana') RETURNING id`, shop).Scan(&ana)
	db.Raw(`INSERT INTO users (shop_id, name) VALUES (?, 'Bob') RETURNING id`, shop).Scan(&bob)
	db.Raw(`INSERT INTO orders (shop_id, owner_id) VALUES (?, ?) RETURNING id`, shop, ana).Scan(&order)
	var asked atomic.Int64
	cfg := config(t, r.Addr())
	delivered := newSignalLog("inbox: delivered")
	cfg.Logger = slog.New(delivered)
	cfg.Identity = func(r *http.Request) (web.Identity, error) {
		asked.Add(1)
		var u struct {
			ID     int64
			ShopID int64
			Name   string
		}
		if err := db.WithContext(r.Context()).Raw(`SELECT id, shop_id, name FROM users WHERE id = ?`, r.Header.Get("X-User")).Scan(&u).Error; err != nil || u.ID == 0 {
			return web.Identity{}, err
		}
		return web.Identity{Person: activity.Ref{Type: "users", ID: fmt.Sprint(u.ID)}, Label: u.Name, Tenant: u.ShopID, Admin: r.Header.Get("X-Admin") != ""}, nil
	}
	schema, err := workflow.NewSchema(workflow.SchemaConfig{Domain: orders})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rules, cfg.Secret = &tidings.Rules{Schemas: []*workflow.Schema{schema}}, strings.Repeat("s", 32)
	c, err := tidings.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mux := http.NewServeMux()
	mux.Handle("/tidings/", c.Handler())
	mux.HandleFunc("POST /orders/{id}/ship", func(w http.ResponseWriter, r *http.Request) {
		err := db.WithContext(r.Context()).Transaction(func(tx *gorm.DB) error {
			_, err := orders.RecordEvent(r.Context(), tx, r.PathValue("id"), "shipped")
			return err
		})
		if err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	srv := httptest.NewServer(c.Middleware(mux))
	defer srv.Close()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)

	do := func(method, path string, user int64, admin ...bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		req.Header.Set("X-User", fmt.Sprint(user))
		if len(admin) > 0 {
			req.Header.Set("X-Admin", "1")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	before := asked.Load()
	if code, body := do("POST", fmt.Sprintf("/orders/%d/ship", order), bob); code != 200 {
		t.Fatalf("ship: %d %s", code, body)
	}
	if n := asked.Load() - before; n != 1 {
		t.Errorf("the identity hook ran %d times for one request, want 1", n)
	}
	var ev struct{ ActorID, ActorLabel, TenantID string }
	if err := db.Raw(`SELECT actor_id, actor_label, tenant_id::text FROM order_events WHERE subject_id = ? ORDER BY id DESC LIMIT 1`, order).Scan(&ev).Error; err != nil {
		t.Fatal(err)
	}
	if ev.ActorID != fmt.Sprint(bob) || ev.ActorLabel != "Bob" || ev.TenantID != fmt.Sprint(shop) {
		t.Errorf("recorded actor %s %q tenant %q, want Bob (%d) of shop %d", ev.ActorID, ev.ActorLabel, ev.TenantID, bob, shop)
	}
	select {
	case <-delivered.ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("the in-app inbox did not deliver within 10s:\n%s", delivered)
	}
	before = asked.Load()
	code, body := do("GET", "/tidings/notifications/", ana)
	if code != 200 || !strings.Contains(body, `"action":"shipped"`) {
		t.Errorf("Ana's notifications: %d %s", code, body)
	}
	if n := asked.Load() - before; n != 1 {
		t.Errorf("the identity hook ran %d times for one mounted page, want 1", n)
	}
	if code, body := do("GET", "/tidings/notifications/", bob); code != 200 || strings.Contains(body, `"action":"shipped"`) {
		t.Errorf("Bob (the actor) was notified: %d %s", code, body)
	}
	if code, _ := do("GET", "/tidings/preferences/", ana); code != 200 {
		t.Errorf("preferences: %d", code)
	}
	for _, page := range []string{"/tidings/events/", "/tidings/operations/"} {
		if code, _ := do("GET", page, ana); code != http.StatusForbidden {
			t.Errorf("%s for a non-admin: %d, want 403", page, code)
		}
		if code, body := do("GET", page, bob, true); code != 200 {
			t.Errorf("%s for an admin: %d %.300s", page, code, body)
		}
	}
	if code, body := do("GET", "/tidings/rules/", bob, true); code != 200 {
		t.Errorf("the rule editor for an admin: %d %.300s", code, body)
	}
	if code, _ := do("GET", "/tidings/events/", 0, true); code == 200 {
		t.Errorf("the event browser without a session: %d", code)
	}
	if code, body := do("GET", "/tidings/me/data", ana); code != 200 || !strings.Contains(body, `"shipped"`) {
		t.Errorf("Ana's data export: %d %s", code, body)
	}
	if code, _ := do("GET", "/tidings/notifications/", 0); code == 200 {
		t.Errorf("notifications without a session: %d", code)
	}
}

// A configuration that seals secrets needs a secret from configuration,
// never a random one per process; two processes with the same secret open
// what the other sealed.
func TestSecrets(t *testing.T) {
	base := tidings.Config{DB: db, Redis: "127.0.0.1:1", Domains: []*activity.Domain{orders}, Webhooks: "/shop"}
	if _, err := tidings.NewClient(base); !errors.Is(err, tidings.ErrInvalidConfig) || !strings.Contains(err.Error(), "Secret") {
		t.Fatalf("no secret: err = %v, want a ConfigError naming Secret", err)
	}
	base.Secret = "short"
	if _, err := tidings.NewClient(base); !errors.Is(err, tidings.ErrInvalidConfig) {
		t.Fatalf("short secret: err = %v", err)
	}
	schema, err := workflow.NewSchema(workflow.SchemaConfig{Domain: orders})
	if err != nil {
		t.Fatal(err)
	}
	rules := tidings.Config{DB: db, Redis: "127.0.0.1:1", Domains: []*activity.Domain{orders}, Rules: &tidings.Rules{Schemas: []*workflow.Schema{schema}}}
	if _, err := tidings.NewClient(rules); !errors.Is(err, tidings.ErrInvalidConfig) || !strings.Contains(err.Error(), "Secret") {
		t.Fatalf("rules without a secret: err = %v", err)
	}
	base.Secret = strings.Repeat("s", 40)
	web, err := tidings.NewClient(base)
	if err != nil {
		t.Fatal(err)
	}
	defer web.Close()
	worker, err := tidings.NewClient(base)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	sealed, err := web.Keyring().Seal([]byte("hook secret"), "test")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := worker.Keyring().Open(sealed, "test"); err != nil || string(got) != "hook secret" {
		t.Errorf("the other process opened %q, %v", got, err)
	}
	base.Secret = strings.Repeat("t", 40)
	other, err := tidings.NewClient(base)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Keyring().Open(sealed, "test"); err == nil {
		t.Error("another secret opened the sealed value")
	}
}

func TestConfigErrors(t *testing.T) {
	ok := tidings.Config{DB: db, Redis: "127.0.0.1:1", Domains: []*activity.Domain{orders}, InApp: &tidings.InApp{Recipients: "SELECT 1"}}
	for name, mod := range map[string]func(*tidings.Config){
		"DB":               func(c *tidings.Config) { c.DB = nil },
		"Redis":            func(c *tidings.Config) { c.Redis = "" },
		"Domains":          func(c *tidings.Config) { c.Domains = nil },
		"InApp":            func(c *tidings.Config) { c.InApp = nil },
		"InApp.Recipients": func(c *tidings.Config) { c.InApp = &tidings.InApp{} },
		"Prefix":           func(c *tidings.Config) { c.Prefix = "/tidings/" },
		"Retention.Every":  func(c *tidings.Config) { c.Retention = &tidings.Retention{Every: "every day"} },
		"Jobs[0].Every":    func(c *tidings.Config) { c.Jobs = []tidings.Job{{Name: "a", Every: "every day", Run: noJob}} },
		"Jobs[0].Run":      func(c *tidings.Config) { c.Jobs = []tidings.Job{{Name: "a", Every: "@daily"}} },
		"Jobs[1].Name": func(c *tidings.Config) {
			c.Jobs = []tidings.Job{{Name: "a", Every: "@daily", Run: noJob}, {Name: "a", Every: "@hourly", Run: noJob}}
		},
	} {
		cfg := ok
		mod(&cfg)
		_, err := tidings.NewClient(cfg)
		var ce *tidings.ConfigError
		if !errors.As(err, &ce) || ce.Field != name {
			t.Errorf("%s: err = %v, want a ConfigError on %s", name, err, name)
		}
	}
	c, err := tidings.NewClient(ok)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// Migrate is idempotent and safe when processes start at once.
func TestMigrateConcurrently(t *testing.T) {
	d := activity.MustDomain(activity.DomainConfig{Name: "migrated", Subject: activity.Subject{Table: "orders"}, Actions: []string{"a"}, Partition: &activity.Partitioning{}})
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = tidings.Migrate(context.Background(), db, d) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var id int64
	db.Raw(`INSERT INTO orders (shop_id, owner_id) VALUES (1, 1) RETURNING id`).Scan(&id)
	if _, err := d.RecordEvent(context.Background(), db, id, "a", activity.Actor(activity.System("test"))); err != nil {
		t.Fatalf("recording into the migrated domain: %v", err)
	}
}

// Run stops gracefully on SIGTERM: the worker process (this test binary,
// run again as a child) logs that it stopped and exits 0, instead of being
// killed or having the signal swallowed by asynq's scheduler.
func TestRunStopsOnSIGTERM(t *testing.T) {
	r := redistest.NewPrivate(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TIDINGS_ROOT_CHILD=1", "TIDINGS_ROOT_CHILD_REDIS="+r.Addr())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	wait := func(want string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the worker exited before logging %q", want)
				}
				if strings.Contains(l, want) {
					return
				}
			case <-deadline:
				t.Fatalf("the worker did not log %q within 20s", want)
			}
		}
	}
	wait("tidings: worker running")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wait("tidings: worker stopped")
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("the worker exited with %v after SIGTERM, want 0", err)
	}
}

// child is the worker process of TestRunStopsOnSIGTERM.
func child() int {
	db, err := pgtest.Open("tidings_test_root")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	c, err := tidings.NewClient(tidings.Config{DB: db, Redis: os.Getenv("TIDINGS_ROOT_CHILD_REDIS"), Domains: []*activity.Domain{orders},
		InApp: &tidings.InApp{Recipients: "SELECT owner_id FROM orders WHERE id = ?"}, Retention: &tidings.Retention{},
		Worker: workerDefaults(), Logger: slog.New(slog.NewTextHandler(os.Stdout, nil))})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer c.Close()
	if err := c.Run(context.Background()); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}

// A batching inbox with no flush scheduler of its own gets the client's:
// a window is flushed at its due time by a task the real worker runs, with
// no sweep (SweepEvery "-") to do it instead. The window is due at a
// fraction of a second, which asynq (whole seconds) could run early.
func TestBatchWindowFlushedByTheClientsScheduler(t *testing.T) {
	r := redistest.NewPrivate(t)
	// The windows of an earlier run (an event is batched once per
	// recipient: its window would be empty).
	if err := db.Exec(`DELETE FROM batch_items WHERE window_id IN (SELECT id FROM batch_windows WHERE inbox = 'digest-due'); DELETE FROM batch_windows WHERE inbox = 'digest-due'`).Error; err != nil {
		t.Fatal(err)
	}
	flushed := make(chan int, 4)
	b, err := batch.New(batch.Config{Inbox: "digest-due", DB: db, Deliver: func(_ context.Context, bt *batch.Batch) error {
		flushed <- len(bt.Events)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(t, r.Addr())
	cfg.App = "flushapp" // the flush goes to the app's batch queue, which its worker serves
	cfg.Inboxes = []inbox.Inbox{batchingInbox{Inbox: inbox.Func("digest-due", inbox.On("nothing"), func(context.Context, *inbox.Delivery) error { return nil }), b: b}}
	cfg.SweepEvery = "-"
	c, err := tidings.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	ev := activity.Event{ID: 424242, Domain: orders.Name(), TenantID: "1", SubjectID: "1", Action: "placed", OccurredAt: time.Now()}
	joined, err := b.Add(activity.WithTenant(ctx, int64(1)), db, batch.AddRequest{Recipient: "7", Key: "order:1", Schedule: inbox.FixedWindow(time.Second), Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	b.Scheduled(ctx, joined)
	select {
	case n := <-flushed:
		if n != 1 {
			t.Errorf("the flushed window has %d items, want 1", n)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the window due in 1s was not flushed within 15s: the client gave the batcher no scheduler, its worker does not serve the flush's queue, or the flush ran before the window was due")
	}
}
