package notifycenter_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

// A center of a tenanted app (RequireTenant) answers a session without a
// tenant with 403 and a clear message on every route, the stream too,
// never 500 nor the untenanted rows; with a tenant it serves.
func TestNoTenantIsRefused(t *testing.T) {
	c, err := notifycenter.New(notifycenter.Config{DB: db, Redis: newRedis(t), ChannelPrefix: channels, Recipient: byHeader, RequireTenant: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for _, route := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/counts"}, {"GET", "/stream"}, {"GET", "/1"}, {"POST", "/1/read"}, {"DELETE", "/1"}, {"POST", "/read-all"},
	} {
		// A deadline: were the stream served, it would stay open.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req := httptest.NewRequestWithContext(ctx, route.method, route.path, nil)
		req.Header.Set("X-User", "8")
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, req)
		cancel()
		var body notifycenter.ErrorResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusForbidden || body.Error != "no_tenant" || body.Message != notifycenter.NoTenantMessage {
			t.Errorf("%s %s without a tenant: %d %s (%v); want 403 no_tenant", route.method, route.path, rec.Code, rec.Body, err)
		}
	}
	req := httptest.NewRequest("GET", "/counts", nil)
	req.Header.Set("X-User", "8")
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, req.WithContext(activity.WithTenant(req.Context(), "ta")))
	if rec.Code != http.StatusOK {
		t.Errorf("counts with a tenant: %d %s", rec.Code, rec.Body)
	}
}
