package eventbrowser

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/feedview"
	"github.com/tidingsdev/tidings/workflow"
)

//go:embed templates/*.html
var files embed.FS

// ErrInvalidConfig is returned (inside a *ConfigError) by New.
var ErrInvalidConfig = errors.New("eventbrowser: invalid configuration")

// ConfigError reports a configuration field that cannot work.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string        { return "eventbrowser: " + e.Field + " " + e.Reason }
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// AuthorizeFunc decides whether a request may browse events: return false
// to refuse (403).
//
// Deprecated: give the browser a web.Identity (Config.Identity or
// web.Middleware); an Admin may browse. Authorize is asked only of a
// request that carries no identity.
type AuthorizeFunc func(r *http.Request) bool

// SubjectFunc names subjects for display: for each key of domain, a label
// and a link into the app ("" when unknown). Keys missing from the result
// show as "#key".
type SubjectFunc func(ctx context.Context, domain string, keys []string) (map[string]Subject, error)

// ScopeFunc returns a subquery selecting the keys of domain's subjects the
// request may see, for tenant scoping: an account's issues are
// db.Model(&Issue{}).Select("id").Where("account_id = ?", accountOf(r)).
// nil sees every subject.
type ScopeFunc func(r *http.Request, domain *activity.Domain) *gorm.DB

// Subject is a subject as the browser shows it.
type Subject struct {
	Label, Href string
}

// Config configures a Browser. Zero fields take the documented defaults.
type Config struct {
	// DB holds the events tables. Required.
	DB *gorm.DB
	// Domains are the domains to browse. Required.
	Domains []*activity.Domain
	// Identity says who asks, when the request carries no web.Identity
	// (web.Middleware): a signed-in Admin may browse, the events of their
	// Tenant only (in a tenanted domain a person without a tenant is
	// refused). Default none: the identity on the request's context,
	// else Authorize, else refuse.
	Identity web.IdentityFunc
	// Theme wraps the pages in the app's layout and stylesheet. With the
	// default layout the pages send a Content-Security-Policy allowing no
	// script; with the app's, the app's own headers stand.
	Theme web.Theme
	// Words says the browser's texts (Messages) and names domains and
	// actions in the reader's language: the app's locale catalog, then
	// the English defaults and the action catalog's Doc. Default: English.
	Words web.Words
	// Authorize admits requests that carry no identity.
	//
	// Deprecated: use Identity.
	Authorize AuthorizeFunc
	// Scope limits what a request sees to some subjects (a tenant's).
	// Lists show only their events; a permalink to another's event is 404,
	// as are causes and effects outside it. Default nil: every subject.
	Scope ScopeFunc
	// Prefix is the path the browser is mounted at ("/admin/events"), no
	// trailing slash. Default "".
	Prefix string
	// Feed renders events as sentences (web/feedview). Default: a renderer
	// that names each action.
	Feed *feedview.Renderer
	// Subjects names subjects. Default: "#key", no link. Keys it leaves
	// out are deleted subjects, shown as "deleted <domain> #key".
	Subjects SubjectFunc
	// Rules shows the workflow runs of each event on its permalink.
	// Default nil: no runs shown.
	Rules *workflow.Rules
	// RuleHref links a rule in the runs ("/rules/7"). Default: no link.
	RuleHref func(id int64) string
	// Home is a link back to the app, shown in the header. Default none.
	Home string
	// PageSize is the list's page size. Default 25.
	PageSize int
	// Now is the clock of relative times. Default time.Now.
	Now func() time.Time
	// Logger reports failed requests. Default slog.Default().
	Logger *slog.Logger
}

// Browser is the event browser: an http.Handler serving, under Prefix,
//
//	GET /                    the events of every domain, newest first, with
//	                         filters: domain, action, actor (type:id),
//	                         subject, correlation, since, until
//	GET /{domain}/{id}       an event's permalink: who, what, when, from
//	                         where, why (its cause), what it caused, and
//	                         the workflow runs it met
//
// The pages are server-rendered with html/template and need no JavaScript.
type Browser struct {
	cfg     Config
	domains map[string]*activity.Domain
	names   []string
	pages   map[string]*template.Template
	mux     *http.ServeMux
}

// New checks cfg and returns the browser.
func New(cfg Config) (*Browser, error) {
	switch {
	case cfg.DB == nil:
		return nil, &ConfigError{"Config.DB", "is nil"}
	case len(cfg.Domains) == 0:
		return nil, &ConfigError{"Config.Domains", "is empty: give the domains to browse"}
	case web.BadPrefix(cfg.Prefix):
		return nil, &ConfigError{"Config.Prefix", fmt.Sprintf("is %q: start it with a slash and drop the trailing one (\"/admin/events\")", cfg.Prefix)}
	case cfg.PageSize < 0 || cfg.PageSize > activity.MaxPageSize:
		return nil, &ConfigError{"Config.PageSize", fmt.Sprintf("is %d: allowed 1 to %d (0 means 25)", cfg.PageSize, activity.MaxPageSize)}
	}
	b := &Browser{cfg: cfg, domains: map[string]*activity.Domain{}}
	for i, d := range cfg.Domains {
		if d == nil {
			return nil, &ConfigError{fmt.Sprintf("Config.Domains[%d]", i), "is nil"}
		}
		b.domains[d.Name()] = d
		b.names = append(b.names, d.Name())
	}
	slices.Sort(b.names)
	if b.cfg.PageSize == 0 {
		b.cfg.PageSize = 25
	}
	if b.cfg.Now == nil {
		b.cfg.Now = time.Now
	}
	if b.cfg.Logger == nil {
		b.cfg.Logger = slog.Default()
	}
	if b.cfg.Feed == nil {
		b.cfg.Feed = feedview.New(feedview.Config{})
	}
	defaults := Messages()
	maps.Copy(defaults, cfg.Words.Defaults)
	b.cfg.Words.Defaults = defaults
	funcs := template.FuncMap{
		"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"deref": func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		},
		"add":  func(a, b int) int { return a + b },
		"path": b.path,
	}
	b.pages = map[string]*template.Template{}
	for _, name := range []string{"list", "event"} {
		t, err := template.New("").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("eventbrowser: parse %s: %w", name, err)
		}
		b.pages[name] = t
	}
	p := cfg.Prefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"/{$}", b.list)
	mux.HandleFunc("GET "+p+"/"+web.StylesheetFile, web.ServeStylesheet)
	mux.HandleFunc("GET "+p+"/{domain}/{id}", b.event)
	b.mux = mux
	return b, nil
}

// ServeHTTP implements http.Handler. Only a signed-in Admin passes (or,
// for a request without an identity, Authorize); a tenant's admin reads
// their tenant's events.
func (b *Browser) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if b.cfg.Theme.Layout == nil {
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	}
	h.Set("Referrer-Policy", "same-origin")
	if r.URL.Path == b.cfg.Prefix+"/"+web.StylesheetFile {
		web.ServeStylesheet(w, r)
		return
	}
	id, err := web.Identify(r, b.cfg.Identity)
	if err == nil {
		r = r.WithContext(web.WithIdentity(r.Context(), id)) // a refusal speaks their language too
	}
	refuse := func(status int, key string) {
		b.render(w, r, status, "list", "eventbrowser.title", listData{Error: b.text(r, key), NoList: true})
	}
	switch {
	case errors.Is(err, web.ErrNoIdentity):
		if b.cfg.Authorize == nil || !b.cfg.Authorize(r) {
			refuse(http.StatusForbidden, "eventbrowser.refused.admin_only")
			return
		}
		if _, ok := activity.TenantFrom(r.Context()); !ok && b.tenanted() {
			refuse(http.StatusForbidden, "eventbrowser.refused.tenant")
			return
		}
	case err != nil:
		b.fail(w, r, err)
		return
	case !id.SignedIn():
		refuse(http.StatusUnauthorized, "eventbrowser.refused.sign_in")
		return
	case !id.Admin:
		refuse(http.StatusForbidden, "eventbrowser.refused.admin")
		return
	case id.Tenant == nil && b.tenanted():
		refuse(http.StatusForbidden, "eventbrowser.refused.tenant")
		return
	default:
		if id.Tenant != nil {
			r = r.WithContext(activity.WithTenant(r.Context(), id.Tenant))
		}
	}
	b.mux.ServeHTTP(w, r)
}

func (b *Browser) tenanted() bool {
	return slices.ContainsFunc(b.cfg.Domains, (*activity.Domain).Tenanted)
}

// locale is the reader's locale for Words.
func (b *Browser) locale(r *http.Request) string {
	id, _ := web.IdentityFrom(r.Context())
	return b.cfg.Words.Locale(r, id)
}

// text renders a text of the browser in the reader's words.
func (b *Browser) text(r *http.Request, key string, args ...any) string {
	return b.cfg.Words.Text(b.locale(r), key, args...)
}

// path joins the prefix and p.
func (b *Browser) path(p string) string { return b.cfg.Prefix + p }

// Permalink returns the path of an event's page.
func (b *Browser) Permalink(ref activity.EventRef) string {
	return b.path(fmt.Sprintf("/%s/%d", url.PathEscape(ref.Domain), ref.ID))
}

// layout is every template's data: the page's and the reader's words.
type layout struct {
	Title  string
	Prefix string
	Home   string
	Data   any
	words  web.Words
	locale string
	now    time.Time
}

// Ago says how long ago t was, in the reader's words.
func (l layout) Ago(t time.Time) string { return l.words.Ago(l.locale, l.now, t) }

// Stamp writes t in the reader's layout.
func (l layout) Stamp(t time.Time) string { return l.words.Stamp(l.locale, t) }

// T renders a text of the browser in the reader's words.
func (l layout) T(key string, args ...any) string { return l.words.Text(l.locale, key, args...) }

// Status names a workflow run's or action's status in the reader's words.
func (l layout) Status(s any) string { return l.T(fmt.Sprint("eventbrowser.status.", s)) }

// lineData is the "line" template's data: a line and the page.
type lineData struct {
	P layout
	L feedview.Line
}

// Line pairs a line with the page, for the "line" template.
func (l layout) Line(line any) lineData {
	switch v := line.(type) {
	case *feedview.Line:
		return lineData{P: l, L: *v}
	case feedview.Line:
		return lineData{P: l, L: v}
	}
	panic(fmt.Sprintf("eventbrowser: Line of %T", line))
}

// linesData is the "lines" template's data.
type linesData struct {
	P     layout
	Lines []feedview.Line
}

// Lines pairs lines with the page, for the "lines" template.
func (l layout) Lines(lines []feedview.Line) linesData { return linesData{P: l, Lines: lines} }

var subjectLink = template.Must(template.New("a").Parse(`<a href="{{.Href}}">{{.Label}}</a>`))

// On says "on <subject>" in the reader's words, the subject a link to
// href.
func (l layout) On(subject, href string) (template.HTML, error) {
	const slot = "\ue000"
	var a bytes.Buffer
	if err := subjectLink.Execute(&a, Subject{Label: subject, Href: href}); err != nil {
		return "", err
	}
	text := template.HTMLEscapeString(l.T("eventbrowser.on", slot))
	return template.HTML(strings.Replace(text, slot, a.String(), 1)), nil
}

// render shows page with data under the title of key (with args).
func (b *Browser) render(w http.ResponseWriter, r *http.Request, status int, page, titleKey string, data any, args ...any) {
	var buf bytes.Buffer
	l := layout{Prefix: b.cfg.Prefix, Home: b.cfg.Home, Data: data, words: b.cfg.Words, locale: b.locale(r), now: b.cfg.Now()}
	title := l.T(titleKey, args...)
	l.Title = title
	if err := b.pages[page].ExecuteTemplate(&buf, "layout", l); err != nil {
		b.fail(w, r, err)
		return
	}
	b.cfg.Theme.Render(w, r, web.Page{Title: title, Head: b.cfg.Theme.Head(b.cfg.Prefix), Body: template.HTML(buf.String()), Status: status})
}

func (b *Browser) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, activity.ErrNoTenant) { // a read without a tenant: the session's, not the server's
		http.Error(w, b.text(r, "eventbrowser.refused.tenant"), http.StatusForbidden)
		return
	}
	b.cfg.Logger.ErrorContext(r.Context(), "eventbrowser: request failed", "path", r.URL.Path, "error", err)
	http.Error(w, "the events could not be read just now; try again", http.StatusInternalServerError)
}

// lines renders entries of one domain with their subjects' names.
func (b *Browser) lines(ctx context.Context, loc, domain string, entries []activity.Entry) ([]feedview.Line, error) {
	keys := make([]string, 0, len(entries))
	for _, e := range entries {
		if !slices.Contains(keys, e.SubjectID) {
			keys = append(keys, e.SubjectID)
		}
	}
	names, err := b.subjects(ctx, loc, domain, keys)
	if err != nil {
		return nil, err
	}
	labels := make(map[string]string, len(names))
	for k, s := range names {
		labels[k] = s.Label
	}
	ls := b.cfg.Feed.Lines(entries, labels)
	for i := range ls {
		ls[i].Href = b.Permalink(ls[i].Ref())
		if ls[i].Subject != "" {
			ls[i].SubjectHref = names[ls[i].SubjectID].Href
		}
	}
	return ls, nil
}

// subjects names keys through Config.Subjects. A key it leaves out is a
// deleted subject (the domain keeps its history, activity.KeepHistory):
// it shows as "deleted <domain> #key" (eventbrowser.deleted_subject in
// the reader's words), with no link.
func (b *Browser) subjects(ctx context.Context, loc, domain string, keys []string) (map[string]Subject, error) {
	if b.cfg.Subjects == nil || len(keys) == 0 {
		return nil, nil
	}
	names, err := b.cfg.Subjects(ctx, domain, keys)
	if err != nil {
		return nil, err
	}
	if names == nil {
		names = make(map[string]Subject, len(keys))
	}
	for _, k := range keys {
		if _, ok := names[k]; !ok {
			names[k] = Subject{Label: b.cfg.Words.Text(loc, "eventbrowser.deleted_subject", b.cfg.Words.Domain(loc, domain), k)}
		}
	}
	return names, nil
}

// DeletedSubjectLabel is how the browser names, in English, a subject its
// Subjects function no longer finds: "deleted issue #12" (the message
// eventbrowser.deleted_subject, which an app's catalog may reword).
func DeletedSubjectLabel(domain, key string) string {
	return "deleted " + strings.ReplaceAll(domain, "_", " ") + " #" + key
}

func prettyJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// scope returns the request's subject subquery for d, or nil.
func (b *Browser) scope(r *http.Request, d *activity.Domain) *gorm.DB {
	if b.cfg.Scope == nil {
		return nil
	}
	return b.cfg.Scope(r, d)
}

// visible reports whether the request may see events about subject of d.
func (b *Browser) visible(r *http.Request, d *activity.Domain, subject string) (bool, error) {
	sq := b.scope(r, d)
	if sq == nil {
		return true, nil
	}
	var ok bool
	err := b.cfg.DB.WithContext(r.Context()).Raw(`SELECT EXISTS (SELECT 1 FROM (?) AS s(k) WHERE s.k::text = ?)`, sq, subject).Scan(&ok).Error
	return ok, err
}
