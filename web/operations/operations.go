package operations

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/web"
)

//go:embed templates/page.html
var files embed.FS

// ErrInvalidConfig is returned (inside a *ConfigError) by New.
var ErrInvalidConfig = errors.New("operations: invalid configuration")

// ConfigError reports a configuration field that cannot work.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string        { return "operations: " + e.Field + " " + e.Reason }
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Link is a link the page shows at its top (the app's metrics, health
// report, runbook).
type Link struct{ Label, Href string }

// Config configures a Page. Zero fields take the documented defaults.
type Config struct {
	// DB holds the outbox and the dead letters. Required.
	DB *gorm.DB
	// Redis is the workers' asynq Redis: the queues, and the status each
	// worker publishes (inbox.ReadWorkerStatus). Required.
	Redis asynq.RedisConnOpt
	// App is the workers' inbox.Config.App. Default "".
	App string
	// Domains are the domains whose events the workers deliver: a tenant's
	// admin sees the retrying tasks and dead letters of their tenant's
	// events only, looked up through them. Required.
	Domains []*activity.Domain
	// Inboxes give re-driven jobs their policies (queue, retries); an
	// inbox not listed re-drives with the default policy. Default none.
	Inboxes []inbox.Inbox
	// Identity says who asks, when the request carries no web.Identity
	// (web.Middleware). Only an Admin may see the page. Default none: the
	// identity on the request's context, else refuse.
	Identity web.IdentityFunc
	// Theme wraps the page in the app's layout and stylesheet.
	Theme web.Theme
	// Words says the page's texts in the reader's language: the app's
	// locale catalog over the page's Messages. Default: English.
	Words web.Words
	// Prefix is the path the page is mounted at ("/admin/operations"), no
	// trailing slash. Default "".
	Prefix string
	// EventHref links an event (the event browser's Permalink). Default:
	// no link.
	EventHref func(activity.EventRef) string
	// Links are shown at the top (metrics, health). Default none.
	Links []Link
	// Now is the clock of relative times. Default time.Now.
	Now func() time.Time
	// Logger reports failed requests. Default slog.Default().
	Logger *slog.Logger
}

// Page is the operations page, an http.Handler for admins serving under
// Prefix:
//
//	GET  /         queues (sizes, retrying and archived jobs), the
//	               workers' relays (LISTEN or polling, counters) and
//	               circuit breakers as each worker last published them,
//	               the outbox's backlog and lag, and the dead letters
//	POST /run      run a retrying or archived job now (queue, id)
//	POST /redrive  re-enqueue a dead letter (inbox, domain, event)
//
// Everything it shows is read from PostgreSQL and Redis, so it tells the
// truth in any process: the web process shows the worker's state. A
// tenant's admin (web.Identity.Tenant set) sees and runs only the jobs
// and dead letters of their tenant's events; the queue sizes stay totals.
// An admin without a tenant is an operator and sees everything.
type Page struct {
	cfg     Config
	domains map[string]*activity.Domain
	tmpl    *template.Template
	insp    *asynq.Inspector
	rdb     redis.UniversalClient
	dead    *inbox.DeadLetters
	mux     *http.ServeMux
}

// New checks cfg and returns the page. Close it after.
func New(cfg Config) (*Page, error) {
	switch {
	case cfg.DB == nil:
		return nil, &ConfigError{"Config.DB", "is nil"}
	case cfg.Redis == nil:
		return nil, &ConfigError{"Config.Redis", "is nil: the queues and the workers' status are read from Redis"}
	case len(cfg.Domains) == 0:
		return nil, &ConfigError{"Config.Domains", "is empty: give the domains whose events the workers deliver"}
	case web.BadPrefix(cfg.Prefix):
		return nil, &ConfigError{"Config.Prefix", fmt.Sprintf("is %q: start it with a slash and drop the trailing one (\"/admin/operations\")", cfg.Prefix)}
	}
	defaults := Messages()
	maps.Copy(defaults, cfg.Words.Defaults)
	cfg.Words.Defaults = defaults
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Page{cfg: cfg, domains: map[string]*activity.Domain{}}
	for i, d := range cfg.Domains {
		if d == nil {
			return nil, &ConfigError{fmt.Sprintf("Config.Domains[%d]", i), "is nil"}
		}
		p.domains[d.Name()] = d
	}
	rdb, err := inbox.RedisClient(cfg.Redis)
	if err != nil {
		return nil, &ConfigError{"Config.Redis", err.Error()}
	}
	p.rdb = rdb
	p.insp = asynq.NewInspectorFromRedisClient(rdb)
	if p.dead, err = inbox.NewDeadLetters(inbox.DeadLettersConfig{DB: cfg.DB, Redis: cfg.Redis, Inboxes: cfg.Inboxes, App: cfg.App, Now: cfg.Now}); err != nil {
		rdb.Close()
		return nil, err
	}
	p.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"path": func(s string) string { return cfg.Prefix + s },
		"event": func(ref activity.EventRef) string {
			if cfg.EventHref == nil {
				return ""
			}
			return cfg.EventHref(ref)
		},
	}).ParseFS(files, "templates/page.html"))
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+cfg.Prefix+"/{$}", p.show)
	mux.HandleFunc("POST "+cfg.Prefix+"/run", p.run)
	mux.HandleFunc("POST "+cfg.Prefix+"/redrive", p.redrive)
	mux.HandleFunc("GET "+cfg.Prefix+"/"+web.StylesheetFile, web.ServeStylesheet)
	p.mux = mux
	return p, nil
}

// Close releases the page's Redis connections.
func (p *Page) Close() error {
	p.dead.Close()
	p.insp.Close()
	return p.rdb.Close()
}

// ServeHTTP implements http.Handler. Only an admin passes.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Path == p.cfg.Prefix+"/"+web.StylesheetFile {
		p.mux.ServeHTTP(w, r)
		return
	}
	id, err := web.Identify(r, p.cfg.Identity)
	if err == nil {
		r = r.WithContext(web.WithIdentity(r.Context(), id)) // a refusal speaks their language too
	}
	switch {
	case err != nil && !errors.Is(err, web.ErrNoIdentity):
		p.fail(w, r, err)
		return
	case err != nil || !id.SignedIn():
		p.refuse(w, r, http.StatusUnauthorized, "operations.refused.sign_in")
		return
	case !id.Admin:
		p.refuse(w, r, http.StatusForbidden, "operations.refused.admin")
		return
	}
	if r.URL.Path == p.cfg.Prefix { // mounted at "/rules" as well as "/rules/": the index
		r = r.Clone(r.Context())
		r.URL.Path = p.cfg.Prefix + "/"
	}
	p.mux.ServeHTTP(w, r)
}

// refuse shows the message of key instead of the page.
func (p *Page) refuse(w http.ResponseWriter, r *http.Request, status int, key string) {
	d := p.words(r, data{})
	d.Refused = d.T(key)
	p.render(w, r, status, "operations.title", d)
}

// words gives d the reader's words: the page's texts through
// Config.Words in the request's locale.
func (p *Page) words(r *http.Request, d data) data {
	id, _ := web.IdentityFrom(r.Context())
	d.words, d.locale, d.now, d.worded = p.cfg.Words, p.cfg.Words.Locale(r, id), p.cfg.Now(), true
	return d
}

// render shows d under the title of key.
func (p *Page) render(w http.ResponseWriter, r *http.Request, status int, titleKey string, d data) {
	if !d.worded {
		d = p.words(r, d)
	}
	title := d.T(titleKey)
	d.Prefix, d.Links = p.cfg.Prefix, p.cfg.Links
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, "page", d); err != nil {
		p.fail(w, r, err)
		return
	}
	p.cfg.Theme.Render(w, r, web.Page{Title: title, Head: p.cfg.Theme.Head(p.cfg.Prefix), Body: template.HTML(buf.String()), Status: status})
}

func (p *Page) fail(w http.ResponseWriter, r *http.Request, err error) {
	p.cfg.Logger.ErrorContext(r.Context(), "operations: request failed", "path", r.URL.Path, "error", err)
	http.Error(w, "the operations page could not be read just now; try again", http.StatusInternalServerError)
}

// Task is a retrying or archived job as the page shows it.
type Task struct {
	ID, Queue, Type, State, LastErr string
	Retried, MaxRetry               int
	NextAt, FailedAt                time.Time
	Event                           activity.EventRef // zero for a job of no event
}

// Outbox is the relay's backlog: rows recorded and not yet enqueued.
type Outbox struct {
	Rows   int64
	Oldest *time.Time // created_at of the oldest row; nil when empty
	Lag    time.Duration
}

type data struct {
	words  web.Words
	locale string
	now    time.Time
	worded bool

	Prefix  string
	Links   []Link
	Refused string
	Error   string
	Notice  string
	Tenant  bool // a tenant's admin: lists are the tenant's

	Queues  []*asynq.QueueInfo
	Retry   []Task
	Archive []Task
	Dead    []inbox.DeadLetter
	Workers []inbox.WorkerStatus
	Outbox  Outbox
}

// T renders a text of the page in the reader's words.
func (d data) T(key string, args ...any) string { return d.words.Text(d.locale, key, args...) }

// Ago says how long ago t was, in the reader's words.
func (d data) Ago(t time.Time) string { return d.words.Ago(d.locale, d.now, t) }

// Stamp writes t in the reader's layout.
func (d data) Stamp(t time.Time) string { return d.words.Stamp(d.locale, t) }

// OutboxText says the relay's backlog in the reader's words.
func (d data) OutboxText() string {
	key := "operations.outbox"
	args := []any{d.Outbox.Rows}
	if d.Outbox.Oldest != nil {
		key += "_oldest"
		args = append(args, d.Ago(*d.Outbox.Oldest), d.Outbox.Lag)
	}
	if d.Outbox.Rows == 1 {
		key += "_one"
	}
	return d.T(key, args...)
}

// tasks is the data of the "tasks" template: a list and the page.
type tasks struct {
	Page  data
	Tasks []Task
}

// Tasks pairs a list of jobs with the page, for the "tasks" template.
func (d data) Tasks(ts []Task) tasks { return tasks{Page: d, Tasks: ts} }

// Breakers lists every worker's breakers.
func (d data) Breakers() []breakerRow {
	var out []breakerRow
	for _, w := range d.Workers {
		for _, b := range w.Breakers {
			out = append(out, breakerRow{Worker: w.Process, BreakerStatus: b})
		}
	}
	return out
}

type breakerRow struct {
	Worker string
	inbox.BreakerStatus
}

func (p *Page) show(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, _ := web.IdentityFrom(ctx)
	qs := r.URL.Query()
	d := p.words(r, data{Error: qs.Get("error"), Tenant: id.Tenant != nil})
	if n := qs.Get("notice"); n == "ran" || n == "redriven" {
		d.Notice = d.T("operations.notice." + n)
	}
	names, err := p.insp.Queues()
	if err != nil {
		p.fail(w, r, err)
		return
	}
	sort.Strings(names)
	for _, q := range names {
		if p.cfg.App != "" && !strings.HasPrefix(q, p.cfg.App+".") {
			continue // another app's queues
		}
		info, err := p.insp.GetQueueInfo(q)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		d.Queues = append(d.Queues, info)
		retry, err := p.insp.ListRetryTasks(q, asynq.PageSize(50))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		for _, t := range retry {
			d.Retry = append(d.Retry, viewTask(t))
		}
		archived, err := p.insp.ListArchivedTasks(q, asynq.PageSize(50))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		for _, t := range archived {
			d.Archive = append(d.Archive, viewTask(t))
		}
	}
	page, err := p.dead.List(ctx, inbox.DeadLetterQuery{Limit: 50})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d.Dead = page.Letters
	if err := p.keepOwn(ctx, id, &d); err != nil {
		p.fail(w, r, err)
		return
	}
	if d.Workers, err = inbox.ReadWorkerStatus(ctx, p.rdb, p.cfg.App, p.cfg.Now()); err != nil {
		p.fail(w, r, err)
		return
	}
	if d.Outbox, err = p.outbox(ctx, id); err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, http.StatusOK, "operations.title", d)
}

// outbox reads the relay's backlog from PostgreSQL: a tenant's admin
// sees their tenant's events waiting, an operator everyone's.
func (p *Page) outbox(ctx context.Context, id web.Identity) (Outbox, error) {
	var o Outbox
	q, args := `SELECT count(*), min(created_at) FROM activity_outbox`, []any(nil)
	if id.Tenant != nil {
		cond, cargs := inbox.TenantCondition(activity.WithTenant(ctx, id.Tenant), "")
		q, args = q+` WHERE `+cond, cargs
	}
	row := p.cfg.DB.WithContext(ctx).Raw(q, args...).Row()
	if err := row.Scan(&o.Rows, &o.Oldest); err != nil {
		return o, fmt.Errorf("operations: read the outbox: %w", err)
	}
	if o.Oldest != nil {
		o.Lag = max(p.cfg.Now().Sub(*o.Oldest), 0).Round(time.Second)
	}
	return o, nil
}

func viewTask(t *asynq.TaskInfo) Task {
	v := Task{ID: t.ID, Queue: t.Queue, Type: t.Type, State: t.State.String(), LastErr: t.LastErr,
		Retried: t.Retried, MaxRetry: t.MaxRetry, NextAt: t.NextProcessAt, FailedAt: t.LastFailedAt}
	if _, ev, err := inbox.ParseTaskID(stripApp(t.ID)); err == nil {
		v.Event = ev
	}
	return v
}

// stripApp removes an app prefix from a task ID ("billing/notify:issue:7").
func stripApp(id string) string {
	if _, rest, ok := strings.Cut(id, "/"); ok {
		return rest
	}
	return id
}

// own returns which of refs the identity may see: all of them for an
// operator (no tenant), else those its tenant-scoped domain finds.
func (p *Page) own(ctx context.Context, id web.Identity, refs []activity.EventRef) (map[activity.EventRef]bool, error) {
	out := map[activity.EventRef]bool{}
	byDomain := map[string][]int64{}
	for _, ref := range refs {
		if id.Tenant == nil {
			out[ref] = true
			continue
		}
		if p.domains[ref.Domain] != nil && ref.ID > 0 {
			byDomain[ref.Domain] = append(byDomain[ref.Domain], ref.ID)
		}
	}
	tctx := activity.WithTenant(ctx, id.Tenant)
	for name, ids := range byDomain {
		d := p.domains[name]
		if !d.Tenanted() {
			continue // an untenanted domain's events are no tenant's
		}
		evs, err := d.EventsByID(tctx, p.cfg.DB, ids)
		if err != nil {
			return nil, err
		}
		for n := range evs {
			out[activity.EventRef{Domain: name, ID: n}] = true
		}
	}
	return out, nil
}

// keepOwn drops the tasks and dead letters of other tenants' events.
func (p *Page) keepOwn(ctx context.Context, id web.Identity, d *data) error {
	var refs []activity.EventRef
	for _, ts := range [][]Task{d.Retry, d.Archive} {
		for _, t := range ts {
			refs = append(refs, t.Event)
		}
	}
	for _, l := range d.Dead {
		refs = append(refs, l.Event)
	}
	own, err := p.own(ctx, id, refs)
	if err != nil {
		return err
	}
	other := func(t Task) bool { return !own[t.Event] }
	d.Retry = slices.DeleteFunc(d.Retry, other)
	d.Archive = slices.DeleteFunc(d.Archive, other)
	d.Dead = slices.DeleteFunc(d.Dead, func(l inbox.DeadLetter) bool { return !own[l.Event] })
	return nil
}

// back redirects to the page with err's text, else the notice of key
// (operations.notice.<key>).
func (p *Page) back(w http.ResponseWriter, r *http.Request, err error, notice string) {
	q := url.Values{}
	if err != nil {
		q.Set("error", err.Error())
	} else {
		q.Set("notice", notice)
	}
	http.Redirect(w, r, p.cfg.Prefix+"/?"+q.Encode(), http.StatusSeeOther)
}

// notFound says that what (the message of key with arg) does not exist.
func (p *Page) notFound(w http.ResponseWriter, r *http.Request, key, arg string) {
	d := p.words(r, data{})
	d.Refused = d.T(key, arg)
	p.render(w, r, http.StatusNotFound, "operations.not_found", d)
}

// run runs a retrying or archived job now.
func (p *Page) run(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, _ := web.IdentityFrom(ctx)
	taskID, queue := r.FormValue("id"), r.FormValue("queue")
	_, ev, err := inbox.ParseTaskID(stripApp(taskID))
	if err != nil {
		p.notFound(w, r, "operations.missing.job", taskID)
		return
	}
	own, err := p.own(ctx, id, []activity.EventRef{ev})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if !own[ev] {
		p.notFound(w, r, "operations.missing.job", taskID)
		return
	}
	p.back(w, r, p.insp.RunTask(queue, taskID), "ran")
}

// redrive re-enqueues a dead letter.
func (p *Page) redrive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, _ := web.IdentityFrom(ctx)
	n, _ := strconv.ParseInt(r.FormValue("event"), 10, 64)
	ev := activity.EventRef{Domain: r.FormValue("domain"), ID: n}
	own, err := p.own(ctx, id, []activity.EventRef{ev})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if n <= 0 || p.domains[ev.Domain] == nil || !own[ev] {
		p.notFound(w, r, "operations.missing.dead_letter", r.FormValue("event"))
		return
	}
	p.back(w, r, p.dead.Redrive(ctx, r.FormValue("inbox"), ev), "redriven")
}
