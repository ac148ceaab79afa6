package notifycenter_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/device"
	tweb "github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

// A browser's subscription, as PushSubscription.toJSON() gives it.
const (
	pushKey    = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
	pushP256dh = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	pushAuth   = "BTBZMqHH6r4Tts7J_aSIgg"
)

// "Notify me on this browser": the center serves its service worker and
// stores the browser's subscription for the signed-in person in their
// tenant, and removes it; nobody signed in, a bad subscription, and a
// body that is not JSON are refused.
func TestPushSubscriptions(t *testing.T) {
	const who = "push-7"
	people := map[string]tweb.Identity{
		"a": {Person: activity.Ref{Type: "users", ID: who}, Tenant: "pa"},
		"b": {Person: activity.Ref{Type: "users", ID: who}, Tenant: "pb"},
	}
	c, err := notifycenter.New(notifycenter.Config{DB: db, Redis: newRedis(t), ChannelPrefix: channels, Prefix: "/n",
		Push:     &notifycenter.PushConfig{PublicKey: pushKey, OpenURL: "/inbox"},
		Identity: func(r *http.Request) (tweb.Identity, error) { return people[r.Header.Get("X-As")], nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	do := func(method, path, as, ctype, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("X-As", as)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, req)
		return rec
	}
	sw := do("GET", "/n/push/sw.js", "", "", "")
	if sw.Code != 200 || !strings.HasPrefix(sw.Header().Get("Content-Type"), "text/javascript") ||
		!strings.Contains(sw.Body.String(), "showNotification") || !strings.Contains(sw.Body.String(), `const OPEN_URL = "/inbox"`) {
		t.Fatalf("service worker: %d %s\n%s", sw.Code, sw.Header(), sw.Body)
	}
	if cl := do("GET", "/n/push/client.js", "", "", ""); cl.Code != 200 || !strings.Contains(cl.Body.String(), `const PREFIX = "/n"`) {
		t.Fatalf("client script: %d\n%s", cl.Code, cl.Body)
	}
	if k := do("GET", "/n/push/key", "", "", ""); k.Code != 200 || !strings.Contains(k.Body.String(), `"public_key":"`+pushKey+`"`) {
		t.Fatalf("key: %d %s", k.Code, k.Body)
	}
	endpoint := "https://push.example.net/wpush/v2/abc"
	sub := `{"endpoint": "` + endpoint + `", "expirationTime": null, "keys": {"p256dh": "` + pushP256dh + `", "auth": "` + pushAuth + `"}, "label": "Firefox"}`
	if rec := do("POST", "/n/push/subscriptions", "", "application/json", sub); rec.Code != http.StatusUnauthorized {
		t.Errorf("nobody signed in: %d, want 401", rec.Code)
	}
	if rec := do("POST", "/n/push/subscriptions", "a", "application/x-www-form-urlencoded", sub); rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("a form post: %d, want 415", rec.Code)
	}
	if rec := do("POST", "/n/push/subscriptions", "a", "application/json", strings.Replace(sub, pushAuth, "short", 1)); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Auth") {
		t.Errorf("a bad auth secret: %d %s, want 400 naming it", rec.Code, rec.Body)
	}
	rec := do("POST", "/n/push/subscriptions", "a", "application/json", sub)
	if rec.Code != http.StatusCreated {
		t.Fatalf("subscribe: %d %s", rec.Code, rec.Body)
	}
	var stored device.Address
	if err := json.Unmarshal(rec.Body.Bytes(), &stored); err != nil || stored.Address != endpoint || stored.Tenant != "pa" || stored.Label != "Firefox" {
		t.Fatalf("stored %+v %v", stored, err)
	}
	list := func(tenant string) []device.Address {
		got, err := device.List(activity.WithTenant(context.Background(), tenant), db, who, device.WebPush)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := list("pa"); len(got) != 1 || got[0].P256dh != pushP256dh || got[0].Auth != pushAuth {
		t.Fatalf("tenant pa's subscriptions %+v; want the browser's", got)
	}
	if got := list("pb"); len(got) != 0 {
		t.Fatalf("tenant pb's subscriptions %+v; want none", got)
	}
	// The same person in tenant pb cannot remove tenant pa's subscription.
	unsub := `{"endpoint": "` + endpoint + `"}`
	if rec := do("DELETE", "/n/push/subscriptions", "b", "application/json", unsub); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"removed":false}` {
		t.Errorf("unsubscribe in the other tenant: %d %s", rec.Code, rec.Body)
	}
	if rec := do("DELETE", "/n/push/subscriptions", "a", "application/json", unsub); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"removed":true}` {
		t.Errorf("unsubscribe: %d %s", rec.Code, rec.Body)
	}
	if got := list("pa"); len(got) != 0 {
		t.Fatalf("subscriptions after unsubscribing %+v", got)
	}
}

// Without Config.Push there are no push routes; a bad key is refused.
func TestPushConfig(t *testing.T) {
	_, err := notifycenter.New(notifycenter.Config{DB: db, Redis: newRedis(t), Push: &notifycenter.PushConfig{PublicKey: "nope"}})
	if !errors.Is(err, notifycenter.ErrInvalidConfig) || !strings.Contains(err.Error(), "Push.PublicKey") {
		t.Fatalf("a bad key: %v", err)
	}
	_, err = notifycenter.New(notifycenter.Config{DB: db, Redis: newRedis(t), Push: &notifycenter.PushConfig{PublicKey: pushKey, OpenURL: "https://evil.example/"}})
	if !errors.Is(err, notifycenter.ErrInvalidConfig) {
		t.Fatalf("an open URL off the site: %v", err)
	}
	c, err := notifycenter.New(notifycenter.Config{DB: db, Redis: newRedis(t), ChannelPrefix: channels, Prefix: "/n",
		Identity: func(*http.Request) (tweb.Identity, error) {
			return tweb.Identity{Person: activity.Ref{Type: "users", ID: "1"}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/n/push/sw.js", nil))
	if rec.Code == http.StatusOK || strings.Contains(rec.Body.String(), "showNotification") {
		t.Errorf("sw.js without Push: %d, want no script", rec.Code)
	}
}
