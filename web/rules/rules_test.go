package rules_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/locale"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/rules"
	"github.com/tidingsdev/tidings/workflow"
)

var (
	db     *gorm.DB
	issues = activity.MustDomain(activity.DomainConfig{Name: "issue", Subject: activity.Subject{Table: "issues"}, Tenant: activity.KeyText,
		Actions: []string{"commented", "closed"},
		Specs:   map[string]activity.ActionSpec{"commented": {Doc: "Someone commented"}}})
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(issues)
	var err error
	if db, err = pgtest.Create(ctx, "tidings_test_webrules", "CREATE TABLE issues (id bigserial PRIMARY KEY, title text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
		"INSERT INTO issues (title, created_at) VALUES ('Login fails', '2020-01-01'), ('Invoice wrong', now())", up); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newRules is the app's rule store: issues' created_at and title, a
// comment's body, and a reply action.
func newRules(t testing.TB) *workflow.Rules {
	t.Helper()
	rs, err := makeRules()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func makeRules() (*workflow.Rules, error) {
	schema, err := workflow.NewSchema(workflow.SchemaConfig{Domain: issues,
		Subject: workflow.Object{Fields: workflow.Fields{"created_at": workflow.Time, "title": workflow.String},
			Resolver: workflow.ResolverFunc(func(ctx context.Context, id string) (map[string]any, error) {
				var row struct {
					Title     string
					CreatedAt string
				}
				err := db.WithContext(ctx).Raw(`SELECT title, to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at FROM issues WHERE id::text = ?`, id).Scan(&row).Error
				return map[string]any{"title": row.Title, "created_at": row.CreatedAt}, err
			})}})
	if err != nil {
		return nil, err
	}
	reg := workflow.NewRegistry(workflow.RegistryConfig{})
	if err := reg.Register("reply", workflow.Action{Doc: "Reply with a comment.",
		Params: workflow.ParamSchema{"message": {Type: workflow.String, Required: true, Doc: "what to say"}},
		Run:    func(context.Context, workflow.ActionContext) (workflow.Result, error) { return workflow.Result{}, nil }}); err != nil {
		return nil, err
	}
	return workflow.NewRules(workflow.RulesConfig{DB: db, Schemas: []*workflow.Schema{schema}, Registry: reg})
}

var people = map[string]web.Identity{
	"ana":    {Person: activity.Ref{Type: "users", ID: "1"}, Label: "Ana", Tenant: "acme", Admin: true},
	"bo":     {Person: activity.Ref{Type: "users", ID: "2"}, Label: "Bo", Tenant: "acme"},
	"gus":    {Person: activity.Ref{Type: "users", ID: "3"}, Label: "Gus", Tenant: "globex", Admin: true},
	"lone":   {Person: activity.Ref{Type: "users", ID: "4"}, Admin: true}, // no tenant
	"greta":  {Person: activity.Ref{Type: "users", ID: "5"}, Label: "Greta", Tenant: "acme", Admin: true, Locale: "de"},
	"nobody": {},
}

type client struct {
	t   *testing.T
	srv *httptest.Server
}

func (c client) do(who, method, path string, form url.Values) (int, string, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-As", who)
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header.Get("Location")
}

func fieldError(body, field string) string {
	m := regexp.MustCompile(`data-field="` + regexp.QuoteMeta(field) + `">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func newEditor(t *testing.T, rs *workflow.Rules) client {
	t.Helper()
	cat, err := locale.New("en", "de")
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Set("de", "rules.error.name", "Gib der Regel einen Namen."); err != nil {
		t.Fatal(err)
	}
	ed, err := rules.New(rules.Config{DB: db, Rules: rs, Domains: []*activity.Domain{issues}, Prefix: "/rules", Logger: quiet(),
		Words:    web.Words{Catalog: cat},
		Identity: func(r *http.Request) (web.Identity, error) { return people[r.Header.Get("X-As")], nil },
		Subjects: func(_ context.Context, _ string, keys []string) (map[string]rules.Subject, error) {
			out := map[string]rules.Subject{}
			for _, k := range keys {
				out[k] = rules.Subject{Label: "Issue " + k, Href: "/issues/" + k}
			}
			return out, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/rules/", ed)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return client{t, srv}
}

func reset(t *testing.T) {
	if err := db.Exec(`TRUNCATE workflow_rules, workflow_versions, workflow_runs, workflow_action_runs, issue_events`).Error; err != nil {
		t.Fatal(err)
	}
}

// Who may do what: a person sees their tenant's rules; only an admin
// changes them; nobody and a person without a tenant are refused.
func TestAccess(t *testing.T) {
	reset(t)
	c := newEditor(t, newRules(t))
	for _, tc := range []struct {
		who, method, path string
		want              int
	}{
		{"nobody", "GET", "/rules/", 401},
		{"lone", "GET", "/rules/", 403},
		{"bo", "GET", "/rules/", 200},
		{"bo", "GET", "/rules/new", 403},
		{"bo", "POST", "/rules/new", 403},
		{"ana", "GET", "/rules/new", 200},
		{"ana", "GET", "/rules/tidings.css", 200},
	} {
		if code, body, _ := c.do(tc.who, tc.method, tc.path, url.Values{}); code != tc.want {
			t.Errorf("%s %s as %s: %d, want %d\n%.400s", tc.method, tc.path, tc.who, code, tc.want, body)
		}
	}
}

// A bad rule: every mistake shows at its own field in the reader's words
// (no schema or key jargon), what was chosen stays chosen, and nothing is
// saved. Fixed, it saves, dry runs and lists in the catalog's words.
func TestFormErrorsAtTheirFields(t *testing.T) {
	reset(t)
	rs := newRules(t)
	c := newEditor(t, rs)
	bad := url.Values{
		"name": {""}, "triggered_on": {"bogus"}, "scope_id": {"abc"}, "enabled": {"on"},
		"cond_attribute": {"subject.created_at", "record.nope"}, "cond_operator": {"lt", "eq"}, "cond_value": {"banana", "x"},
		"action_type": {"reply"}, "action0.reply.message": {""}, "op": {"save"},
	}
	code, body, _ := c.do("ana", "POST", "/rules/new", bad)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("bad rule: %d, want 422\n%s", code, body)
	}
	for field, want := range map[string]string{
		"name":                      "Give the rule a name.",
		"triggered_on":              "Choose what the rule reacts to.",
		"scope":                     "There is no issue #abc.",
		"conditions[0].value":       "“banana” is not a date (2024-01-31) or an age (365d).",
		"conditions[1].attribute":   "Choose a field from the list.",
		"actions[0].params.message": "Fill this in.",
	} {
		if got := fieldError(body, field); got != want {
			t.Errorf("error at %s: %q, want %q", field, got, want)
		}
	}
	for _, jargon := range []string{"schema", "subject key", "triggered_on:", "Records", "scope.id"} {
		if strings.Contains(body, jargon) {
			t.Errorf("the form speaks to developers: %q in\n%s", jargon, body)
		}
	}
	if !strings.Contains(body, `<option value="bogus" selected>`) {
		t.Errorf("the refused trigger is no longer chosen (the select reset)")
	}
	if n, _ := rs.List(activity.WithTenant(context.Background(), "acme"), workflow.RuleQuery{}); len(n) != 0 {
		t.Fatalf("a refused rule was saved: %v", n)
	}
	// In German, where the catalog says so.
	if _, body, _ := c.do("greta", "POST", "/rules/new", bad); fieldError(body, "name") != "Gib der Regel einen Namen." {
		t.Errorf("German reader's name error: %q", fieldError(body, "name"))
	}

	// A dry run on the recorded comments: one on an old issue.
	ctx := activity.WithTenant(context.Background(), "acme")
	for _, issue := range []int64{1, 2} {
		if _, err := issues.RecordEvent(ctx, db, issue, "commented", activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "Ana"})); err != nil {
			t.Fatal(err)
		}
	}
	good := url.Values{
		"name": {"Stale <b>issues</b>"}, "triggered_on": {"commented"}, "enabled": {"on"},
		"cond_attribute": {"subject.created_at"}, "cond_operator": {"lt"}, "cond_value": {"2022-01-01"},
		"action_type": {"reply"}, "action0.reply.message": {"This issue is stale"}, "op": {"dryrun"},
	}
	code, body, _ = c.do("ana", "POST", "/rules/new", good)
	if code != 200 || !strings.Contains(body, `id="dry-run-result"`) || !strings.Contains(body, "1 of 2 recent events") {
		t.Fatalf("dry run: %d\n%s", code, body)
	}
	good.Set("op", "save")
	code, _, loc := c.do("ana", "POST", "/rules/new", good)
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/rules/") {
		t.Fatalf("save: %d %q", code, loc)
	}
	_, list, _ := c.do("bo", "GET", "/rules/", nil)
	for _, want := range []string{"Someone commented", "issue: created at is less than / before 2022-01-01", "Reply with a comment", "Stale &lt;b&gt;issues&lt;/b&gt;"} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %q:\n%s", want, list)
		}
	}
	if code, _, _ := c.do("gus", "GET", loc, nil); code != http.StatusNotFound {
		t.Errorf("another tenant's admin opening the rule: %d, want 404", code)
	}
	if code, _, _ := c.do("gus", "POST", loc+"/delete", url.Values{}); code != http.StatusNotFound {
		t.Errorf("another tenant's admin deleting the rule: %d, want 404", code)
	}
	if _, list, _ := c.do("gus", "GET", "/rules/", nil); strings.Contains(list, "Stale") {
		t.Errorf("another tenant lists the rule")
	}
}

// A rule the app keeps in code (no tenant) is listed for every tenant,
// read only.
func TestRulesKeptInCode(t *testing.T) {
	reset(t)
	rs := newRules(t)
	c := newEditor(t, rs)
	ping, _, err := rs.Ensure(context.Background(), "app:demo", workflow.Rule{Key: "ping", Name: "Ping? Pong!", Domain: "issue", TriggeredOn: "commented",
		Actions: []workflow.RuleAction{workflow.Do("reply", workflow.Params{"message": "pong"})}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	_, list, _ := c.do("bo", "GET", "/rules/", nil)
	if !strings.Contains(list, `id="code-rules"`) || !strings.Contains(list, "Ping? Pong!") {
		t.Fatalf("the rule kept in code is not listed:\n%s", list)
	}
	path := fmt.Sprintf("/rules/%d", ping.ID)
	if code, body, _ := c.do("ana", "GET", path, nil); code != 200 || strings.Contains(body, `id="edit-rule"`) || !strings.Contains(body, "the app&#39;s code") {
		t.Errorf("the code rule's page: %d, want it read only and made by the app's code\n%s", code, body)
	}
	for _, p := range []string{path + "/edit", path + "/toggle", path + "/delete"} {
		if code, _, _ := c.do("ana", "POST", p, url.Values{}); code != http.StatusForbidden {
			t.Errorf("POST %s on a rule kept in code: %d, want 403", p, code)
		}
	}
}
