package notifycenter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

// Channels are per (tenant, recipient), untenanted ones as before tenants,
// and no ':' in a tenant or recipient makes two streams share one.
func TestChannelPerTenant(t *testing.T) {
	ann, err := notifycenter.NewAnnouncer(newRedis(t), "p:")
	if err != nil {
		t.Fatal(err)
	}
	if got := ann.Channel("", "8"); got != "p:8" {
		t.Errorf("untenanted channel %q, want p:8", got)
	}
	seen := map[string][2]string{}
	for _, pair := range [][2]string{
		{"", "8"}, {"", "users:8"}, {"users", "8"}, {"a:b", "8"}, {"a", "b:8"}, {"a", "8"}, {"b", "8"},
		{"a:", "8"}, {"a", ":8"}, {"", "a:8"}, {"1", "8"}, {"18", ""},
	} {
		ch := ann.Channel(pair[0], pair[1])
		if other, ok := seen[ch]; ok {
			t.Errorf("tenant %q recipient %q and tenant %q recipient %q share channel %q", pair[0], pair[1], other[0], other[1], ch)
		}
		seen[ch] = pair
	}
}

// The same recipient key in two tenants has two streams: B's arrivals and
// changes are published on B's channel only, never wake A's stream nor
// number it (A's first notification is Seq 1, its head A's own), and a
// stream is woken by its own tenant's arrivals. The Redis messages are
// watched on a subscription of the test's own, in publishing order.
func TestStreamPerTenant(t *testing.T) {
	const who = "tenant-stream-8"
	ann, err := notifycenter.NewAnnouncer(newRedis(t), channels)
	if err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(notify.Config{Name: "notify-center-tenants", Accepts: inbox.Everything, Announcer: ann,
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{who}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	c, err := notifycenter.New(notifycenter.Config{DB: db, Redis: newRedis(t), ChannelPrefix: channels, Recipient: byHeader})
	if err != nil {
		t.Fatal(err)
	}
	// The app's middleware: the tenant of the signed-in person.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tn := r.Header.Get("X-Tenant"); tn != "" {
			r = r.WithContext(activity.WithTenant(r.Context(), tn))
		}
		c.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { c.Close(); srv.Close() })

	watch := newRedis(t).Subscribe(context.Background(), ann.Channel("ta", who), ann.Channel("tb", who), ann.Channel("", who))
	t.Cleanup(func() { watch.Close() })
	for range 3 {
		if _, err := watch.ReceiveTimeout(context.Background(), 10*time.Second); err != nil {
			t.Fatal("the test's subscription:", err)
		}
	}
	heard := func(want string) {
		t.Helper()
		msg, err := watch.ReceiveTimeout(context.Background(), 10*time.Second)
		if err != nil {
			t.Fatalf("waiting for %s on Redis: %v", want, err)
		}
		m, ok := msg.(*redis.Message)
		if !ok {
			t.Fatalf("waiting for %s on Redis: got %T", want, msg)
		}
		got := "?"
		for _, tn := range []string{"ta", "tb", ""} {
			if m.Channel == ann.Channel(tn, who) {
				got = tn
			}
		}
		if got+"/"+m.Payload != want {
			t.Fatalf("Redis message %q on the channel of tenant %q, want %s (tenant/payload)", m.Payload, got, want)
		}
	}

	open := func(tn string) *stream {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/stream", nil)
		req.Header.Set("X-User", who)
		req.Header.Set("X-Tenant", tn)
		s := readStream(t, req, cancel)
		if ev := s.next(t, "the opening counts of "+tn); ev.Name != "counts" || ev.ID != "0" {
			t.Fatalf("tenant %s's stream opened with %+v, want counts at head 0", tn, ev)
		}
		return s
	}
	a, b := open("ta"), open("tb")
	deliver := func(tn string, id int64) {
		t.Helper()
		ev := activity.Event{ID: 9_200_000 + id, Domain: "issue", SubjectID: "1", Action: "comment_added", TenantID: tn,
			ActorType: "users", ActorID: "1", ActorLabel: "user 1", Extra: []byte("{}"), OccurredAt: time.Now()}
		if err := inboxtest.Process(t, db, n, ev); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(s *stream, tn, name, id string) {
		t.Helper()
		ev := s.next(t, tn+"'s "+name+" "+id)
		if ev.Name != name || ev.ID != id {
			t.Fatalf("tenant %s's stream sent %+v, want %s %s", tn, ev, name, id)
		}
	}
	// B's person gets two.
	deliver("tb", 1)
	heard("tb/1")
	expect(b, "tb", "notification", "1")
	expect(b, "tb", "counts", "1")
	deliver("tb", 2)
	heard("tb/2")
	expect(b, "tb", "notification", "2")
	expect(b, "tb", "counts", "2")
	// A's person gets one: A's first, numbered 1, the first A's stream
	// sends since it opened.
	deliver("ta", 3)
	heard("ta/1")
	expect(a, "ta", "notification", "1")
	expect(a, "ta", "counts", "1")
	// A's change is announced on A's channel, B's on B's.
	for _, tn := range []string{"ta", "tb"} {
		req, _ := http.NewRequest("POST", srv.URL+"/read-all", nil)
		req.Header.Set("X-User", who)
		req.Header.Set("X-Tenant", tn)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		heard(tn + "/")
	}
	expect(a, "ta", "counts", "1")
	expect(b, "tb", "counts", "2")
	// Nothing else was published on these channels: the next message is
	// one the test publishes last.
	if err := newRedis(t).Publish(context.Background(), ann.Channel("", who), "end").Err(); err != nil {
		t.Fatal(err)
	}
	heard("/end")

	// A NUL byte would blur the tenant and the recipient of a channel.
	for _, r := range []struct{ tenant, user string }{{"a\x00b", who}, {"ta", "x\x00y"}} {
		req := httptest.NewRequest("GET", "/counts", nil)
		req = req.WithContext(activity.WithTenant(req.Context(), r.tenant))
		req.Header.Set("X-User", r.user)
		if r.user != who {
			c2, _ := notifycenter.New(notifycenter.Config{DB: db, Redis: newRedis(t), ChannelPrefix: channels,
				Recipient: func(*http.Request) (string, bool) { return r.user, true }})
			rec := httptest.NewRecorder()
			c2.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "NUL") {
				t.Errorf("recipient %q: %d %s, want 403", r.user, rec.Code, rec.Body)
			}
			continue
		}
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "NUL") {
			t.Errorf("tenant %q: %d %s, want 403", r.tenant, rec.Code, rec.Body)
		}
	}
}

// A Last-Event-ID above the stream's head is of an older numbering (a
// tenant's stream started anew by migration 00020, or heads erased with a
// person's data): the stream restarts at the head instead of skipping
// every notification until Seq passes the old id.
func TestStreamRestartsAboveHead(t *testing.T) {
	const who = "tenant-stream-resync"
	n, err := notify.New(notify.Config{Name: "notify-center-resync", Accepts: inbox.Everything, Announcer: mustAnnouncer(t),
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{who}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	_, url := web(t, notifycenter.Config{Recipient: byHeader})
	s := openStream(t, url, who, "1000")
	if ev := s.next(t, "the counts"); ev.Name != "counts" || ev.ID != "0" {
		t.Fatalf("a stream resuming after 1000 at head 0 opened with %+v, want counts at 0", ev)
	}
	ev := activity.Event{ID: 9_300_000, Domain: "issue", SubjectID: "1", Action: "comment_added",
		ActorType: "users", ActorID: "1", ActorLabel: "user 1", Extra: []byte("{}"), OccurredAt: time.Now()}
	if err := inboxtest.Process(t, db, n, ev); err != nil {
		t.Fatal(err)
	}
	if ev := s.next(t, "the first notification"); ev.Name != "notification" || ev.ID != "1" {
		t.Fatalf("then %+v, want notification 1", ev)
	}
}

func mustAnnouncer(t *testing.T) *notifycenter.Announcer {
	t.Helper()
	ann, err := notifycenter.NewAnnouncer(newRedis(t), channels)
	if err != nil {
		t.Fatal(err)
	}
	return ann
}
