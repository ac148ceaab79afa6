package privacy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/privacy"
)

type exportLine struct {
	privacy.Line
	Event *struct {
		ID     int64  `json:"id"`
		Domain string `json:"domain"`
	} `json:"event"`
}

func readExport(t *testing.T, r io.Reader) []exportLine {
	t.Helper()
	var out []exportLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l exportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// seedCleo records Cleo's events in every role: 40 as actor (more than a
// few batches of 7), 3 as record, 2 as subject by Dan, one as both actor
// and subject, and 2 she was only notified of.
func seedCleo(t *testing.T) (cleo, dan someone, issueID int64) {
	t.Helper()
	// Names unique per test: tests share the database.
	n := strings.ToLower(strings.TrimPrefix(t.Name(), "Test"))
	cleo = newUser(t, someone{name: "Cleo " + n, email: "cleo." + n + "@example.org", ip: "192.0.2.10", ua: "CleoBrowser/2 " + n})
	dan = newUser(t, someone{name: "Dan " + n, email: "dan." + n + "@example.org", ip: "192.0.2.11", ua: "DanBrowser/3 " + n})
	if err := testDB.Raw(`INSERT INTO issues (title) VALUES ('Export me') RETURNING id`).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	app, err := notify.New(notify.Config{Name: "export-app", RecipientType: "users",
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{cleo.key()}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(ctx context.Context, d *activity.Domain, subject int64, action string, opts ...activity.Option) {
		t.Helper()
		res, err := d.RecordEvent(ctx, testDB, subject, action, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := inboxtest.Process(t, testDB, app, res.Event); err != nil {
			t.Fatal(err)
		}
	}
	for range 40 {
		rec(cleo.ctx(cleo.name), issues, issueID, "comment_added")
	}
	for range 3 {
		rec(dan.ctx(dan.name), issues, issueID, "assigned", activity.Record(cleo.ref()))
	}
	rec(dan.ctx(dan.name), users, cleo.id, "profile_viewed")
	rec(dan.ctx(dan.name), users, cleo.id, "profile_viewed")
	rec(cleo.ctx(cleo.name), users, cleo.id, "signed_in")
	rec(dan.ctx(dan.name), issues, issueID, "comment_added")
	rec(dan.ctx(dan.name), issues, issueID, "invited")
	if err := inbox.Mute(context.Background(), testDB, cleo.key(), inbox.ChannelEmail, "issue", "comment_added"); err != nil {
		t.Fatal(err)
	}
	// Her delivery choice: Slack news of issues batched daily at 08:00.
	if err := (&inbox.Defaults{}).SetChoice(context.Background(), testDB, cleo.key(), inbox.ChannelSlack, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.DailyAt(8, 0))); err != nil {
		t.Fatal(err)
	}
	return cleo, dan, issueID
}

// An export holds every event Cleo takes part in, once each, with her
// role, then her notifications and preferences and the app's part, framed
// by a person line and an end line; nobody else's events.
func TestExportEveryRoleOnce(t *testing.T) {
	ctx := context.Background()
	cleo, _, _ := seedCleo(t)
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart}, Batch: 7})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := px.Export(ctx, testDB, cleo.person(), &buf); err != nil {
		t.Fatal(err)
	}
	lines := readExport(t, &buf)
	if len(lines) < 2 || lines[0].Type != privacy.LinePerson || lines[0].Person.ID != cleo.key() || lines[len(lines)-1].Type != privacy.LineEnd {
		t.Fatalf("export not framed by a person line and an end line: first %+v, last %+v", lines[0], lines[len(lines)-1])
	}
	roles := map[string]int{}
	types := map[string]int{}
	seen := map[string]bool{}
	for _, l := range lines {
		types[l.Type]++
		if l.Type != privacy.LineEvent {
			continue
		}
		key := l.Event.Domain + ":" + jsonInt(l.Event.ID)
		if seen[key] {
			t.Errorf("event %s %d exported twice", l.Event.Domain, l.Event.ID)
		}
		seen[key] = true
		roles[l.Role]++
	}
	want := map[string]int{activity.RoleActor: 41, activity.RoleRecord: 3, activity.RoleSubject: 2, activity.RoleRecipient: 2}
	for r, n := range want {
		if roles[r] != n {
			t.Errorf("%d events as %s, want %d (all roles: %v)", roles[r], r, n, roles)
		}
	}
	// Cleo is told of Dan's 7 events (not of her own acts).
	if types[privacy.LineNotification] != 7 || types[privacy.LinePreference] != 1 || types[privacy.LineDelivery] != 1 || types[privacy.LinePart] != 1 {
		t.Errorf("line types %v; want 7 notifications, 1 preference, 1 delivery choice, 1 part", types)
	}
	for _, l := range lines {
		if l.Type == privacy.LineDelivery && (l.Delivery == nil || l.Delivery.Recipient != cleo.key() || l.Delivery.Channel != inbox.ChannelSlack || l.Delivery.Delivery != "daily@08:00") {
			t.Errorf("delivery line %+v; want Cleo's daily@08:00 on Slack", l.Delivery)
		}
	}
	if lines[len(lines)-1].Counts[privacy.LineEvent] != 48 {
		t.Errorf("end line counts %v; want 48 events", lines[len(lines)-1].Counts)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// The handler downloads the export for whom Authorize allows, refuses the
// others (403), refuses erasure unless enabled (405), and erases when it is.
func TestHandlerAuthorizes(t *testing.T) {
	cleo, dan, _ := seedCleo(t)
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart}})
	if err != nil {
		t.Fatal(err)
	}
	authorize := func(r *http.Request, action string) (activity.Person, string, error) {
		if r.Header.Get("X-User") != cleo.key() {
			return activity.Person{}, "", privacy.ErrForbidden
		}
		return cleo.person(), "users:" + cleo.key(), nil
	}
	exportOnly, err := privacy.NewHandler(privacy.HandlerConfig{Privacy: px, DB: testDB, Authorize: authorize})
	if err != nil {
		t.Fatal(err)
	}
	withErase, err := privacy.NewHandler(privacy.HandlerConfig{Privacy: px, DB: testDB, Authorize: authorize, AllowErase: true})
	if err != nil {
		t.Fatal(err)
	}
	do := func(h http.Handler, method, user string) *http.Response {
		srv := httptest.NewServer(h)
		defer srv.Close()
		req, _ := http.NewRequest(method, srv.URL+"/me/data", nil)
		if user != "" {
			req.Header.Set("X-User", user)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp
	}
	resp := do(exportOnly, http.MethodGet, cleo.key())
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("GET: %d %v", resp.StatusCode, resp.Header)
	}
	if lines := readExport(t, resp.Body); lines[len(lines)-1].Type != privacy.LineEnd || lines[0].Person.ID != cleo.key() {
		t.Fatalf("GET: export of %+v, ending %+v", lines[0].Person, lines[len(lines)-1])
	}
	if resp := do(exportOnly, http.MethodGet, dan.key()); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET as Dan: %d, want 403", resp.StatusCode)
	}
	if resp := do(exportOnly, http.MethodPost, cleo.key()); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST without AllowErase: %d, want 405", resp.StatusCode)
	}
	if resp := do(withErase, http.MethodPost, dan.key()); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST as Dan: %d, want 403", resp.StatusCode)
	}
	if resp := do(withErase, http.MethodPost, cleo.key()); resp.StatusCode != 200 {
		t.Fatalf("POST as Cleo: %d, want 200", resp.StatusCode)
	}
	recs, err := privacy.Erasures(context.Background(), testDB, cleo.ref())
	if err != nil || len(recs) != 1 || recs[0].RequestedBy != "users:"+cleo.key() {
		t.Fatalf("erasures %+v, %v; want one requested by Cleo", recs, err)
	}
	if h := hits(t, []string{cleo.name, cleo.email, cleo.ua}); len(h) != 0 {
		t.Fatalf("Cleo's data survived the erasure: %v", h)
	}
}

// Bad input is refused before any write, with a typed error.
func TestRefusesBadInput(t *testing.T) {
	if _, err := privacy.New(privacy.Config{}); !errors.Is(err, privacy.ErrInvalidConfig) {
		t.Errorf("no domains: %v", err)
	}
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, p := range []activity.Person{
		{Type: "users"},
		{Type: "users\"; DROP TABLE users; --", ID: "1"},
		{Type: "users", ID: "1", Values: []string{"Al"}},
		{Type: "users", ID: "1", Values: []string{"nul\x00byte"}},
		{Type: "users", ID: "1", Values: []string{"\xff\xfe bad"}},
	} {
		if _, err := px.Erase(ctx, testDB, p, privacy.Request{By: "test"}); !errors.Is(err, activity.ErrInvalidRef) && !errors.Is(err, activity.ErrInvalidPerson) {
			t.Errorf("Erase(%+q): %v; want ErrInvalidRef or ErrInvalidPerson", p, err)
		}
	}
	for _, req := range []privacy.Request{{}, {By: "  "}, {By: "a\x00b"}, {By: "ok", Reason: "\xff"}, {By: strings.Repeat("x", 5000)}} {
		if _, err := px.Erase(ctx, testDB, activity.Person{Type: "users", ID: "1"}, req); !errors.Is(err, privacy.ErrInvalidRequest) {
			t.Errorf("Erase with %+q: %v; want ErrInvalidRequest", req, err)
		}
	}
	for _, paths := range [][]string{{""}, {"a..b"}, {"a b"}, {"email", "email"}, {"x'); DROP TABLE users; --"}} {
		_, err := activity.NewDomain(activity.DomainConfig{Name: "issue", Actions: []string{"a"}, PersonalPaths: paths})
		if !errors.Is(err, activity.ErrInvalidDomain) {
			t.Errorf("PersonalPaths %q: %v; want ErrInvalidDomain", paths, err)
		}
	}
}
