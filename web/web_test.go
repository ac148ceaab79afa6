package web_test

import (
	"errors"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/locale"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/feedview"
)

func TestIdentifyRefusesWithoutIdentity(t *testing.T) {
	_, err := web.Identify(httptest.NewRequest("GET", "/", nil), nil)
	if !errors.Is(err, web.ErrNoIdentity) {
		t.Fatalf("Identify without identity or func: %v, want ErrNoIdentity", err)
	}
	boom := errors.New("session store down")
	_, err = web.Identify(httptest.NewRequest("GET", "/", nil), func(*http.Request) (web.Identity, error) { return web.Identity{}, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Identify: %v, want the lookup's error", err)
	}
}

func TestMiddlewareLooksUpOnce(t *testing.T) {
	calls := 0
	fn := func(*http.Request) (web.Identity, error) {
		calls++
		return web.Identity{Person: activity.Ref{Type: "users", ID: "3"}}, nil
	}
	var got []string
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 3 { // three mounted parts asking
			id, err := web.Identify(r, fn)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, id.Recipient())
		}
	})
	h := web.Middleware(fn, nil)(web.Middleware(fn, nil)(inner)) // mounted twice: still one lookup
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if calls != 1 || strings.Join(got, ",") != "3,3,3" {
		t.Fatalf("lookups = %d, recipients %v; want 1 lookup", calls, got)
	}
}

func TestMiddlewareFailsClosed(t *testing.T) {
	h := web.Middleware(func(*http.Request) (web.Identity, error) { return web.Identity{}, errors.New("down") }, nil)(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Fatal("the page ran without an identity") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
}

func TestRenderKeepsStatusAndScope(t *testing.T) {
	layout := func(w http.ResponseWriter, r *http.Request, p web.Page) {
		w.WriteHeader(http.StatusOK) // a layout that insists on 200
		w.Write([]byte("<main>" + string(p.Body) + "</main>"))
	}
	rec := httptest.NewRecorder()
	web.Theme{Layout: layout}.Render(rec, httptest.NewRequest("GET", "/", nil), web.Page{Body: template.HTML("<p>bad</p>"), Status: http.StatusBadRequest})
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want the page's 400", rec.Code)
	}
	if !strings.Contains(rec.Body.String(), `<main><div class="tidings">`) {
		t.Fatalf("body %q: want the page scoped in .tidings inside the app's layout", rec.Body.String())
	}
	rec = httptest.NewRecorder()
	web.Theme{}.Render(rec, httptest.NewRequest("GET", "/", nil), web.Page{Title: "T<", Head: web.Theme{}.Head("/p")})
	if b := rec.Body.String(); !strings.Contains(b, "<title>T&lt;</title>") || !strings.Contains(b, `href="/p/tidings.css"`) {
		t.Fatalf("default layout: %s", b)
	}
	if (web.Theme{NoDefaultStyle: true}).Head("/p") != "" {
		t.Fatal("NoDefaultStyle still links the default stylesheet")
	}
}

func TestServeStylesheet(t *testing.T) {
	rec := httptest.NewRecorder()
	web.ServeStylesheet(rec, httptest.NewRequest("GET", "/tidings.css", nil))
	if rec.Header().Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(rec.Body.String(), ".tidings button") {
		t.Fatalf("stylesheet: %s %q", rec.Header().Get("Content-Type"), rec.Body.String()[:80])
	}
}

// Every mounted page refuses the same prefixes: without a leading slash or
// with a trailing one.
func TestBadPrefix(t *testing.T) {
	for prefix, bad := range map[string]bool{"": false, "/rules": false, "/admin/events": false, "rules": true, "/rules/": true, "/": true} {
		if got := web.BadPrefix(prefix); got != bad {
			t.Errorf("BadPrefix(%q) = %v, want %v", prefix, got, bad)
		}
	}
}

// Words.Ago says in English what feedview.Ago says, at each of its
// steps, and a catalog's words where it has them.
func TestWordsAgoAndStamp(t *testing.T) {
	now := time.Date(2030, 5, 10, 12, 0, 0, 0, time.UTC)
	var w web.Words
	for _, d := range []time.Duration{10 * time.Second, 5 * time.Minute, 3 * time.Hour, 30 * time.Hour, 5 * 24 * time.Hour, 90 * 24 * time.Hour} {
		if got, want := w.Ago("", now, now.Add(-d)), feedview.Ago(now, now.Add(-d)); got != want {
			t.Errorf("%v ago: %q, want feedview's %q", d, got, want)
		}
	}
	if got := w.Stamp("", now); got != "10 May 2030 12:00:00 UTC" {
		t.Errorf("stamp: %q", got)
	}
	cat, err := locale.New("en", "de")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"tidings.ago.minutes": "vor %d Min.", "tidings.stamp": "02.01.2006 15:04:05 UTC"} {
		if err := cat.Set("de", k, v); err != nil {
			t.Fatal(err)
		}
	}
	w = web.Words{Catalog: cat}
	if got := w.Ago("de", now, now.Add(-5*time.Minute)); got != "vor 5 Min." {
		t.Errorf("German minutes: %q", got)
	}
	if got := w.Stamp("de", now); got != "10.05.2030 12:00:00 UTC" {
		t.Errorf("German stamp: %q", got)
	}
	if got := w.Ago("en", now, now.Add(-5*time.Minute)); got != "5 min ago" {
		t.Errorf("English minutes with a catalog: %q", got)
	}
}
