package activity_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tidingsdev/tidings/activity"
)

func TestMiddlewareSetsActorAndMetadata(t *testing.T) {
	u, i := fixture(t)
	var got activity.Event
	h := activity.Middleware(activity.MiddlewareConfig{
		Actor:          func(*http.Request) any { return &u },
		TrustRequestID: true,
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := issues.RecordEvent(r.Context(), testDB, i.ID, "label_added")
		if err != nil {
			t.Error(err)
			return
		}
		got = res.Event
	}))
	req := httptest.NewRequest("POST", "/issues/1/labels", nil)
	req.RemoteAddr = "198.51.100.7:51234"
	req.Header.Set("User-Agent", "curl/8")
	req.Header.Set("X-Request-ID", "abc-123")
	req.Header.Set("X-Correlation-ID", "bad header\r\nX: y") // not a safe token: ignored
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if got.ActorID != itoa(u.ID) || deref(got.RequestID) != "abc-123" || deref(got.CorrelationID) != "abc-123" ||
		deref(got.Source) != "web" || deref(got.IP) != "198.51.100.7" || deref(got.UserAgent) != "curl/8" {
		t.Errorf("event metadata: actor %s request %q correlation %q source %q ip %q ua %q", got.ActorID,
			deref(got.RequestID), deref(got.CorrelationID), deref(got.Source), deref(got.IP), deref(got.UserAgent))
	}
	if rec.Header().Get("X-Request-ID") != "abc-123" {
		t.Errorf("response X-Request-ID = %q", rec.Header().Get("X-Request-ID"))
	}
}

// TestMiddlewareDropsTheZoneOfALinkLocalClient: a client on a link-local
// IPv6 address (RemoteAddr "[fe80::1%eth0]:port") records its events, with
// the address without its zone, which recording refuses from a caller.
func TestMiddlewareDropsTheZoneOfALinkLocalClient(t *testing.T) {
	u, i := fixture(t)
	var got activity.Event
	h := activity.Middleware(activity.MiddlewareConfig{Actor: func(*http.Request) any { return &u }})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := issues.RecordEvent(r.Context(), testDB, i.ID, "label_added")
		if err != nil {
			t.Error(err)
			return
		}
		got = res.Event
	}))
	req := httptest.NewRequest("POST", "/issues/1/labels", nil)
	req.RemoteAddr = "[fe80::1%eth0]:51234"
	h.ServeHTTP(httptest.NewRecorder(), req)
	if deref(got.IP) != "fe80::1" {
		t.Errorf("ip = %q, want fe80::1", deref(got.IP))
	}
}
