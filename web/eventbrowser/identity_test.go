package eventbrowser_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/eventbrowser"
)

// The browser asks the app's web.Identity (an Admin may browse), sits in
// the app's layout with the stylesheet, names actions as the action
// catalog does, and its date examples follow the clock.
func TestIdentityThemeAndWords(t *testing.T) {
	specced := activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added", "label_added"},
		Specs: map[string]activity.ActionSpec{"comment_added": {Doc: "Someone commented"}}})
	people := map[string]web.Identity{
		"ana": {Person: activity.Ref{Type: "users", ID: "1"}, Admin: true},
		"bo":  {Person: activity.Ref{Type: "users", ID: "2"}},
	}
	b, err := eventbrowser.New(eventbrowser.Config{DB: db, Domains: []*activity.Domain{specced}, Prefix: "/events",
		Identity: func(r *http.Request) (web.Identity, error) { return people[r.Header.Get("X-As")], nil },
		Theme: web.Theme{Stylesheet: "/app.css", Layout: func(w http.ResponseWriter, r *http.Request, p web.Page) {
			fmt.Fprintf(w, "<html><head>%s</head><body><nav id=app-nav>My app</nav>%s</body></html>", p.Head, p.Body)
		}},
		Now: func() time.Time { return time.Date(2030, 5, 10, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	get := func(who, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-As", who)
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, req)
		return rec
	}
	if rec := get("", "/events/"); rec.Code != http.StatusUnauthorized {
		t.Errorf("nobody: %d, want 401", rec.Code)
	}
	if rec := get("bo", "/events/"); rec.Code != http.StatusForbidden {
		t.Errorf("a person who is not an admin: %d, want 403", rec.Code)
	}
	rec := get("ana", "/events/")
	body := rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("admin: %d\n%s", rec.Code, body)
	}
	for _, want := range []string{"<nav id=app-nav>", `href="/events/tidings.css"`, `href="/app.css"`, `<div class="tidings">`,
		`<option value="comment_added" >Someone commented</option>`, `<option value="label_added" >Label added</option>`,
		`placeholder="2030-05-09"`, `placeholder="2030-05-10"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the list lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "2026-11-1") {
		t.Errorf("fixed dates in the page")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); csp != "" {
		t.Errorf("inside the app's layout the browser sets its own CSP %q (it would block the app's scripts)", csp)
	}
	if rec := get("ana", "/events/?since=yesterday"); !strings.Contains(rec.Body.String(), "give a date (2030-05-10)") {
		t.Errorf("a bad date's example is not today's:\n%s", rec.Body.String())
	}
	if rec := get("", "/events/tidings.css"); rec.Code != 200 || !strings.Contains(rec.Body.String(), ".tidings") {
		t.Errorf("stylesheet: %d", rec.Code)
	}
}
