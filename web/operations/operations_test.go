package operations_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/internal/wordstest"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/operations"
)

var (
	db     *gorm.DB
	rconn  asynq.RedisClientOpt
	issues = activity.MustDomain(activity.DomainConfig{Name: "orgissue", Subject: activity.Subject{Table: "issues"}, Tenant: activity.KeyText,
		Actions: []string{"commented"}})
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(issues)
	var err error
	if db, err = pgtest.Create(ctx, "tidings_test_operations", "CREATE TABLE issues (id bigserial PRIMARY KEY, title text NOT NULL)",
		"INSERT INTO issues (title) VALUES ('Login fails'), ('Invoice wrong')", up); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	opt, err := redistest.Flush(ctx, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rconn = asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB}
	os.Exit(m.Run())
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// mailer is an inbox whose mail server is down.
type mailer struct{ tried chan struct{} }

func (m mailer) Name() string                  { return "mailer" }
func (m mailer) Accepts(_, action string) bool { return action == "commented" }
func (m mailer) Sink() string                  { return "smtp://mail.test:25" }
func (m mailer) Process(context.Context, *inbox.Delivery) error {
	select {
	case m.tried <- struct{}{}:
	default:
	}
	return inbox.Unreachable("smtp://mail.test:25", errors.New("connection refused"))
}

type client struct {
	t   *testing.T
	srv *httptest.Server
	as  string // the identity header
}

func (c client) do(method, path string, form url.Values) (int, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-As", c.as)
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The page is readable without the worker's memory: a worker (here in the
// test binary, reached only through Redis and PostgreSQL) publishes its
// relay and breakers; the page shows them, the outbox's backlog, and a
// tenant's admin only their tenant's dead letters, which they may re-drive
// and the other tenant's not.
func TestPageShowsWorkerStateAndScopesTenants(t *testing.T) {
	ctx := context.Background()
	if err := db.Exec(`TRUNCATE activity_outbox, inbox_dead_letters, inbox_pending, inbox_deliveries, orgissue_events`).Error; err != nil {
		t.Fatal(err)
	}
	identities := map[string]web.Identity{
		"acme-admin": {Person: activity.Ref{Type: "users", ID: "1"}, Tenant: "acme", Admin: true},
		"acme-user":  {Person: activity.Ref{Type: "users", ID: "2"}, Tenant: "acme"},
		"operator":   {Person: activity.Ref{Type: "users", ID: "9"}, Admin: true},
		"greta":      {Person: activity.Ref{Type: "users", ID: "3"}, Tenant: "acme", Admin: true, Locale: wordstest.Locale},
		"gustav":     {Person: activity.Ref{Type: "users", ID: "4"}, Tenant: "acme", Locale: wordstest.Locale},
	}
	page, err := operations.New(operations.Config{DB: db, Redis: rconn, Domains: []*activity.Domain{issues}, Prefix: "/ops",
		Inboxes: []inbox.Inbox{mailer{}}, Logger: quiet(), Words: web.Words{Catalog: wordstest.Catalog(t, operations.Messages())},
		Identity:  func(r *http.Request) (web.Identity, error) { return identities[r.Header.Get("X-As")], nil },
		EventHref: func(ref activity.EventRef) string { return "/events/" + ref.String() },
		Links:     []operations.Link{{Label: "Metrics", Href: "/metrics"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close()
	mux := http.NewServeMux()
	mux.Handle("/ops/", page)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	as := func(who string) client { return client{t, srv, who} }

	if code, _ := as("").do("GET", "/ops/", nil); code != http.StatusUnauthorized {
		t.Errorf("nobody: %d, want 401", code)
	}
	if code, _ := as("acme-user").do("GET", "/ops/", nil); code != http.StatusForbidden {
		t.Errorf("a non-admin: %d, want 403", code)
	}
	_, body := as("acme-admin").do("GET", "/ops/", nil)
	if !strings.Contains(body, "No worker has reported") || strings.Contains(body, "LISTEN down") {
		t.Errorf("with no worker running the page must say so, not guess a relay state:\n%s", body)
	}

	// Two tenants' events; the worker's mail server is down.
	acmeEv, err := issues.RecordEvent(activity.WithTenant(ctx, "acme"), db, 1, "commented", activity.Actor(activity.Ref{Type: "users", ID: "1"}))
	if err != nil {
		t.Fatal(err)
	}
	globexEv, err := issues.RecordEvent(activity.WithTenant(ctx, "globex"), db, 2, "commented", activity.Actor(activity.Ref{Type: "users", ID: "5"}))
	if err != nil {
		t.Fatal(err)
	}
	_, body = as("operator").do("GET", "/ops/", nil)
	if !strings.Contains(body, "Outbox: 2 events waiting") {
		t.Errorf("the operator's outbox backlog is not every tenant's:\n%s", grepLine(body, "Outbox"))
	}
	_, body = as("acme-admin").do("GET", "/ops/", nil)
	if !strings.Contains(body, "Outbox: 1 event waiting") {
		t.Errorf("acme's admin's outbox backlog is not acme's alone:\n%s", grepLine(body, "Outbox"))
	}
	m := mailer{tried: make(chan struct{}, 1)}
	w, err := inbox.NewWorker(inbox.Config{DB: db, Redis: rconn, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{m}, Logger: quiet(),
		StatusInterval: 20 * time.Millisecond, Breakers: inbox.BreakerConfig{Failures: 1, OpenFor: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			w.Shutdown()
		}
	}()
	deadline := time.After(15 * time.Second)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		_, body = as("acme-admin").do("GET", "/ops/", nil)
		if strings.Contains(body, `class="breaker-open"`) && strings.Contains(body, "Outbox: 0 events") && strings.Contains(body, listenText(w)) {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("the page never showed the worker's open breaker, its relay's state and an empty outbox:\n%s", body)
		case <-m.tried:
		case <-tick.C:
		}
	}
	rdb, err := inbox.RedisClient(rconn)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	published, err := inbox.ReadWorkerStatus(ctx, rdb, "", time.Now())
	if err != nil || len(published) != 1 || len(published[0].Breakers) != 1 || published[0].Breakers[0].LastError == "" {
		t.Fatalf("published status: %v %+v", err, published)
	}
	for _, want := range []string{`id="workers"`, "smtp://mail.test:25", published[0].Breakers[0].LastError, `id="ops-links"`, `href="/metrics"`, "tidings.css"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}

	// Dead letters of both tenants (as the worker records them).
	for _, ev := range []activity.Event{acmeEv.Event, globexEv.Event} {
		if err := db.Exec(`INSERT INTO inbox_dead_letters (inbox, domain, event_id, action, queue, task_id, attempts, last_error, failed_at)
VALUES ('mailer', 'orgissue', ?, 'commented', 'tidings', ?, 3, 'gave up', now())`, ev.ID, inbox.TaskID("mailer", ev.Ref())).Error; err != nil {
			t.Fatal(err)
		}
	}
	_, body = as("acme-admin").do("GET", "/ops/", nil)
	acmeRef, globexRef := acmeEv.Event.Ref().String(), globexEv.Event.Ref().String()
	if !strings.Contains(body, `href="/events/`+acmeRef+`"`) || strings.Contains(body, globexRef) {
		t.Errorf("acme's admin: want acme's dead letter (%s) and not globex's (%s):\n%s", acmeRef, globexRef, grepLine(body, "orgissue"))
	}
	if _, body := as("operator").do("GET", "/ops/", nil); !strings.Contains(body, acmeRef) || !strings.Contains(body, globexRef) {
		t.Errorf("the operator sees every tenant's dead letters")
	}
	german(t, as, "/ops/", published)

	redrive := func(ev activity.Event) url.Values {
		return url.Values{"inbox": {"mailer"}, "domain": {"orgissue"}, "event": {fmt.Sprint(ev.ID)}}
	}
	if code, _ := as("acme-admin").do("POST", "/ops/redrive", redrive(globexEv.Event)); code != http.StatusNotFound {
		t.Errorf("acme's admin re-driving globex's letter: %d, want 404", code)
	}
	if code, _ := as("acme-user").do("POST", "/ops/redrive", redrive(acmeEv.Event)); code != http.StatusForbidden {
		t.Errorf("a non-admin re-driving: %d, want 403", code)
	}
	code, _ := as("acme-admin").do("POST", "/ops/redrive", redrive(acmeEv.Event))
	var redriven int64
	db.Raw(`SELECT count(*) FROM inbox_dead_letters WHERE redriven_at IS NOT NULL`).Scan(&redriven)
	if code != http.StatusSeeOther || redriven != 1 {
		t.Errorf("re-drive: %d, %d letters re-driven; want 303 and 1", code, redriven)
	}

	w.Shutdown()
	stopped = true
	if _, body := as("acme-admin").do("GET", "/ops/", nil); !strings.Contains(body, "No worker has reported") {
		t.Errorf("after the worker stopped the page still shows it:\n%s", grepLine(body, "worker"))
	}
}

// TestTheme: the page sits in the app's layout, with its stylesheet.
func TestTheme(t *testing.T) {
	page, err := operations.New(operations.Config{DB: db, Redis: rconn, Domains: []*activity.Domain{issues}, Prefix: "/ops", Logger: quiet(),
		Theme: web.Theme{Stylesheet: "/app.css", Layout: func(w http.ResponseWriter, r *http.Request, p web.Page) {
			fmt.Fprintf(w, "<html><head>%s</head><body><nav id=app-nav>My app</nav>%s</body></html>", p.Head, p.Body)
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/ops/", nil)
	req = req.WithContext(web.WithIdentity(req.Context(), web.Identity{Person: activity.Ref{Type: "users", ID: "1"}, Admin: true}))
	page.ServeHTTP(rec, req)
	b := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(b, "<nav id=app-nav>") || !strings.Contains(b, `href="/app.css"`) || !strings.Contains(b, `href="/ops/tidings.css"`) {
		t.Fatalf("%d %s", rec.Code, b)
	}
	rec = httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest("GET", "/ops/tidings.css", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), ".tidings") {
		t.Fatalf("stylesheet: %d", rec.Code)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]operations.Config{
		"no DB":      {Redis: rconn, Domains: []*activity.Domain{issues}},
		"no Redis":   {DB: db, Domains: []*activity.Domain{issues}},
		"no domains": {DB: db, Redis: rconn},
		"bad prefix": {DB: db, Redis: rconn, Domains: []*activity.Domain{issues}, Prefix: "/ops/"},
	} {
		if _, err := operations.New(cfg); !errors.Is(err, operations.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

// german checks that the page, every refusal and a notice speak the
// reader's locale (the marker catalog of wordstest): no English text
// left but the data the page shows (workers, queues, jobs, letters).
func german(t *testing.T, as func(string) client, path string, published []inbox.WorkerStatus) {
	t.Helper()
	data := []string{"Metrics", "mailer", "orgissue", "commented", "gave up", "tidings", "nope"}
	for _, w := range published {
		data = append(data, w.Process)
		for _, b := range w.Breakers {
			data = append(data, b.Sink, b.LastError, b.Misconfigured)
		}
	}
	insp := asynq.NewInspector(rconn)
	defer insp.Close()
	queues, err := insp.Queues()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range queues {
		data = append(data, q)
		for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){insp.ListRetryTasks, insp.ListArchivedTasks} {
			tasks, err := list(q)
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range tasks {
				data = append(data, task.ID, task.LastErr)
			}
		}
	}
	for _, c := range []struct {
		who, method, path string
		want              int
	}{
		{"greta", "GET", path, http.StatusOK},
		{"greta", "GET", path + "?notice=ran", http.StatusOK},
		{"greta", "GET", path + "?notice=redriven", http.StatusOK},
		{"greta", "POST", path + "run", http.StatusNotFound},
		{"greta", "POST", path + "redrive", http.StatusNotFound},
		{"gustav", "GET", path, http.StatusForbidden},
	} {
		code, body := as(c.who).do(c.method, c.path, url.Values{"id": {"nope"}, "event": {"0"}})
		if code != c.want {
			t.Errorf("%s %s as %s: %d, want %d", c.method, c.path, c.who, code, c.want)
		}
		if left := wordstest.Untranslated(body, data...); len(left) > 0 {
			t.Errorf("%s %s as %s: English left in a German page: %q", c.method, c.path, c.who, left)
		}
		if !strings.Contains(body, "⟦operations.title⟧") {
			t.Errorf("%s %s as %s: no title in the reader's locale", c.method, c.path, c.who)
		}
	}
}

// listenText is how the page names the worker's relay's LISTEN state.
func listenText(w *inbox.Worker) string {
	if w.Relay().Listening() {
		return "LISTEN up"
	}
	return "LISTEN down (polling)"
}

func grepLine(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
