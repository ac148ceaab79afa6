package tidings_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings"
	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/internal/wordstest"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/eventbrowser"
	"github.com/tidingsdev/tidings/web/notifycenter"
	"github.com/tidingsdev/tidings/web/operations"
	"github.com/tidingsdev/tidings/web/preferences"
	"github.com/tidingsdev/tidings/web/rules"
	"github.com/tidingsdev/tidings/workflow"
)

// Config.Words reaches every mounted part: with a catalog giving each
// part's keys in German, a German reader gets each page's title (and the
// notification center's refusal) in German.
func TestWordsReachEveryPart(t *testing.T) {
	r := redistest.NewPrivate(t)
	cfg := config(t, r.Addr())
	cfg.Words = web.Words{Catalog: wordstest.Catalog(t, eventbrowser.Messages(), operations.Messages(), preferences.Messages(),
		rules.Messages(), notifycenter.Messages())}
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
	greta := web.Identity{Person: activity.Ref{Type: "users", ID: "7"}, Tenant: int64(1), Admin: true, Locale: wordstest.Locale}
	for path, want := range map[string]string{
		"/tidings/events/":        "⟦eventbrowser.title⟧",
		"/tidings/operations/":    "⟦operations.title⟧",
		"/tidings/preferences/":   "⟦preferences.title⟧",
		"/tidings/rules/":         "⟦rules.title⟧",
		"/tidings/notifications/": "⟦notifycenter.error.sign_in⟧",
	} {
		id := greta
		if strings.Contains(path, "notifications") {
			id = web.Identity{Locale: wordstest.Locale} // nobody signed in: the refusal's message
		}
		req := httptest.NewRequest("GET", path, nil)
		rec := httptest.NewRecorder()
		c.Handler().ServeHTTP(rec, req.WithContext(web.WithIdentity(req.Context(), id)))
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: %d, want %s in the reader's words:\n%.600s", path, rec.Code, want, rec.Body)
		}
		if rec.Code >= 500 || (rec.Code != http.StatusOK && id.SignedIn()) {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
}
