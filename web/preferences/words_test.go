package preferences_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/wordstest"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/preferences"
)

// Every text of the page speaks the reader's locale: with a catalog
// giving every key in German (wordstest's markers), the page with each of
// its parts shown (a critical row, a choice of one's own, the delivery
// row, a muted subject, a notice) and its refusals hold no English but
// the app's own data.
func TestEveryTextInTheReadersWords(t *testing.T) {
	ws := activity.MustDomain(activity.DomainConfig{Name: "wsticket", Tenant: activity.KeyText, Actions: []string{"commented", "breached"}})
	keys := preferences.Messages()
	for _, k := range []string{"tidings.channel.app", "tidings.channel.email", "tidings.domain.wsticket", "tidings.action.wsticket.commented", "tidings.action.wsticket.breached"} {
		keys[k] = ""
	}
	daily := inbox.BatchedOn(inbox.DailyAt(8, 0))
	people := map[string]web.Identity{
		"greta": {Person: activity.Ref{Type: "users", ID: "61"}, Tenant: "acme", Locale: wordstest.Locale},
		"nina":  {Locale: wordstest.Locale}, // nobody signed in
		"lone":  {Person: activity.Ref{Type: "users", ID: "62"}, Locale: wordstest.Locale},
	}
	p, err := preferences.New(preferences.Config{DB: db, Prefix: "/prefs", Domains: []*activity.Domain{ws}, Home: "/",
		Words:      web.Words{Catalog: wordstest.Catalog(t, keys)},
		Defaults:   &inbox.Defaults{Critical: []inbox.Kind{{Channel: inbox.AnyChannel, Domain: "wsticket", Action: "breached"}}},
		Channels:   []preferences.Channel{{Name: inbox.ChannelApp}, {Name: inbox.ChannelEmail}},
		Topics:     []preferences.Topic{{Domain: "wsticket", Action: "commented"}, {Domain: "wsticket", Action: "breached"}},
		Deliveries: []preferences.DeliveryOption{{Label: "Immediately", Choice: inbox.ImmediateChoice}, {Label: "Daily", Choice: daily}},
		Identity:   func(r *http.Request) (web.Identity, error) { return people[r.Header.Get("X-As")], nil }})
	if err != nil {
		t.Fatal(err)
	}
	do := func(who, method, path, ctype, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("X-As", who)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		return rec
	}
	for _, c := range []struct{ path, ctype, body string }{
		{"/prefs/api", "application/json", `{"domain":"wsticket","action":"commented","channel":"email","on":false}`},
		{"/prefs/api", "application/json", `{"domain":"wsticket","subject_id":"9","channel":"app","muted":true}`},
		{"/prefs/delivery", "application/x-www-form-urlencoded", url.Values{"delivery|app|wsticket": {daily.String()}}.Encode()},
	} {
		if rec := do("greta", "POST", c.path, c.ctype, c.body); rec.Code >= 400 {
			t.Fatalf("%s %s: %d %s", c.path, c.body, rec.Code, rec.Body.String())
		}
	}
	data := []string{"Immediately", "Daily", "#9"}
	for _, path := range []string{"/prefs/", "/prefs/?saved=1", "/prefs/?unsubscribed=" + url.QueryEscape("#9")} {
		rec := do("greta", "GET", path, "", "")
		body := rec.Body.String()
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", path, rec.Code, body)
		}
		for _, want := range []string{"⟦preferences.title⟧", "⟦preferences.always⟧", "⟦preferences.yours⟧", "⟦preferences.delivery⟧", "#9", "⟦preferences.back⟧"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page lacks %s (a part of it is not shown)", path, want)
			}
		}
		if left := wordstest.Untranslated(body, data...); len(left) > 0 {
			t.Errorf("%s: English left in a German page: %q", path, left)
		}
	}
	for who, want := range map[string]int{"nina": http.StatusUnauthorized, "lone": http.StatusForbidden} {
		rec := do(who, "GET", "/prefs/", "", "")
		if rec.Code != want || !strings.Contains(rec.Body.String(), "⟦preferences.refused.") {
			t.Errorf("%s refused: %d %q, want %d in the reader's words", who, rec.Code, rec.Body.String(), want)
		}
	}
}
