package notifycenter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/notify"
	tweb "github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

// The center asks the app's tweb.Identity: its Person's ID is the
// recipient and its Tenant the tenant read; nobody signed in is refused.
func TestIdentity(t *testing.T) {
	const who = "identity-41"
	n, err := notify.New(notify.Config{Name: "notify-center-identity", Accepts: inbox.Everything,
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{who}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	for i, tn := range []string{"ia", "ib"} {
		ev := activity.Event{ID: 9_300_000 + int64(i), Domain: "issue", SubjectID: "1", Action: "comment_added", TenantID: tn,
			ActorType: "users", ActorID: "1", ActorLabel: "user 1", Extra: []byte("{}"), OccurredAt: time.Now()}
		if err := inboxtest.Process(t, db, n, ev); err != nil {
			t.Fatal(err)
		}
	}
	people := map[string]tweb.Identity{
		"a": {Person: activity.Ref{Type: "users", ID: who}, Tenant: "ia"},
		"b": {Person: activity.Ref{Type: "users", ID: who}, Tenant: "ib"},
	}
	c, err := notifycenter.New(notifycenter.Config{DB: db, Redis: newRedis(t), ChannelPrefix: channels, Prefix: "/n",
		Identity: func(r *http.Request) (tweb.Identity, error) { return people[r.Header.Get("X-As")], nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	get := func(as string) (int, string) {
		req := httptest.NewRequest("GET", "/n/", nil)
		req.Header.Set("X-As", as)
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Errorf("nobody: %d, want 401", code)
	}
	for as, ev := range map[string]string{"a": "9300000", "b": "9300001"} {
		code, body := get(as)
		other := map[string]string{"a": "9300001", "b": "9300000"}[as]
		if code != 200 || !strings.Contains(body, ev) || strings.Contains(body, other) {
			t.Errorf("%s: %d, want its tenant's notification (event %s) only:\n%s", as, code, ev, body)
		}
	}
}
