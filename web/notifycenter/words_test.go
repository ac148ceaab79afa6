package notifycenter_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/internal/wordstest"
	tweb "github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

// noFlush hides the recorder's Flush: a server that cannot stream.
type noFlush struct{ w http.ResponseWriter }

func (n noFlush) Header() http.Header         { return n.w.Header() }
func (n noFlush) Write(b []byte) (int, error) { return n.w.Write(b) }
func (n noFlush) WriteHeader(code int)        { n.w.WriteHeader(code) }

// Every refusal of the center says its message in the reader's locale
// (a catalog giving every key of Messages in German: wordstest's
// markers), with the error code unchanged; between them the cases say
// every message but the server's own failure.
func TestEveryErrorInTheReadersWords(t *testing.T) {
	cat := wordstest.Catalog(t, notifycenter.Messages())
	people := map[string]tweb.Identity{
		"greta": {Person: activity.Ref{Type: "users", ID: "words-61"}, Tenant: "acme", Locale: wordstest.Locale},
		"nina":  {Locale: wordstest.Locale},
		"lone":  {Person: activity.Ref{Type: "users", ID: "words-62"}, Locale: wordstest.Locale},
		"nul":   {Person: activity.Ref{Type: "users", ID: "a\x00b"}, Tenant: "acme", Locale: wordstest.Locale},
	}
	center := func(cfg notifycenter.Config) *notifycenter.Center {
		cfg.DB, cfg.Redis, cfg.ChannelPrefix, cfg.Prefix, cfg.Words = db, newRedis(t), channels, "/n", tweb.Words{Catalog: cat}
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		c, err := notifycenter.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	byHeader := func(r *http.Request) (tweb.Identity, error) {
		if r.Header.Get("X-As") == "broken" {
			return tweb.Identity{}, errors.New("session store down")
		}
		return people[r.Header.Get("X-As")], nil
	}
	offCurve := base64.RawURLEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...)) // 65 bytes, not a point
	open := center(notifycenter.Config{Identity: byHeader, Push: &notifycenter.PushConfig{PublicKey: pushKey}})
	tenanted := center(notifycenter.Config{Identity: byHeader, RequireTenant: true})
	bare := center(notifycenter.Config{})
	seen := map[string]bool{}
	for _, c := range []struct {
		center            *notifycenter.Center
		who, method, path string
		ctype, body       string
		want              int
		code              string
		noFlush           bool
	}{
		{open, "nina", "GET", "/n/", "", "", 401, "unauthorized", false},
		{open, "broken", "GET", "/n/", "", "", 500, "internal", false},
		{bare, "", "GET", "/n/", "", "", 403, "forbidden", false},
		{tenanted, "lone", "GET", "/n/", "", "", 403, "no_tenant", false},
		{open, "nul", "GET", "/n/", "", "", 403, "forbidden", false},
		{open, "greta", "GET", "/n/?limit=0", "", "", 400, "bad_request", false},
		{open, "greta", "GET", "/n/?after=nonsense", "", "", 400, "bad_request", false},
		{open, "greta", "GET", "/n/0", "", "", 404, "not_found", false},
		{open, "greta", "GET", "/n/999999999", "", "", 404, "not_found", false},
		{open, "greta", "POST", "/n/1/explode", "", "", 404, "not_found", false},
		{open, "greta", "POST", "/n/999999999/read", "", "", 404, "not_found", false},
		{open, "greta", "GET", "/n/stream?last_event_id=-1", "", "", 400, "bad_request", false},
		{open, "greta", "GET", "/n/stream", "", "", 500, "internal", true},
		{open, "greta", "POST", "/n/push/subscriptions", "text/plain", "{}", 415, "bad_request", false},
		{open, "greta", "POST", "/n/push/subscriptions", "application/json", "nonsense", 400, "bad_request", false},
		// the device store's refusals, by their code
		{open, "greta", "POST", "/n/push/subscriptions", "application/json", `{"endpoint": ""}`, 400, "bad_request", false},
		{open, "greta", "DELETE", "/n/push/subscriptions", "application/json", `{"endpoint": "\u0000"}`, 400, "bad_request", false},
		{open, "greta", "POST", "/n/push/subscriptions", "application/json", `{"endpoint": "https://push.example/1", "label": "` + strings.Repeat("x", 201) + `"}`, 400, "bad_request", false},
		{open, "greta", "POST", "/n/push/subscriptions", "application/json", `{"endpoint": "http://push.example/1"}`, 400, "bad_request", false},
		{open, "greta", "POST", "/n/push/subscriptions", "application/json", `{"endpoint": "https://push.example/1", "keys": {"p256dh": "abc"}}`, 400, "bad_request", false},
		{open, "greta", "POST", "/n/push/subscriptions", "application/json", `{"endpoint": "https://push.example/1", "keys": {"p256dh": "` + offCurve + `"}}`, 400, "bad_request", false},
		{open, "greta", "POST", "/n/push/subscriptions", "application/json", `{"endpoint": "https://push.example/1", "keys": {"p256dh": "` + pushP256dh + `", "auth": "abc"}}`, 400, "bad_request", false},
	} {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		req.Header.Set("X-As", c.who)
		req.Header.Set("Accept-Language", "de-DE, en;q=0.5") // who has no identity reads it there
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		rec := httptest.NewRecorder()
		var w http.ResponseWriter = rec
		if c.noFlush {
			w = noFlush{rec}
		}
		c.center.ServeHTTP(w, req)
		var got notifycenter.ErrorResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != c.want || got.Error != c.code {
			t.Errorf("%s %s as %s: %d %s, want %d with the code %q", c.method, c.path, c.who, rec.Code, rec.Body, c.want, c.code)
			continue
		}
		key, _, _ := strings.Cut(strings.TrimPrefix(got.Message, "⟦"), "⟧")
		seen[key] = true
		if left := wordstest.Untranslated(got.Message, "999999999", "explode", "Address", "Label", "P256dh", "Auth"); len(left) > 0 || !strings.HasPrefix(got.Message, "⟦") {
			t.Errorf("%s %s as %s: the message %q is not in the reader's words", c.method, c.path, c.who, got.Message)
		}
	}
	for key := range notifycenter.Messages() {
		if !seen[key] && key != "notifycenter.error.internal" { // the server's own failure
			t.Errorf("no case says %s", key)
		}
	}
}

// In English a refused push subscription says what the device store
// says: the center's keys give its reasons word for word.
func TestPushRefusalsAsTheStoreSays(t *testing.T) {
	c, err := notifycenter.New(notifycenter.Config{DB: db, Redis: newRedis(t), ChannelPrefix: channels, Prefix: "/n",
		Push:   &notifycenter.PushConfig{PublicKey: pushKey},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Identity: func(*http.Request) (tweb.Identity, error) {
			return tweb.Identity{Person: activity.Ref{Type: "users", ID: "words-63"}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	offCurve := base64.RawURLEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...))
	for _, f := range [][4]string{ // endpoint, label, p256dh, auth
		{},
		{"https://push.example/1", strings.Repeat("x", 201)},
		{"https://push.example/1", "\x00"},
		{"http://push.example/1"},
		{"https://push.example/1", "", "abc"},
		{"https://push.example/1", "", offCurve},
		{"https://push.example/1", "", pushP256dh, "abc"},
	} {
		var s notifycenter.Subscription
		s.Endpoint, s.Label, s.Keys.P256dh, s.Keys.Auth = f[0], f[1], f[2], f[3]
		_, want := device.Address{Recipient: "words-63", Kind: device.WebPush, Address: s.Endpoint, P256dh: s.Keys.P256dh, Auth: s.Keys.Auth, Label: s.Label}.Normalize()
		body, _ := json.Marshal(s)
		req := httptest.NewRequest("POST", "/n/push/subscriptions", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, req)
		var got notifycenter.ErrorResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 400 || want == nil || got.Message != want.Error() {
			t.Errorf("%s: %d %s, want 400 saying %v", body, rec.Code, rec.Body, want)
		}
	}
}
