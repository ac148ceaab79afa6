package rules

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
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
var ErrInvalidConfig = errors.New("rules: invalid configuration")

// ConfigError reports a configuration field that cannot work.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string        { return "rules: " + e.Field + " " + e.Reason }
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Subject is a subject as the editor shows it: a name and a link into the
// app.
type Subject struct{ Label, Href string }

// SubjectFunc names subjects of domain by key ("Login fails",
// "/issues/7"). Keys it leaves out show as "#key".
type SubjectFunc func(ctx context.Context, domain string, keys []string) (map[string]Subject, error)

// Config configures an Editor. Zero fields take the documented defaults.
type Config struct {
	// DB holds the events (the dry run shows them). Required.
	DB *gorm.DB
	// Rules is the rule store; its schemas say what conditions may test
	// and its registry what actions may do. Required.
	Rules *workflow.Rules
	// Domains are the domains people make rules on, each with a schema in
	// Rules. Required.
	Domains []*activity.Domain
	// Identity says who asks, when the request carries no web.Identity
	// (web.Middleware). A signed-in person sees the rules of their tenant
	// and their run logs; only an Admin creates, edits, turns on or off
	// and deletes them. Default none: the identity on the request's
	// context, else refuse.
	Identity web.IdentityFunc
	// Theme wraps the pages in the app's layout and stylesheet.
	Theme web.Theme
	// Words names things in the reader's language: the app's locale
	// catalog over the editor's Messages. Default: English.
	Words web.Words
	// Prefix is the path the editor is mounted at ("/rules"), no trailing
	// slash. Default "".
	Prefix string
	// Feed renders the dry run's events as sentences (web/feedview).
	// Default: a renderer that names each action.
	Feed *feedview.Renderer
	// Subjects names subjects in the dry run and the run log. Default
	// "#key", no link.
	Subjects SubjectFunc
	// People names who saved a rule from its saver ("users:3" -> "Ana").
	// Default: the signed-in person's Label for themselves; savers in
	// code ("app:...") are "the app's code"; others as they are.
	People func(ctx context.Context, by string) string
	// EventHref links an event (the event browser's Permalink). Default:
	// no link.
	EventHref func(activity.EventRef) string
	// DryRunEvents is how many recent events a dry run tries. Default 20.
	DryRunEvents int
	// Now is the clock of relative times. Default time.Now.
	Now func() time.Time
	// Logger reports failed requests. Default slog.Default().
	Logger *slog.Logger
}

// Editor is the rule editor for end users, an http.Handler serving under
// Prefix:
//
//	GET  /               the rules of the person's tenant, and those the
//	                     app keeps in code (read only)
//	GET  /new            a new rule's form;  POST /new  saves it, or dry
//	                     runs it, or adds a condition or an action row
//	GET  /{id}           a rule and its run log (its tenant's runs)
//	GET  /{id}/edit      its form;           POST /{id}/edit  as /new
//	POST /{id}/toggle    turn it on or off
//	POST /{id}/delete    delete it
//
// Every error of a form shows at its field, in the reader's words; a
// refused form keeps what was typed and chosen. The pages need no
// JavaScript.
type Editor struct {
	cfg     Config
	domains map[string]*activity.Domain
	names   []string
	pages   map[string]*template.Template
	mux     *http.ServeMux
}

// New checks cfg and returns the editor.
func New(cfg Config) (*Editor, error) {
	switch {
	case cfg.DB == nil:
		return nil, &ConfigError{"Config.DB", "is nil"}
	case cfg.Rules == nil:
		return nil, &ConfigError{"Config.Rules", "is nil"}
	case len(cfg.Domains) == 0:
		return nil, &ConfigError{"Config.Domains", "is empty: give the domains people make rules on"}
	case web.BadPrefix(cfg.Prefix):
		return nil, &ConfigError{"Config.Prefix", fmt.Sprintf("is %q: start it with a slash and drop the trailing one (\"/rules\")", cfg.Prefix)}
	case cfg.DryRunEvents < 0 || cfg.DryRunEvents > 200:
		return nil, &ConfigError{"Config.DryRunEvents", fmt.Sprintf("is %d: allowed 1 to 200 (0 means 20)", cfg.DryRunEvents)}
	}
	e := &Editor{cfg: cfg, domains: map[string]*activity.Domain{}}
	for i, d := range cfg.Domains {
		switch {
		case d == nil:
			return nil, &ConfigError{fmt.Sprintf("Config.Domains[%d]", i), "is nil"}
		case cfg.Rules.Schema(d.Name()) == nil:
			return nil, &ConfigError{fmt.Sprintf("Config.Domains[%d]", i), fmt.Sprintf("%q has no schema in Config.Rules (workflow.RulesConfig.Schemas)", d.Name())}
		}
		e.domains[d.Name()] = d
		e.names = append(e.names, d.Name())
	}
	if e.cfg.DryRunEvents == 0 {
		e.cfg.DryRunEvents = 20
	}
	if e.cfg.Now == nil {
		e.cfg.Now = time.Now
	}
	if e.cfg.Logger == nil {
		e.cfg.Logger = slog.Default()
	}
	if e.cfg.Feed == nil {
		e.cfg.Feed = feedview.New(feedview.Config{})
	}
	defaults := Messages()
	for k, v := range cfg.Words.Defaults {
		defaults[k] = v
	}
	e.cfg.Words.Defaults = defaults
	e.pages = map[string]*template.Template{}
	for _, name := range []string{"list", "rule", "form", "refused"} {
		t, err := template.New("").Funcs(e.funcs()).ParseFS(files, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("rules: parse %s: %w", name, err)
		}
		e.pages[name] = t
	}
	p := cfg.Prefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"/{$}", e.list)
	mux.HandleFunc("GET "+p+"/new", e.newRule)
	mux.HandleFunc("POST "+p+"/new", e.save)
	mux.HandleFunc("GET "+p+"/{id}", e.show)
	mux.HandleFunc("GET "+p+"/{id}/edit", e.edit)
	mux.HandleFunc("POST "+p+"/{id}/edit", e.save)
	mux.HandleFunc("POST "+p+"/{id}/toggle", e.toggle)
	mux.HandleFunc("POST "+p+"/{id}/delete", e.remove)
	e.mux = mux
	return e, nil
}

// funcs are the templates' functions; the reader's locale comes with
// each page's data.
func (e *Editor) funcs() template.FuncMap {
	return template.FuncMap{
		"path":  func(s string) string { return e.cfg.Prefix + s },
		"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"event": e.eventHref,
		"has":   func(m map[string]string, k string) bool { _, ok := m[k]; return ok },
		"rows":  func(p page, rows []ruleRow, id string) rowsData { return rowsData{Page: p, Rows: rows, ID: id} },
	}
}

func (e *Editor) eventHref(ref activity.EventRef) string {
	if e.cfg.EventHref == nil {
		return ""
	}
	return e.cfg.EventHref(ref)
}

// request is what every handler knows of a request.
type request struct {
	id     web.Identity
	locale string
}

type reqKey struct{}

func (e *Editor) req(r *http.Request) request {
	q, _ := r.Context().Value(reqKey{}).(request)
	return q
}

// T renders a text of the editor in the reader's words.
func (q request) t(w web.Words, key string, args ...any) string {
	return w.Text(q.locale, key, args...)
}

// ServeHTTP implements http.Handler: a signed-in person of a tenant (when
// the domains are tenanted) passes; changes need an Admin.
func (e *Editor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if r.URL.Path == e.cfg.Prefix+"/"+web.StylesheetFile {
		web.ServeStylesheet(w, r)
		return
	}
	id, err := web.Identify(r, e.cfg.Identity)
	if err != nil && !errors.Is(err, web.ErrNoIdentity) {
		e.fail(w, r, err)
		return
	}
	q := request{id: id, locale: e.cfg.Words.Locale(r, id)}
	ctx := context.WithValue(web.WithIdentity(r.Context(), id), reqKey{}, q)
	r = r.WithContext(ctx)
	switch {
	case err != nil || !id.SignedIn():
		e.refuse(w, r, http.StatusUnauthorized, "rules.refused.sign_in")
		return
	case id.Tenant == nil && e.tenanted():
		e.refuse(w, r, http.StatusForbidden, "rules.refused.tenant")
		return
	case !id.Admin && (r.Method != http.MethodGet || strings.HasSuffix(r.URL.Path, "/new") || strings.HasSuffix(r.URL.Path, "/edit")):
		e.refuse(w, r, http.StatusForbidden, "rules.refused.admin")
		return
	}
	if id.Tenant != nil {
		r = r.WithContext(activity.WithTenant(ctx, id.Tenant))
	}
	if r.URL.Path == e.cfg.Prefix { // mounted at "/rules" as well as "/rules/": the index
		r = r.Clone(r.Context())
		r.URL.Path = e.cfg.Prefix + "/"
	}
	e.mux.ServeHTTP(w, r)
}

func (e *Editor) tenanted() bool {
	return slices.ContainsFunc(e.cfg.Domains, (*activity.Domain).Tenanted)
}

// page is every template's data.
type page struct {
	Title  string
	Prefix string
	Admin  bool
	words  web.Words
	locale string
	now    time.Time
	Data   any
}

// Ago says how long ago t was, in the reader's words.
func (p page) Ago(t time.Time) string { return p.words.Ago(p.locale, p.now, t) }

// T renders a text in the reader's words.
func (p page) T(key string, args ...any) string { return p.words.Text(p.locale, key, args...) }

func (e *Editor) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	q := e.req(r)
	p := page{Title: title, Prefix: e.cfg.Prefix, Admin: q.id.Admin, words: e.cfg.Words, locale: q.locale, now: e.cfg.Now(), Data: data}
	var buf bytes.Buffer
	if err := e.pages[name].ExecuteTemplate(&buf, name, p); err != nil {
		e.fail(w, r, err)
		return
	}
	e.cfg.Theme.Render(w, r, web.Page{Title: title, Head: e.cfg.Theme.Head(e.cfg.Prefix), Body: template.HTML(buf.String()), Status: status})
}

func (e *Editor) refuse(w http.ResponseWriter, r *http.Request, status int, key string) {
	e.render(w, r, status, "refused", e.req(r).t(e.cfg.Words, "rules.title"), e.req(r).t(e.cfg.Words, key))
}

func (e *Editor) notFound(w http.ResponseWriter, r *http.Request) {
	e.refuse(w, r, http.StatusNotFound, "rules.not_found")
}

func (e *Editor) fail(w http.ResponseWriter, r *http.Request, err error) {
	e.cfg.Logger.ErrorContext(r.Context(), "rules: request failed", "path", r.URL.Path, "error", err)
	http.Error(w, "the rules could not be read just now; try again", http.StatusInternalServerError)
}

// ruleRow is a rule in the list.
type ruleRow struct {
	workflow.Rule
	Trigger    string
	Conditions []string
	Actions    []string
	Where      string
}

type rowsData struct {
	Page page
	Rows []ruleRow
	ID   string
}

type listData struct {
	Own, Code []ruleRow
}

func (e *Editor) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := e.req(r)
	var d listData
	for _, name := range e.names {
		own, err := e.cfg.Rules.List(ctx, workflow.RuleQuery{Domain: name})
		if err != nil {
			e.fail(w, r, err)
			return
		}
		for _, rule := range own {
			d.Own = append(d.Own, e.row(ctx, q, rule))
		}
		if q.id.Tenant == nil {
			continue // an untenanted app lists every rule above
		}
		code, err := e.cfg.Rules.List(activity.WithoutTenant(ctx), workflow.RuleQuery{Domain: name})
		if err != nil {
			e.fail(w, r, err)
			return
		}
		for _, rule := range code {
			d.Code = append(d.Code, e.row(ctx, q, rule))
		}
	}
	e.render(w, r, http.StatusOK, "list", q.t(e.cfg.Words, "rules.title"), d)
}

// row describes a rule in the reader's words.
func (e *Editor) row(ctx context.Context, q request, rule workflow.Rule) ruleRow {
	row := ruleRow{Rule: rule, Where: q.t(e.cfg.Words, "rules.everywhere")}
	d := e.domains[rule.Domain]
	if d == nil {
		row.Trigger = rule.TriggeredOn
	} else {
		row.Trigger = e.cfg.Words.Action(q.locale, d, rule.TriggeredOn)
	}
	labels := e.attributeLabels(q, rule.Domain)
	for _, c := range rule.Conditions {
		if c.AnyOf != nil || c.AllOf != nil {
			b, _ := json.Marshal(c)
			row.Conditions = append(row.Conditions, string(b))
			continue
		}
		text := labels[c.Attribute]
		if text == "" {
			text = c.Attribute
		}
		text += " " + q.t(e.cfg.Words, "rules.op."+string(c.Operator))
		if c.Value != nil {
			text += " " + valueText(c.Value)
		}
		row.Conditions = append(row.Conditions, text)
	}
	for _, a := range rule.Actions {
		row.Actions = append(row.Actions, e.actionLabel(q, a.Type))
	}
	if rule.Scope.Kind == workflow.ScopeSubject && d != nil {
		name := "#" + rule.Scope.ID
		if s, err := e.subjects(ctx, rule.Domain, []string{rule.Scope.ID}); err == nil && s[rule.Scope.ID].Label != "" {
			name = s[rule.Scope.ID].Label
		}
		row.Where = q.t(e.cfg.Words, "rules.only_on", name)
	}
	return row
}

// actionLabel names an action type: the catalog's rules.action.<type>,
// else its Doc, else its name with spaces.
func (e *Editor) actionLabel(q request, typ string) string {
	if s := q.t(e.cfg.Words, "rules.action."+typ); s != "rules.action."+typ {
		return s
	}
	for _, ai := range e.cfg.Rules.Registry().Describe() {
		if ai.Name == typ && ai.Doc != "" {
			return strings.TrimSuffix(ai.Doc, ".")
		}
	}
	return web.Humanize(typ)
}

// attributeLabels names the attributes of domain's schema: the catalog's
// rules.attribute.<domain>.<name>, else the schema's Doc, else words
// ("issue: created at", "comment: body").
func (e *Editor) attributeLabels(q request, domain string) map[string]string {
	s := e.cfg.Rules.Schema(domain)
	out := map[string]string{}
	if s == nil {
		return out
	}
	dname := e.cfg.Words.Domain(q.locale, domain)
	for _, a := range s.Attributes() {
		key := "rules.attribute." + domain + "." + a.Name
		if t := q.t(e.cfg.Words, key); t != key {
			out[a.Name] = t
			continue
		}
		if a.Doc != "" {
			out[a.Name] = a.Doc
			continue
		}
		kind, field, ok := strings.Cut(a.Name, ".")
		switch {
		case !ok:
			out[a.Name] = web.Humanize(a.Name)
		case kind == "subject":
			out[a.Name] = dname + ": " + web.Humanize(field)
		case kind == "record":
			out[a.Name] = web.Humanize(field)
		case kind == "extra":
			out[a.Name] = web.Humanize(field)
		default:
			out[a.Name] = web.Humanize(a.Name)
		}
	}
	return out
}

func (e *Editor) subjects(ctx context.Context, domain string, keys []string) (map[string]Subject, error) {
	if e.cfg.Subjects == nil || len(keys) == 0 {
		return map[string]Subject{}, nil
	}
	m, err := e.cfg.Subjects(ctx, domain, keys)
	if m == nil {
		m = map[string]Subject{}
	}
	return m, err
}

// load reads the rule the path names: the tenant's, or one kept in code
// (read only: code reports true).
func (e *Editor) load(w http.ResponseWriter, r *http.Request) (rule workflow.Rule, code, ok bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		e.notFound(w, r)
		return rule, false, false
	}
	ctx := r.Context()
	rule, err = e.cfg.Rules.Get(ctx, id)
	if errors.Is(err, workflow.ErrRuleNotFound) && e.req(r).id.Tenant != nil {
		rule, err = e.cfg.Rules.Get(activity.WithoutTenant(ctx), id)
		if err == nil && rule.Key == "" {
			err = workflow.ErrRuleNotFound // only rules kept in code are everyone's
		}
		code = err == nil
	}
	switch {
	case errors.Is(err, workflow.ErrRuleNotFound):
		e.notFound(w, r)
		return rule, false, false
	case err != nil:
		e.fail(w, r, err)
		return rule, false, false
	case e.domains[rule.Domain] == nil:
		e.notFound(w, r)
		return rule, false, false
	}
	return rule, code, true
}

// who names a rule's saver.
func (e *Editor) who(ctx context.Context, q request, by string) string {
	if e.cfg.People != nil {
		if n := e.cfg.People(ctx, by); n != "" {
			return n
		}
	}
	switch {
	case by == q.id.Person.String() && q.id.Label != "":
		return q.id.Label
	case strings.HasPrefix(by, "app:"):
		return q.t(e.cfg.Words, "rules.by_code")
	}
	return by
}

type ruleData struct {
	Row        ruleRow
	Code       bool
	CreatedBy  string
	UpdatedBy  string
	JSON       string
	Runs       []runRow
	DomainName string
}

type runRow struct {
	workflow.Run
	Trigger string
	Subject Subject
	Status  string
	Actions []string
}

func (e *Editor) show(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := e.req(r)
	rule, code, ok := e.load(w, r)
	if !ok {
		return
	}
	runs, err := e.cfg.Rules.Runs(ctx, workflow.RunQuery{RuleID: rule.ID, Limit: 50})
	if err != nil {
		e.fail(w, r, err)
		return
	}
	d := ruleData{Row: e.row(ctx, q, rule), Code: code, CreatedBy: e.who(ctx, q, rule.CreatedBy), UpdatedBy: e.who(ctx, q, rule.UpdatedBy)}
	b, _ := json.MarshalIndent(rule, "", "  ")
	d.JSON = string(b)
	keys := make([]string, 0, len(runs))
	for _, run := range runs {
		keys = append(keys, run.SubjectID)
	}
	names, err := e.subjects(ctx, rule.Domain, keys)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	dom := e.domains[rule.Domain]
	for _, run := range runs {
		row := runRow{Run: run, Trigger: e.cfg.Words.Action(q.locale, dom, run.EventAction), Subject: names[run.SubjectID],
			Status: q.t(e.cfg.Words, "rules.status."+string(run.Status))}
		if row.Subject.Label == "" {
			row.Subject.Label = "#" + run.SubjectID
		}
		for _, a := range run.Actions {
			text := e.actionLabel(q, a.Type) + ": " + q.t(e.cfg.Words, "rules.status."+string(a.Status))
			if a.Result != nil && a.Result.Summary != "" {
				text += " (" + a.Result.Summary + ")"
			}
			if a.Error != "" {
				text += " — " + a.Error
			}
			row.Actions = append(row.Actions, text)
		}
		d.Runs = append(d.Runs, row)
	}
	e.render(w, r, http.StatusOK, "rule", rule.Name, d)
}

func (e *Editor) toggle(w http.ResponseWriter, r *http.Request) {
	rule, code, ok := e.load(w, r)
	if !ok {
		return
	}
	if code {
		e.refuse(w, r, http.StatusForbidden, "rules.in_code_intro")
		return
	}
	if _, err := e.cfg.Rules.SetEnabled(r.Context(), e.req(r).id.Person.String(), rule.ID, !rule.Enabled); err != nil {
		e.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("%s/%d", e.cfg.Prefix, rule.ID), http.StatusSeeOther)
}

func (e *Editor) remove(w http.ResponseWriter, r *http.Request) {
	rule, code, ok := e.load(w, r)
	if !ok {
		return
	}
	if code {
		e.refuse(w, r, http.StatusForbidden, "rules.in_code_intro")
		return
	}
	if err := e.cfg.Rules.Delete(r.Context(), rule.ID); err != nil {
		e.fail(w, r, err)
		return
	}
	http.Redirect(w, r, e.cfg.Prefix+"/", http.StatusSeeOther)
}
