package eventbrowser_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web/eventbrowser"
)

// A browser of a tenanted domain answers a session without a tenant with
// 403 and a clear message, never 500, also on the deprecated Authorize
// path (no web.Identity: the tenant is the request context's, set by
// activity.Middleware); with a tenant, it lists.
func TestNoTenantIsRefused(t *testing.T) {
	tickets := activity.MustDomain(activity.DomainConfig{Name: "browsed_ticket", Subject: activity.Subject{Table: "issues"}, Tenant: activity.KeyText, Actions: []string{"opened"}})
	up, _ := activity.MigrationSQL(tickets)
	if err := db.Exec(`DROP TABLE IF EXISTS browsed_ticket_events CASCADE`).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(up).Error; err != nil {
		t.Fatal(err)
	}
	b, err := eventbrowser.New(eventbrowser.Config{DB: db, Domains: []*activity.Domain{tickets}, Prefix: "/events",
		Authorize: func(*http.Request) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/events/", "/events/browsed_ticket/1", "/events/?domain=browsed_ticket"} {
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "belong to an organisation") {
			t.Errorf("GET %s without a tenant: %d\n%.400s", path, rec.Code, rec.Body)
		}
	}
	req := httptest.NewRequest("GET", "/events/", nil)
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, req.WithContext(activity.WithTenant(req.Context(), "acme")))
	if rec.Code != http.StatusOK {
		t.Errorf("GET /events/ in acme: %d\n%.400s", rec.Code, rec.Body)
	}
}
