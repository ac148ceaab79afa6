package preferences_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web/preferences"
)

// A page of a tenanted domain answers a session without a tenant with
// 403 and a clear message, also on the deprecated Recipient path (no
// web.Identity: the tenant is the request context's), instead of reading
// and writing untenanted rows; with a tenant, it serves.
func TestNoTenantIsRefused(t *testing.T) {
	tickets := activity.MustDomain(activity.DomainConfig{Name: "ticket", Tenant: activity.KeyText, Actions: []string{"commented"}})
	p, err := preferences.New(preferences.Config{DB: db, Prefix: "/prefs", Domains: []*activity.Domain{tickets},
		Topics:    []preferences.Topic{{Domain: "ticket", Action: "commented"}},
		Recipient: func(*http.Request) (string, bool) { return "41", true }})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path, body string }{{"GET", "/prefs/", ""}, {"POST", "/prefs/", "ticket/commented/app=on"}} {
		req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "belong to an organisation") {
			t.Errorf("%s %s without a tenant: %d %.300s", r.method, r.path, rec.Code, rec.Body)
		}
	}
	req := httptest.NewRequest("GET", "/prefs/", nil)
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, req.WithContext(activity.WithTenant(req.Context(), "acme")))
	if rec.Code != http.StatusOK {
		t.Errorf("GET in acme: %d %.300s", rec.Code, rec.Body)
	}
}
