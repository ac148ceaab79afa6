package preferences_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/locale"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/preferences"
)

// The page asks the app's web.Identity, keeps each tenant's preferences
// apart, sits in the app's layout, and names rows and columns in the
// reader's words: only the channels given, actions by the action
// catalog, no "app (issue)".
func TestIdentityThemeAndWords(t *testing.T) {
	tickets := activity.MustDomain(activity.DomainConfig{Name: "ticket", Tenant: activity.KeyText, Actions: []string{"commented", "import_retracted"},
		Specs: map[string]activity.ActionSpec{"commented": {Doc: "Someone commented"}}})
	cat, err := locale.New("en", "de")
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Set("de", "tidings.channel.app", "In der App"); err != nil {
		t.Fatal(err)
	}
	people := map[string]web.Identity{
		"ana":   {Person: activity.Ref{Type: "users", ID: "41"}, Tenant: "acme"},
		"ana2":  {Person: activity.Ref{Type: "users", ID: "41"}, Tenant: "globex"}, // same key, another tenant
		"greta": {Person: activity.Ref{Type: "users", ID: "42"}, Tenant: "acme", Locale: "de"},
		"lone":  {Person: activity.Ref{Type: "users", ID: "43"}},
	}
	p, err := preferences.New(preferences.Config{DB: db, Prefix: "/prefs", Domains: []*activity.Domain{tickets}, Words: web.Words{Catalog: cat},
		Topics:     []preferences.Topic{{Domain: "ticket", Action: "commented"}, {Domain: "ticket", Action: "import_retracted"}},
		Deliveries: []preferences.DeliveryOption{{Label: "Immediately", Choice: inbox.ImmediateChoice}, {Label: "Daily", Choice: inbox.BatchedOn(inbox.DailyAt(8, 0))}},
		Identity:   func(r *http.Request) (web.Identity, error) { return people[r.Header.Get("X-As")], nil },
		Theme: web.Theme{Layout: func(w http.ResponseWriter, r *http.Request, pg web.Page) {
			fmt.Fprintf(w, "<html><head>%s</head><body><nav id=app-nav>My app</nav>%s</body></html>", pg.Head, pg.Body)
		}}})
	if err != nil {
		t.Fatal(err)
	}
	do := func(who, method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("X-As", who)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("", "GET", "/prefs/", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("nobody: %d, want 401", rec.Code)
	}
	if rec := do("lone", "GET", "/prefs/", ""); rec.Code != http.StatusForbidden {
		t.Errorf("a person without a tenant on a tenanted domain's page: %d, want 403", rec.Code)
	}
	rec := do("ana", "GET", "/prefs/", "")
	body := rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("ana: %d\n%s", rec.Code, body)
	}
	for _, want := range []string{"<nav id=app-nav>", `href="/prefs/tidings.css"`, "<td>Someone commented</td>", "<td>Import retracted</td>",
		`data-channel="app">In the app</th>`, "<td>In the app · ticket</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s:\n%s", want, body)
		}
	}
	for _, raw := range []string{"(ticket)", "app (", `data-channel="email"`} {
		if strings.Contains(body, raw) {
			t.Errorf("the page shows %q", raw)
		}
	}
	if rec := do("greta", "GET", "/prefs/", ""); !strings.Contains(rec.Body.String(), `data-channel="app">In der App</th>`) {
		t.Errorf("the German reader's column is not in German")
	}
	// Ana mutes comments in acme; the same key in globex is another person.
	if rec := do("ana", "POST", "/prefs/api", `{"domain":"ticket","action":"commented","channel":"app","on":false}`); rec.Code != 200 {
		t.Fatalf("mute: %d %s", rec.Code, rec.Body.String())
	}
	prefs, err := inbox.Preferences(activity.WithTenant(context.Background(), "acme"), db, "41")
	if err != nil || len(prefs) != 1 || !prefs[0].Muted {
		t.Fatalf("acme's preferences of 41: %v %+v", err, prefs)
	}
	if rec := do("ana2", "GET", "/prefs/api", ""); !strings.Contains(rec.Body.String(), `"on":true`) || strings.Contains(rec.Body.String(), `"on":false`) {
		t.Errorf("globex's 41 sees acme's choice: %s", rec.Body.String())
	}
}
