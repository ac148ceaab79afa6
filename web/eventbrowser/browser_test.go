package eventbrowser_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/web/eventbrowser"
	"github.com/tidingsdev/tidings/web/feedview"
)

var (
	db     *gorm.DB
	issues = activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added", "label_added"}})
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(issues)
	var err error
	if db, err = pgtest.Create(ctx, "tidings_test_eventbrowser", "CREATE TABLE issues (id bigserial PRIMARY KEY, title text NOT NULL)",
		"INSERT INTO issues (title) VALUES ('Login fails')", up); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

const payload = `<script>alert(1)</script>`

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Mounted under a prefix: the default refuses; filters work; a bad filter
// is a 400 saying what is allowed; a permalink shows the cause and what
// it caused, each linking to the other; markup is escaped.
func TestBrowser(t *testing.T) {
	ctx := context.Background()
	ana := activity.Ref{Type: "users", ID: "1", Label: "Ana " + payload}
	comment, err := issues.RecordEvent(ctx, db, 1, "comment_added", activity.Actor(ana), activity.Extra{"body": payload},
		activity.Meta(activity.Metadata{CorrelationID: "req-1", Source: "web", IP: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	reply, err := issues.RecordEvent(activity.WithCause(ctx, activity.CauseOf(comment.Event)), db, 1, "label_added",
		activity.Actor(activity.System("workflow")), activity.Extra{"name": "triage"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	closed, err := eventbrowser.New(eventbrowser.Config{DB: db, Domains: []*activity.Domain{issues}, Prefix: "/closed"})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/closed/", closed)
	b, err := eventbrowser.New(eventbrowser.Config{DB: db, Domains: []*activity.Domain{issues}, Prefix: "/admin/events",
		Authorize: func(r *http.Request) bool { return r.URL.Query().Get("deny") == "" },
		Feed: feedview.New(feedview.Config{Actions: map[string]feedview.Action{
			"label_added":   {Verb: "added the label", Object: feedview.ExtraString("name")},
			"comment_added": {Verb: "commented", Detail: feedview.ExtraString("body")},
		}}),
		Subjects: func(_ context.Context, _ string, keys []string) (map[string]eventbrowser.Subject, error) {
			return map[string]eventbrowser.Subject{"1": {Label: "Login fails", Href: "/issues/1"}}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/admin/events/", b)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	if code, _ := get(t, srv.URL+"/closed/"); code != http.StatusForbidden {
		t.Errorf("without Authorize: %d, want 403", code)
	}
	if code, _ := get(t, srv.URL+"/admin/events/?deny=1"); code != http.StatusForbidden {
		t.Errorf("refused by Authorize: %d, want 403", code)
	}
	code, body := get(t, srv.URL+"/admin/events/?action=label_added")
	if code != 200 || !strings.Contains(body, "added the label") || strings.Contains(body, "commented") {
		t.Fatalf("filtered list: %d\n%s", code, body)
	}
	code, body = get(t, srv.URL+"/admin/events/?correlation=req-1")
	if code != 200 || !strings.Contains(body, "commented") || strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
		t.Fatalf("correlation filter: %d, or the payload was not escaped\n%s", code, body)
	}
	for q, want := range map[string]string{
		"action=comment_adedd":               `did you mean`,
		"actor=ana":                          "is not type:id",
		"since=yesterday":                    "is not a time",
		"until=99999-01-01":                  "is not a time",
		"after=nonsense":                     "cursor",
		"subject=" + url.QueryEscape("\xff"): "valid text",
		"domain=invoice":                     "choose one of issue",
	} {
		code, body := get(t, srv.URL+"/admin/events/?"+q)
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("?%s: %d, want 400 saying %q\n%.400s", q, code, want, body)
		}
	}
	// The reply's permalink names its cause, which links back.
	replyURL := fmt.Sprintf("%s/admin/events/issue/%d", srv.URL, reply.Event.ID)
	commentPath := fmt.Sprintf("/admin/events/issue/%d", comment.Event.ID)
	code, body = get(t, replyURL)
	if code != 200 || !strings.Contains(body, `id="event-cause"`) || !strings.Contains(body, `href="`+commentPath+`"`) {
		t.Fatalf("reply permalink: %d, want its cause linked at %s\n%s", code, commentPath, body)
	}
	code, body = get(t, srv.URL+commentPath)
	replyPath := fmt.Sprintf("/admin/events/issue/%d", reply.Event.ID)
	if code != 200 || !strings.Contains(body, `href="`+replyPath+`"`) || !strings.Contains(body, "req-1") || !strings.Contains(body, "127.0.0.1") {
		t.Fatalf("comment permalink: %d, want what it caused linked at %s, its correlation and IP\n%s", code, replyPath, body)
	}
	if strings.Contains(body, "<script>") {
		t.Error("the permalink has an unescaped script")
	}
	for _, p := range []string{"/admin/events/issue/99999999999999999999", "/admin/events/issue/abc", "/admin/events/invoice/1", "/admin/events/issue/424242"} {
		if code, _ := get(t, srv.URL+p); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
}

// Tenant scoping: a Scope limits lists and permalinks to some subjects;
// another tenant's event is a 404, as if it did not exist.
func TestScope(t *testing.T) {
	ctx := context.Background()
	if err := db.Exec(`INSERT INTO issues (id, title) VALUES (2, 'Other tenant') ON CONFLICT DO NOTHING`).Error; err != nil {
		t.Fatal(err)
	}
	mine, err := issues.RecordEvent(ctx, db, 1, "label_added", activity.Actor(activity.System("test")), activity.Extra{"name": "mine"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := issues.RecordEvent(ctx, db, 2, "label_added", activity.Actor(activity.System("test")), activity.Extra{"name": "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := eventbrowser.New(eventbrowser.Config{DB: db, Domains: []*activity.Domain{issues},
		Authorize: func(*http.Request) bool { return true },
		Scope:     func(*http.Request, *activity.Domain) *gorm.DB { return db.Table("issues").Select("id").Where("id = 1") },
		Feed: feedview.New(feedview.Config{Actions: map[string]feedview.Action{
			"label_added": {Verb: "added the label", Object: feedview.ExtraString("name")}}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	code, body := get(t, srv.URL+"/?action=label_added")
	if code != 200 || !strings.Contains(body, "mine") || strings.Contains(body, "theirs") {
		t.Fatalf("scoped list: %d, want only issue 1's label\n%s", code, body)
	}
	// A scoped reader filtering by subject: their own subject's events,
	// another's none (not a 400).
	if code, body := get(t, srv.URL+"/?subject=1"); code != 200 || !strings.Contains(body, "mine") || strings.Contains(body, "theirs") {
		t.Errorf("scoped list of issue 1: %d, want its label\n%s", code, body)
	}
	if code, body := get(t, srv.URL+"/?subject=2"); code != 200 || strings.Contains(body, "theirs") {
		t.Errorf("scoped list of another tenant's issue 2: %d, want an empty page\n%s", code, body)
	}
	if code, _ := get(t, fmt.Sprintf("%s/issue/%d", srv.URL, theirs.Event.ID)); code != http.StatusNotFound {
		t.Errorf("another tenant's permalink: %d, want 404", code)
	}
	if code, _ := get(t, fmt.Sprintf("%s/issue/%d", srv.URL, mine.Event.ID)); code != http.StatusOK {
		t.Errorf("own permalink: %d, want 200", code)
	}
}

// A deleted subject's events stay browsable (activity.KeepHistory): the
// list and the permalink name it "deleted issue #N", without a link.
func TestDeletedSubject(t *testing.T) {
	ctx := context.Background()
	var id int64
	if err := db.Raw("INSERT INTO issues (id, title) VALUES (900001, 'Gone soon') RETURNING id").Scan(&id).Error; err != nil {
		t.Fatal(err)
	}
	res, err := issues.RecordEvent(ctx, db, id, "label_added", activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "Ana"}), activity.Extra{"name": "wontfix"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("DELETE FROM issues WHERE id = ?", id).Error; err != nil {
		t.Fatal(err)
	}
	b, err := eventbrowser.New(eventbrowser.Config{DB: db, Domains: []*activity.Domain{issues},
		Authorize: func(*http.Request) bool { return true },
		Subjects: func(ctx context.Context, _ string, keys []string) (map[string]eventbrowser.Subject, error) {
			var rows []struct {
				ID    string
				Title string
			}
			err := db.WithContext(ctx).Raw("SELECT id::text AS id, title FROM issues WHERE id::text IN ?", keys).Scan(&rows).Error
			out := map[string]eventbrowser.Subject{}
			for _, r := range rows {
				out[r.ID] = eventbrowser.Subject{Label: r.Title, Href: "/issues/" + r.ID}
			}
			return out, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	want := fmt.Sprintf("deleted issue #%d", id)
	code, body := get(t, fmt.Sprintf("%s/?subject=%d", srv.URL, id))
	if code != 200 || !strings.Contains(body, want) || !strings.Contains(body, "Ana") || strings.Contains(body, fmt.Sprintf(`href="/issues/%d"`, id)) {
		t.Fatalf("list of the deleted issue's events: %d, want %q with the actor's snapshot and no link\n%s", code, want, body)
	}
	code, body = get(t, fmt.Sprintf("%s/issue/%d", srv.URL, res.Event.ID))
	if code != 200 || !strings.Contains(body, want) {
		t.Fatalf("permalink: %d, want %q\n%s", code, want, body)
	}
}

// A former action name (an alias) in the action filter lists the events
// of the action it became; it used to reach a nil error.
func TestActionAliasFilter(t *testing.T) {
	renamed := activity.MustDomain(activity.DomainConfig{Name: "aliasissue", Subject: activity.Subject{Table: "issues"},
		Actions: []string{"comment_added"}, Aliases: map[string]string{"commented": "comment_added"}})
	up, _ := activity.MigrationSQL(renamed)
	if err := db.Exec(`DROP TABLE IF EXISTS aliasissue_events CASCADE`).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(up).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := renamed.RecordEvent(context.Background(), db, 1, "comment_added", activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "Ana"})); err != nil {
		t.Fatal(err)
	}
	b, err := eventbrowser.New(eventbrowser.Config{DB: db, Domains: []*activity.Domain{renamed}, Authorize: func(*http.Request) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, httptest.NewRequest("GET", "/?action=commented", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Ana") {
		t.Errorf("action=commented (an alias): %d, want 200 listing Ana's comment\n%s", rec.Code, rec.Body)
	}
}
