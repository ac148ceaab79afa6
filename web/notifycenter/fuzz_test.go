package notifycenter_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/internal/redistest"
	tweb "github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

// browserSubscription is PushSubscription.toJSON() plus the label, read
// here with encoding/json on its own: what the center must have stored.
type browserSubscription struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
	Label string `json:"label"`
}

// FuzzSubscribe posts to the center's push subscription route what a
// browser (or anyone with the person's session) could send: any body,
// with a JSON content type or not, as POST (subscribe) or DELETE
// (unsubscribe). device.FuzzRegister covers Register's checks of the
// fields; this covers the step before, the body as JSON. The center must
// refuse with its JSON error (400, 415) before any write, or store a
// subscription that List returns with the endpoint, keys and label the
// body held (a DELETE removes only what it names). Never a 500, never a
// panic.
func FuzzSubscribe(f *testing.F) {
	sub := `{"endpoint":"https://push.example.net/wpush/v2/abc","expirationTime":null,"keys":{"p256dh":"` + pushP256dh + `","auth":"` + pushAuth + `"}}`
	f.Add(sub, true, false)
	f.Add(`{"endpoint":"https://fcm.googleapis.com/fcm/send/x:y","keys":{"p256dh":"`+pushP256dh+`","auth":"`+pushAuth+`"},"label":"Chrome on Linux"}`, true, false)
	f.Add(sub+`{"trailing":1}`, true, false)
	f.Add(`{"endpoint":"https://push.example.net/a","endpoint":"http://127.0.0.1/b","keys":{"p256dh":"`+pushP256dh+`","auth":"`+pushAuth+`"}}`, true, false)
	f.Add(`{"endpoint":"https://push.example.net/\u0000","keys":{"p256dh":"`+pushP256dh+`","auth":"`+pushAuth+`"}}`, true, false)
	f.Add(`{"endpoint":1,"keys":[]}`, true, false)
	f.Add(`{"endpoint":"https://push.example.net/wpush/v2/abc","keys":{"p256dh":"BAAA","auth":"x"},"label":"\ud800"}`, true, false)
	f.Add(`{"ENDPOINT":"https://push.example.net/c","Keys":{"P256DH":"`+pushP256dh+`","AUTH":"`+pushAuth+`"}}`, true, false)
	f.Add(`null`, true, false)
	f.Add(sub, false, false)
	f.Add(`{"endpoint":"https://push.example.net/wpush/v2/abc"}`, true, true)
	f.Add(`{"endpoint":""}`, true, true)
	f.Add("\xff", true, true)

	// writes counts the statements that may change rows, on a handle of
	// this test's own (gorm's callbacks are per handle).
	h := db.Session(&gorm.Session{NewDB: true})
	var writes atomic.Int64
	count := func(*gorm.DB) { writes.Add(1) }
	for _, c := range []interface {
		Register(string, func(*gorm.DB)) error
	}{h.Callback().Create().Before("gorm:create"), h.Callback().Update().Before("gorm:update"),
		h.Callback().Delete().Before("gorm:delete"), h.Callback().Raw().Before("gorm:raw")} {
		if err := c.Register("fuzz:count_writes", count); err != nil {
			f.Fatal(err)
		}
	}
	const tenant = "fuzz"
	who := tweb.Identity{Person: activity.Ref{Type: "users", ID: "fuzz-push"}, Tenant: tenant}
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(), DB: 13}) // never dialled by these routes
	f.Cleanup(func() { rdb.Close() })
	c, err := notifycenter.New(notifycenter.Config{DB: h, Redis: rdb, ChannelPrefix: channels, Prefix: "/n",
		Push:     &notifycenter.PushConfig{PublicKey: pushKey},
		Identity: func(*http.Request) (tweb.Identity, error) { return who, nil }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(c.Close)
	ctx := activity.WithTenant(context.Background(), tenant)

	f.Fuzz(func(t *testing.T, body string, jsonType, remove bool) {
		method := http.MethodPost
		if remove {
			method = http.MethodDelete
		}
		req := httptest.NewRequest(method, "/n/push/subscriptions", strings.NewReader(body))
		if jsonType {
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
		} else {
			req.Header.Set("Content-Type", "text/plain")
		}
		before := writes.Load()
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, req)
		wrote := writes.Load() - before

		var ref browserSubscription
		refErr := json.NewDecoder(strings.NewReader(body)).Decode(&ref)
		if rec.Code == http.StatusBadRequest || rec.Code == http.StatusUnsupportedMediaType {
			var e notifycenter.ErrorResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error != "bad_request" || e.Message == "" {
				t.Fatalf("refusal %d is not the center's JSON error: %q", rec.Code, rec.Body)
			}
			if wrote != 0 {
				t.Fatalf("refused (%d %s) after %d writes", rec.Code, rec.Body, wrote)
			}
			return
		}
		if !jsonType || refErr != nil || len(body) > 16<<10 {
			t.Fatalf("accepted (%d %s) a body that is not JSON (content type JSON %v, decode error %v, %d bytes)", rec.Code, rec.Body, jsonType, refErr, len(body))
		}
		if remove {
			var res notifycenter.UnsubscribeResponse
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &res) != nil {
				t.Fatalf("unsubscribe answered %d %q", rec.Code, rec.Body)
			}
			if !res.Removed && wrote != 1 {
				t.Fatalf("unsubscribe of %q removed nothing with %d writes", ref.Endpoint, wrote)
			}
			return
		}
		if rec.Code != http.StatusCreated {
			t.Fatalf("subscribe answered %d %q; want 201, 400 or 415", rec.Code, rec.Body)
		}
		var got device.Address
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("subscribe answered %q: %v", rec.Body, err)
		}
		defer func() {
			if _, err := device.Remove(ctx, db, got.Recipient, device.WebPush, got.Address); err != nil && !errors.Is(err, device.ErrInvalid) {
				t.Error(err)
			}
		}()
		if got.Address != ref.Endpoint || got.P256dh != ref.Keys.P256dh || got.Auth != ref.Keys.Auth || got.Tenant != tenant ||
			got.Recipient != who.Person.ID || got.Kind != device.WebPush {
			t.Fatalf("stored %+v for the body's %+v", got, ref)
		}
		if ref.Label != "" && got.Label != ref.Label {
			t.Fatalf("stored label %q for the body's %q", got.Label, ref.Label)
		}
		list, err := device.List(ctx, db, who.Person.ID, device.WebPush)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(list, func(a device.Address) bool {
			return a.ID == got.ID && a.Address == got.Address && a.P256dh == got.P256dh && a.Auth == got.Auth && a.Label == got.Label
		}) {
			t.Fatalf("subscribe answered %+v; List has %+v", got, list)
		}
	})
}
