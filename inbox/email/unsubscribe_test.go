package email_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
)

var (
	secret    = []byte("0123456789abcdef0123456789abcdef-current")
	oldSecret = []byte("0123456789abcdef0123456789abcdef-retired")
)

// unsubscribeServer serves an UnsubscribeHandler over real HTTP on
// loopback (http is allowed there).
func unsubscribeServer(t *testing.T, cfg email.UnsubscribeConfig) (*email.UnsubscribeHandler, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL + "/mail/unsubscribe"
	cfg.DB = testDB
	if cfg.Secrets == nil {
		cfg.Secrets = [][]byte{secret}
	}
	cfg.Logger = testLogger()
	h, err := email.NewUnsubscribeHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/mail/unsubscribe", h)
	return h, srv
}

func unsubscribeBuilder(t *testing.T, h *email.UnsubscribeHandler) *email.Builder {
	t.Helper()
	b, err := email.NewBuilder(email.BuilderConfig{From: "Tidings <notify@example.com>", Templates: templates(t), Unsubscribe: h.UnsubscribeURL})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func preferences(t *testing.T, r email.Recipient) []inbox.Preference {
	t.Helper()
	ps, err := inbox.Preferences(context.Background(), testDB, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func httpDo(t *testing.T, method, link, contentType string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, link, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func oneClick(t *testing.T, link string) (int, string) {
	return httpDo(t, http.MethodPost, link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
}

// The mail's List-Unsubscribe link: a GET shows a page and changes
// nothing; a forged or incomplete POST changes nothing; the one-click POST
// mutes the action, and the next such event is not mailed.
func TestUnsubscribeOneClick(t *testing.T) {
	h, _ := unsubscribeServer(t, email.UnsubscribeConfig{})
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob := person("Ana"), person("Bob")
	in := newInbox(t, srv, email.InboxConfig{Builder: unsubscribeBuilder(t, h), Recipients: fixed(bob)})
	mustDeliver(t, in, newEvent("42", "comment_added", ana, nil))
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	if got := msgs[0].Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Fatalf("List-Unsubscribe-Post %q", got)
	}
	link := strings.TrimSuffix(strings.TrimPrefix(msgs[0].Header.Get("List-Unsubscribe"), "<"), ">")
	if !strings.HasPrefix(link, "http://127.0.0.1:") {
		t.Fatalf("List-Unsubscribe %q", link)
	}

	// A link scanner's GET (and HEAD) changes nothing.
	status, page := httpDo(t, http.MethodGet, link, "", nil)
	if status != http.StatusOK || !strings.Contains(page, `<form method="post"`) || !strings.Contains(page, "comment added on issue") ||
		!strings.Contains(page, `name="List-Unsubscribe" value="One-Click"`) {
		t.Fatalf("GET: %d\n%s", status, page)
	}
	if status, _ := httpDo(t, http.MethodHead, link, "", nil); status != http.StatusOK {
		t.Fatalf("HEAD: %d", status)
	}
	if ps := preferences(t, bob); len(ps) != 0 {
		t.Fatalf("GET changed preferences: %+v", ps)
	}

	// Forged: another recipient under bob's signature.
	u, _ := url.Parse(link)
	q := u.Query()
	q.Set("r", ana.ID)
	u.RawQuery = q.Encode()
	if status, page := oneClick(t, u.String()); status != http.StatusForbidden || !strings.Contains(page, "does not work") {
		t.Fatalf("forged POST: %d\n%s", status, page)
	}
	// A POST without the one-click body.
	if status, _ := httpDo(t, http.MethodPost, link, "application/x-www-form-urlencoded", strings.NewReader("x=1")); status != http.StatusBadRequest {
		t.Fatalf("POST without List-Unsubscribe=One-Click: %d", status)
	}
	if status, _ := httpDo(t, http.MethodPut, link, "", nil); status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", status)
	}
	if ps := preferences(t, bob); len(ps) != 0 || len(preferences(t, ana)) != 0 {
		t.Fatalf("refused requests changed preferences: %+v", ps)
	}

	// The one-click POST, as a mail client sends it; twice is harmless.
	for range 2 {
		if status, page := oneClick(t, link); status != http.StatusOK || !strings.Contains(page, "Unsubscribed") {
			t.Fatalf("one-click POST: %d\n%s", status, page)
		}
	}
	want := inbox.Preference{Recipient: bob.ID, Channel: inbox.ChannelEmail, Domain: "issue", Action: "comment_added", Muted: true}
	if ps := preferences(t, bob); len(ps) != 1 || ps[0] != want {
		t.Fatalf("preferences %+v, want %+v", ps, want)
	}
	mustDeliver(t, in, newEvent("42", "comment_added", ana, nil))
	mustDeliver(t, in, newEvent("42", "label_added", ana, nil)) // another action: still mailed
	if msgs, err := srv.WaitFor(2, wait); err != nil || srv.Transactions() != 2 || msgs[1].Subject != "Ana: label added on issue 42" {
		t.Fatalf("after unsubscribing: %d transactions, %v", srv.Transactions(), err)
	}
}

// Some clients post multipart/form-data; the confirmation page's button
// posts the form. Both work.
func TestUnsubscribeMultipartPost(t *testing.T) {
	h, _ := unsubscribeServer(t, email.UnsubscribeConfig{})
	bob := person("Bob")
	link, err := h.URL(email.Unsubscription{Recipient: bob.ID, Channel: inbox.ChannelEmail, Domains: []string{"issue"}, Action: "label_added"})
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("List-Unsubscribe", "One-Click")
	_ = mw.Close()
	if status, _ := httpDo(t, http.MethodPost, link, mw.FormDataContentType(), &body); status != http.StatusOK {
		t.Fatalf("multipart POST: %d", status)
	}
	if ps := preferences(t, bob); len(ps) != 1 || ps[0].Action != "label_added" || !ps[0].Muted {
		t.Fatalf("preferences %+v", ps)
	}
}

// Per-subject links mute one subject; the page shows its id as text.
func TestUnsubscribeSubject(t *testing.T) {
	h, _ := unsubscribeServer(t, email.UnsubscribeConfig{Scope: email.ScopeSubject})
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob := person("Ana"), person("Bob")
	in := newInbox(t, srv, email.InboxConfig{Builder: unsubscribeBuilder(t, h), Recipients: fixed(bob)})

	ev := newEvent(`<script>x</script>`, "comment_added", ana, nil)
	link, err := h.UnsubscribeURL(context.Background(), bob, &ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, page := httpDo(t, http.MethodGet, link, "", nil); strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") {
		t.Fatalf("the page does not escape the subject:\n%s", page)
	}

	mustDeliver(t, in, newEvent("42", "comment_added", ana, nil))
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	link = strings.Trim(msgs[0].Header.Get("List-Unsubscribe"), "<>")
	if status, page := oneClick(t, link); status != http.StatusOK || !strings.Contains(page, "issue 42") {
		t.Fatalf("POST: %d\n%s", status, page)
	}
	mustDeliver(t, in, newEvent("42", "label_added", ana, nil)) // issue 42: muted
	mustDeliver(t, in, newEvent("43", "comment_added", ana, nil))
	if msgs, err := srv.WaitFor(2, wait); err != nil || srv.Transactions() != 2 || msgs[1].Subject != "Ana commented on issue 43" {
		t.Fatalf("after muting issue 42: %d transactions, %v", srv.Transactions(), err)
	}
}

// A digest's link mutes every action of DigestDomains; without them
// digests carry no link.
func TestUnsubscribeDigest(t *testing.T) {
	h, _ := unsubscribeServer(t, email.UnsubscribeConfig{DigestDomains: []string{"issue", "project"}})
	bob := person("Bob")
	link, err := h.UnsubscribeURL(context.Background(), bob, nil)
	if err != nil || link == "" {
		t.Fatalf("digest link %q, %v", link, err)
	}
	if _, page := httpDo(t, http.MethodGet, link, "", nil); !strings.Contains(page, "every issue and project mail") {
		t.Fatalf("page:\n%s", page)
	}
	if status, _ := oneClick(t, link); status != http.StatusOK {
		t.Fatalf("POST: %d", status)
	}
	ps := preferences(t, bob)
	if len(ps) != 2 || ps[0].Domain != "issue" || ps[1].Domain != "project" || ps[0].Action != inbox.AnyAction || !ps[0].Muted {
		t.Fatalf("preferences %+v", ps)
	}

	h2, _ := unsubscribeServer(t, email.UnsubscribeConfig{})
	if link, err := h2.UnsubscribeURL(context.Background(), bob, nil); link != "" || err != nil {
		t.Fatalf("digest link without DigestDomains: %q, %v", link, err)
	}
}

// A retired key still verifies the links it signed while it listed
// second; a link signed by a key no longer listed does not.
func TestUnsubscribeKeyRotation(t *testing.T) {
	old, _ := unsubscribeServer(t, email.UnsubscribeConfig{Secrets: [][]byte{oldSecret}})
	bob := person("Bob")
	u := email.Unsubscription{Recipient: bob.ID, Channel: inbox.ChannelEmail, Domains: []string{"issue"}, Action: "comment_added"}
	oldLink, err := old.URL(u)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := url.Parse(oldLink)

	rotated, _ := unsubscribeServer(t, email.UnsubscribeConfig{Secrets: [][]byte{secret, oldSecret}})
	if got, err := rotated.Verify(q.Query()); err != nil || got.Recipient != bob.ID {
		t.Fatalf("old link after rotation: %+v, %v", got, err)
	}
	fresh, _ := unsubscribeServer(t, email.UnsubscribeConfig{Secrets: [][]byte{secret}})
	if _, err := fresh.Verify(q.Query()); !errors.Is(err, email.ErrInvalidLink) {
		t.Fatalf("old link after the key was dropped: %v", err)
	}
	// Changing any field breaks the signature.
	for field, value := range map[string]string{"c": inbox.ChannelApp, "d": "project", "a": inbox.AnyAction, "t": "AAAA"} {
		v := q.Query()
		v.Set(field, value)
		if _, err := rotated.Verify(v); !errors.Is(err, email.ErrInvalidLink) {
			t.Errorf("link with %s=%s verified: %v", field, value, err)
		}
	}
}

func TestNewUnsubscribeHandlerChecksConfig(t *testing.T) {
	for name, cfg := range map[string]email.UnsubscribeConfig{
		"no db":        {BaseURL: "https://app.example.com/u", Secrets: [][]byte{secret}},
		"plain http":   {BaseURL: "http://app.example.com/u", Secrets: [][]byte{secret}, DB: testDB},
		"query":        {BaseURL: "https://app.example.com/u?x=1", Secrets: [][]byte{secret}, DB: testDB},
		"no secret":    {BaseURL: "https://app.example.com/u", DB: testDB},
		"short secret": {BaseURL: "https://app.example.com/u", Secrets: [][]byte{[]byte("short")}, DB: testDB},
		"bad scope":    {BaseURL: "https://app.example.com/u", Secrets: [][]byte{secret}, DB: testDB, Scope: 9},
	} {
		if _, err := email.NewUnsubscribeHandler(cfg); !errors.Is(err, email.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	h, err := email.NewUnsubscribeHandler(email.UnsubscribeConfig{BaseURL: "https://app.example.com/u", Secrets: [][]byte{secret}, DB: testDB})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.UnsubscribeURL(context.Background(), email.Recipient{Email: "x@example.com"}, &activity.Event{Domain: "issue", Action: "a"}); !errors.Is(err, email.ErrInvalidRecipient) {
		t.Errorf("link for a recipient without ID: %v", err)
	}
}

// With a preference page, the confirmation button lands there (303, saying
// what was left), while a mail client's one-click POST still gets 200.
func TestUnsubscribeLandsOnPreferences(t *testing.T) {
	h, _ := unsubscribeServer(t, email.UnsubscribeConfig{PreferencesURL: "/settings/notifications/"})
	link, err := h.URL(email.Unsubscription{Recipient: "cy", Channel: inbox.ChannelEmail, Domains: []string{"issue"}, Action: "comment_added"})
	if err != nil {
		t.Fatal(err)
	}
	if status, page := httpDo(t, http.MethodGet, link, "", nil); status != http.StatusOK || !strings.Contains(page, `name="landing" value="preferences"`) ||
		!strings.Contains(page, `href="/settings/notifications/"`) {
		t.Fatalf("GET: %d\n%s", status, page)
	}
	req, _ := http.NewRequest(http.MethodPost, link, strings.NewReader("List-Unsubscribe=One-Click&landing=preferences"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/settings/notifications/?unsubscribed=comment+added") {
		t.Fatalf("the button: %d to %q, want 303 to the preference page", res.StatusCode, loc)
	}
	if ps := preferences(t, email.Recipient{ID: "cy"}); len(ps) != 1 || !ps[0].Muted {
		t.Fatalf("preferences %+v, want comment mail muted", ps)
	}
	if status, _ := oneClick(t, link); status != http.StatusOK {
		t.Fatalf("a mail client's one-click POST: %d, want 200", status)
	}
}
