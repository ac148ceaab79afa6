package notifycenter_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

var (
	db     *gorm.DB
	issues = activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"comment_added"}})
)

// channels keeps this package's pub/sub channels apart from other test
// packages' on the shared Redis (pub/sub ignores database numbers).
const channels = "tidings:test:notifycenter:"

func TestMain(m *testing.M) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(issues)
	var err error
	flag.Parse()
	db, err = pgtest.CreateForFuzz(ctx, "tidings_test_notifycenter", "CREATE TABLE issues (id bigserial PRIMARY KEY)", "INSERT INTO issues DEFAULT VALUES", "INSERT INTO issues DEFAULT VALUES", up)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redistest.Addr(), DB: 13})
	t.Cleanup(func() { c.Close() })
	return c
}

// worker is the worker process's side: its own Redis client and the
// notify inbox announcing on it. Everyone hears of every comment.
func worker(t *testing.T, recipients ...string) *notify.Inbox {
	t.Helper()
	ann, err := notifycenter.NewAnnouncer(newRedis(t), channels)
	if err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(notify.Config{
		Accepts:   inbox.Everything,
		Announcer: ann,
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) {
			return recipients, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// web is the web process's side: a center with its own Redis client,
// served on loopback; the X-User header says who asks.
func web(t *testing.T, cfg notifycenter.Config) (*notifycenter.Center, string) {
	t.Helper()
	cfg.DB, cfg.Redis, cfg.ChannelPrefix = db, newRedis(t), channels
	c, err := notifycenter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(func() { c.Close(); srv.Close() })
	return c, srv.URL
}

func byHeader(r *http.Request) (string, bool) {
	u := r.Header.Get("X-User")
	return u, u != ""
}

// comment records a comment by actor on subject and runs the worker's
// inbox on it, as a worker job would after the commit.
func comment(t *testing.T, n *notify.Inbox, subject int64, actor string) {
	t.Helper()
	res, err := issues.RecordEvent(context.Background(), db, subject, "comment_added", activity.Actor(activity.Ref{Type: "users", ID: actor, Label: actor}))
	if err != nil {
		t.Fatal(err)
	}
	if err := inboxtest.Process(t, db, n, res.Event); err != nil {
		t.Fatal(err)
	}
}

type event struct {
	ID, Name, Data string
}

// stream is an open SSE connection whose events arrive on a channel.
type stream struct {
	events chan event
	cancel context.CancelFunc
	status int
}

func openStream(t *testing.T, url, user, lastID string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/stream", nil)
	req.Header.Set("X-User", user)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	return readStream(t, req, cancel)
}

// readStream sends req, a stream request made with a context cancel ends,
// and reads its events.
func readStream(t *testing.T, req *http.Request, cancel context.CancelFunc) *stream {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stream{events: make(chan event, 100), cancel: cancel, status: res.StatusCode}
	t.Cleanup(cancel)
	go func() {
		defer res.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Name != "" {
					s.events <- ev
				}
				ev = event{}
			case strings.HasPrefix(line, "id: "):
				ev.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.Name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.Data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return s
}

// next waits for the stream's next event.
func (s *stream) next(t *testing.T, what string) event {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatalf("%s: the stream ended", what)
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no event within 10s", what)
	}
	return event{}
}

// The done-when test: a client disconnected while three notifications
// arrive reconnects with Last-Event-ID and receives exactly those three,
// in order, then the counts. The worker and the center use separate Redis
// clients, as separate processes do.
func TestStreamResumesWithLastEventID(t *testing.T) {
	n := worker(t, "ana")
	_, url := web(t, notifycenter.Config{Recipient: byHeader})
	s := openStream(t, url, "ana", "")
	first := s.next(t, "the opening counts")
	if first.Name != "counts" {
		t.Fatalf("first event %+v, want counts", first)
	}
	head, _ := strconv.ParseInt(first.ID, 10, 64)

	comment(t, n, 1, "bo")
	live := s.next(t, "the live notification")
	if live.Name != "notification" || live.ID != strconv.FormatInt(head+1, 10) {
		t.Fatalf("live event %+v, want notification %d", live, head+1)
	}
	var it notifycenter.Item
	if err := json.Unmarshal([]byte(live.Data), &it); err != nil || it.Actor.ID != "bo" || !it.Unread {
		t.Fatalf("live item %+v, %v", it, err)
	}
	if c := s.next(t, "counts after it"); c.Name != "counts" || !strings.Contains(c.Data, `"unread":`) {
		t.Fatalf("after the notification %+v, want counts", c)
	}
	s.cancel() // the client goes away

	for range 3 {
		comment(t, n, 1, "cy")
	}
	again := openStream(t, url, "ana", live.ID)
	var got []int64
	for {
		ev := again.next(t, "the missed notifications")
		if ev.Name == "counts" {
			var c notify.Counts
			json.Unmarshal([]byte(ev.Data), &c)
			if c.Head != head+4 {
				t.Errorf("counts %+v after catching up, want head %d", c, head+4)
			}
			break
		}
		seq, _ := strconv.ParseInt(ev.ID, 10, 64)
		got = append(got, seq)
	}
	want := []int64{head + 2, head + 3, head + 4}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reconnecting the stream sent notifications %v, want exactly %v", got, want)
	}
	// And it is live again.
	comment(t, n, 1, "di")
	if ev := again.next(t, "the next live one"); ev.ID != strconv.FormatInt(head+5, 10) {
		t.Fatalf("next live event %+v, want %d", ev, head+5)
	}
}

func do(t *testing.T, method, url, user, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if user != "" {
		req.Header.Set("X-User", user)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The JSON API: list with counts, archive, unread, delete, only one's own;
// the default authorization refuses everything; a change made through one
// center reaches a stream of another (two web processes).
func TestAPI(t *testing.T) {
	n := worker(t, "eve", "fay")
	_, closed := web(t, notifycenter.Config{})
	if code, body := do(t, "GET", closed+"/", "eve", ""); code != http.StatusForbidden || !strings.Contains(body, "Config.Identity") {
		t.Errorf("without an identity: %d %s, want 403", code, body)
	}
	_, url := web(t, notifycenter.Config{Recipient: byHeader, Prefix: "/api/n"})
	_, other := web(t, notifycenter.Config{Recipient: byHeader})
	url += "/api/n"
	if code, _ := do(t, "GET", url+"/", "", ""); code != http.StatusForbidden {
		t.Errorf("anonymous list: %d, want 403", code)
	}
	s := openStream(t, other, "eve", "")
	s.next(t, "opening counts")
	comment(t, n, 2, "bo")
	comment(t, n, 2, "bo")
	code, body := do(t, "GET", url+"/", "eve", "")
	var list notifycenter.ListResponse
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil || len(list.Notifications) != 2 || list.Counts.Unread != 2 {
		t.Fatalf("list: %d %s", code, body)
	}
	id := strconv.FormatInt(list.Notifications[0].ID, 10)
	if code, _ := do(t, "POST", url+"/"+id+"/archive", "fay", ""); code != http.StatusNotFound {
		t.Errorf("fay archiving eve's notification: %d, want 404", code)
	}
	for _, step := range []struct {
		method, path string
		unread       int64
	}{
		{"POST", "/" + id + "/read", 1},
		{"POST", "/" + id + "/unread", 2},
		{"POST", "/" + id + "/archive", 1},
		{"POST", "/" + id + "/unarchive", 2},
		{"DELETE", "/" + id, 1},
	} {
		code, body := do(t, step.method, url+step.path, "eve", "")
		var ch notifycenter.ChangeResponse
		json.Unmarshal([]byte(body), &ch)
		if code != 200 || ch.Changed != 1 || ch.Counts.Unread != step.unread {
			t.Errorf("%s %s: %d %s, want 1 changed and %d unread", step.method, step.path, code, body, step.unread)
		}
	}
	// The other process's stream heard of the changes.
	for {
		ev := s.next(t, "the counts after the delete")
		var c notify.Counts
		json.Unmarshal([]byte(ev.Data), &c)
		if ev.Name == "counts" && c.Unread == 1 && c.Head == 2 {
			break
		}
	}
	for _, bad := range []string{"/99999999999999999999/read", "/-1/read", "/abc/read", "/" + id + "/explode"} {
		if code, _ := do(t, "POST", url+bad, "eve", ""); code != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", bad, code)
		}
	}
	if code, _ := do(t, "GET", url+"/?after=nonsense", "eve", ""); code != http.StatusBadRequest {
		t.Errorf("a bad cursor: %d, want 400", code)
	}
	// A form without JavaScript comes back to its page.
	req, _ := http.NewRequest("POST", url+"/read-all", strings.NewReader("back=/inbox"))
	req.Header.Set("X-User", "eve")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/inbox" {
		t.Errorf("form post: %d to %q, want 303 to /inbox", res.StatusCode, res.Header.Get("Location"))
	}
	if st := openStream(t, url, "eve", "12abc"); st.status != http.StatusBadRequest {
		t.Errorf("a bad Last-Event-ID: %d, want 400", st.status)
	}
}

// Redis restarts, empty, while a stream is open and a notification
// commits (its announcement fails): when the subscription is back, the
// stream catches up from PostgreSQL at once, without waiting for its
// recheck (set to an hour here).
func TestRedisRestart(t *testing.T) {
	rs := redistest.NewPrivate(t)
	webClient := redis.NewClient(&redis.Options{Addr: rs.Addr(), MaxRetries: -1})
	workerClient := redis.NewClient(&redis.Options{Addr: rs.Addr(), MaxRetries: -1})
	t.Cleanup(func() { webClient.Close(); workerClient.Close() })
	ann, _ := notifycenter.NewAnnouncer(workerClient, channels)
	n, err := notify.New(notify.Config{Accepts: inbox.Everything, Announcer: ann,
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{"gus"}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	c, err := notifycenter.New(notifycenter.Config{DB: db, Redis: webClient, ChannelPrefix: channels, Recipient: byHeader, Recheck: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(func() { c.Close(); srv.Close() })
	s := openStream(t, srv.URL, "gus", "")
	head := s.next(t, "opening counts").ID

	rs.Stop(t)
	comment(t, n, 1, "bo") // committed; its announcement fails
	rs.Start(t)
	ev := s.next(t, "the notification after Redis came back")
	if want, _ := strconv.ParseInt(head, 10, 64); ev.Name != "notification" || ev.ID != strconv.FormatInt(want+1, 10) {
		t.Fatalf("after the restart the stream sent %+v, want notification %d", ev, want+1)
	}
}
