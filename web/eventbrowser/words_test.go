package eventbrowser_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/wordstest"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/eventbrowser"
	"github.com/tidingsdev/tidings/web/feedview"
	"github.com/tidingsdev/tidings/workflow"
)

// Every text of the browser speaks the reader's locale: with a catalog
// giving every key in German (wordstest's markers), the list (folded
// runs, single lines, the next page, a bad filter), a permalink with its
// cause, what it caused, a deleted record, repeats and workflow runs, a
// permalink whose cause is not browsable, and the refusals hold no
// English but the events' own data.
func TestEveryTextInTheReadersWords(t *testing.T) {
	ctx := context.Background()
	ws := activity.MustDomain(activity.DomainConfig{Name: "wsissue", Subject: activity.Subject{Table: "issues"},
		Actions: []string{"commented", "labelled"}})
	up, _ := activity.MigrationSQL(ws)
	if err := db.Exec(`DROP TABLE IF EXISTS wsissue_events CASCADE`).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(up).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO issues (id, title) VALUES (2, 'Other'), (3, 'Gone') ON CONFLICT DO NOTHING`).Error; err != nil {
		t.Fatal(err)
	}
	keys := eventbrowser.Messages()
	for _, k := range []string{"tidings.domain.wsissue", "tidings.action.wsissue.commented", "tidings.action.wsissue.labelled"} {
		keys[k] = ""
	}
	ana := activity.Ref{Type: "users", ID: "1", Label: "Ana"}
	first, err := ws.RecordEvent(ctx, db, 1, "commented", activity.Actor(ana), activity.Extra{"body": "Looks stale"},
		activity.Record(activity.Ref{Type: "comments", ID: "5", Label: "Comment 5"}),
		activity.Meta(activity.Metadata{CorrelationID: "req-ws", Source: "web", IP: "10.0.0.1", UserAgent: "Firefox"}))
	if err != nil {
		t.Fatal(err)
	}
	var caused activity.Result
	for range 3 { // a throttled run: one event, repeats counted
		if caused, err = ws.RecordEvent(activity.WithCause(ctx, activity.CauseOf(first.Event)), db, 1, "labelled",
			activity.Actor(activity.System("workflow")), activity.Extra{"name": "stale"}, activity.ThrottleWithin(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ws.RecordEvent(ctx, db, 3, "commented", activity.Actor(ana)); err != nil { // a subject the app no longer finds
		t.Fatal(err)
	}
	for range 3 {
		if _, err := ws.RecordEvent(ctx, db, 2, "commented", activity.Actor(ana), activity.Extra{"body": "More"}); err != nil {
			t.Fatal(err)
		}
	}
	elsewhere, err := ws.RecordEvent(activity.WithCause(ctx, activity.Cause{Event: activity.EventRef{Domain: "billing", ID: 9}}), db, 1, "commented", activity.Actor(ana))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO workflow_runs (rule_id, rule_name, domain, event_id, event_action, subject_id, status, matched, explanation, started_at)
VALUES (1, 'Stale issues', 'wsissue', ?, 'commented', '1', 'done', true, 'matched', now())`, first.Event.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO workflow_action_runs (domain, event_id, rule_id, action_index, type, status, started_at)
VALUES ('wsissue', ?, 1, 0, 'label', 'done', now())`, first.Event.ID).Error; err != nil {
		t.Fatal(err)
	}
	schema, err := workflow.NewSchema(workflow.SchemaConfig{Domain: ws})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := workflow.NewRules(workflow.RulesConfig{DB: db, Schemas: []*workflow.Schema{schema}, Registry: workflow.NewRegistry(workflow.RegistryConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	people := map[string]web.Identity{
		"greta":  {Person: activity.Ref{Type: "users", ID: "1"}, Admin: true, Locale: wordstest.Locale},
		"gustav": {Person: activity.Ref{Type: "users", ID: "2"}, Locale: wordstest.Locale},
		"nina":   {Locale: wordstest.Locale},
	}
	b, err := eventbrowser.New(eventbrowser.Config{DB: db, Domains: []*activity.Domain{ws, issues}, Prefix: "/events", Home: "/", PageSize: 3,
		Words: web.Words{Catalog: wordstest.Catalog(t, keys)}, Rules: rules, RuleHref: func(id int64) string { return fmt.Sprint("/rules/", id) },
		Identity: func(r *http.Request) (web.Identity, error) { return people[r.Header.Get("X-As")], nil },
		Feed: feedview.New(feedview.Config{Actions: map[string]feedview.Action{
			"commented": {Verb: "commented", Detail: feedview.ExtraString("body")},
			"labelled":  {Verb: "labelled", Object: feedview.ExtraString("name")},
		}}),
		Subjects: func(_ context.Context, _ string, keys []string) (map[string]eventbrowser.Subject, error) {
			return map[string]eventbrowser.Subject{"1": {Label: "Login fails", Href: "/issues/1"}, "2": {Label: "Dark mode"}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	// The events' own data: the app's sentences, names and values.
	data := []string{"Ana", "commented", "labelled", "stale", "Looks stale", "More", "Login fails", "Dark mode", "Comment 5", "comments:5",
		"users:1", "system:workflow", "workflow", "wsissue", "issue", "req-ws", "web", "Firefox", "billing", "Stale issues", "matched", "label",
		"nonsense", "body", "name", "job", "commnted", "zzzzzzzzzz"}
	for _, c := range []struct {
		who, path string
		want      int
		shows     string
	}{
		{"greta", "/events/?domain=wsissue", 200, `class="more"`},
		{"greta", "/events/?domain=wsissue&actor=nonsense", 400, `id="event-error"`},
		{"greta", "/events/?domain=wsissue&since=nonsense", 400, `id="event-error"`},
		{"greta", "/events/?domain=wsissue&subject=%00", 400, `id="event-error"`},
		{"greta", "/events/?domain=nonsense", 400, `id="event-error"`},
		{"greta", "/events/?domain=wsissue&action=commnted", 400, `id="event-error"`},   // activity's unknown action, with a suggestion
		{"greta", "/events/?domain=wsissue&action=zzzzzzzzzz", 400, `id="event-error"`}, // and without
		{"greta", "/events/?domain=wsissue&after=nonsense", 400, `id="event-error"`},    // a page link the feed did not make
		{"greta", "/events/?domain=wsissue&since=2026-01-02&until=2026-01-01", 400, `id="event-error"`},
		{"greta", fmt.Sprintf("/events/wsissue/%d", first.Event.ID), 200, `id="event-runs"`},
		{"greta", fmt.Sprintf("/events/wsissue/%d", caused.Event.ID), 200, `class="repeats"`},
		{"greta", fmt.Sprintf("/events/wsissue/%d", elsewhere.Event.ID), 200, `id="event-cause"`},
		{"greta", "/events/wsissue/999999999", 404, `id="event-error"`},
		{"greta", "/events/wsissue/nonsense", 404, `id="event-error"`},
		{"gustav", "/events/", 403, `id="event-error"`},
		{"nina", "/events/", 401, `id="event-error"`},
	} {
		req := httptest.NewRequest("GET", c.path, nil)
		req.Header.Set("X-As", c.who)
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != c.want || !strings.Contains(body, c.shows) {
			t.Errorf("%s as %s: %d, want %d showing %s\n%s", c.path, c.who, rec.Code, c.want, c.shows, body)
			continue
		}
		if left := wordstest.Untranslated(body, data...); len(left) > 0 {
			t.Errorf("%s as %s: English left in a German page: %q", c.path, c.who, left)
		}
	}
}

// In English the activity package's refusals of a query read as it says
// them: the browser's keys give them word for word.
func TestRefusedQueriesAsActivitySays(t *testing.T) {
	b, err := eventbrowser.New(eventbrowser.Config{DB: db, Domains: []*activity.Domain{issues}, Prefix: "/events",
		Authorize: func(*http.Request) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	since, until := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, cursorErr := issues.Feed(context.Background(), db, activity.FeedQuery{After: "nonsense"})
	_, untilErr := issues.Feed(context.Background(), db, activity.FeedQuery{Since: since, Until: until})
	for _, c := range []struct {
		query string
		want  error
	}{
		{"action=coment_added", issues.CheckAction("coment_added")},
		{"action=zzzzzzzzzz", issues.CheckAction("zzzzzzzzzz")},
		{"after=nonsense", cursorErr},
		{"since=2026-01-02&until=2026-01-01", untilErr},
	} {
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, httptest.NewRequest("GET", "/events/?"+c.query, nil))
		if c.want == nil || rec.Code != 400 || !strings.Contains(rec.Body.String(), `id="event-error">`+html.EscapeString(c.want.Error())+"</p>") {
			t.Errorf("%s: %d, want 400 saying %v\n%s", c.query, rec.Code, c.want, rec.Body)
		}
	}
}
