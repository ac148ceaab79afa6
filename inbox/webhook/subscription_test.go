package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

func testKeys(t *testing.T) *Keyring {
	t.Helper()
	k, err := NewKeyring("k1", map[string][]byte{"k1": []byte(strings.Repeat("x", 32))})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Subscriptions to private, loopback, link-local (cloud metadata) and
// non-https targets are refused before anything is stored.
func TestSubscribeRefusesPrivateTargets(t *testing.T) {
	ctx := context.Background()
	testDB.Exec(`TRUNCATE webhook_subscriptions`)
	resolver := newFakeResolver(map[string][]string{"internal.example.com": {"10.0.0.5"}, "mixed.example.com": {"93.184.216.34,169.254.169.254"}})
	subs, err := NewSubscriptions(SubscriptionsConfig{DB: testDB, Keyring: testKeys(t), Domains: []*activity.Domain{issues}, Source: "/tidings/test",
		Client: NewClient(Config{Resolver: resolver})})
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{
		"https://10.1.2.3/hook", "https://192.168.0.10/hook", "https://172.16.5.4/hook",
		"https://169.254.169.254/latest/meta-data", "https://[fe80::1]/hook", "https://[fd00::1]/hook",
		"https://127.0.0.1/hook", "https://localhost/hook", "https://[::1]/hook",
		"https://internal.example.com/hook", "https://mixed.example.com/hook",
		"http://93.184.216.34/hook", "https://user:pw@93.184.216.34/hook", "not a url",
	} {
		_, err := subs.Subscribe(ctx, "users:1", SubscriptionSpec{Domain: "issue", URL: url, Secret: "0123456789abcdef"})
		if !errors.Is(err, ErrInvalidSubscription) || !errors.Is(err, ErrInvalidURL) {
			t.Errorf("%s: %v; want ErrInvalidSubscription and ErrInvalidURL", url, err)
		}
	}
	for name, spec := range map[string]SubscriptionSpec{
		"short secret":   {Domain: "issue", URL: "https://93.184.216.34/h", Secret: "short"},
		"unknown domain": {Domain: "isue", URL: "https://93.184.216.34/h", Secret: "0123456789abcdef"},
		"unknown action": {Domain: "issue", Actions: []string{"coment_added"}, URL: "https://93.184.216.34/h", Secret: "0123456789abcdef"},
	} {
		if _, err := subs.Subscribe(ctx, "users:1", spec); !errors.Is(err, ErrInvalidSubscription) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var n int64
	testDB.Raw(`SELECT count(*) FROM webhook_subscriptions`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d refused subscriptions were stored", n)
	}
}

// A subscription receives each event of its domain as a signed CloudEvent
// through the worker: a 503 is retried, the retry carries the same
// idempotency key, nothing is posted twice once it answered 2xx, and the
// secret is stored sealed.
func TestSubscriptionDelivers(t *testing.T) {
	ctx := context.Background()
	testDB.Exec(`TRUNCATE webhook_subscriptions, inbox_deliveries, activity_outbox, inbox_pending, issue_events`)
	const secret = "receiver-secret-0123"
	type post struct {
		header http.Header
		body   []byte
		sigErr error
	}
	var mu sync.Mutex
	var posts []post
	got := make(chan struct{}, 10)
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sigErr := VerifySignature([]byte(secret), r.Header.Get(SignatureHeader), r.Header.Get(TimestampHeader), body, time.Unix(1717243200, 0), 5*time.Minute)
		mu.Lock()
		posts = append(posts, post{r.Header.Clone(), body, sigErr})
		first := len(posts) == 1
		mu.Unlock()
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		got <- struct{}{}
	})
	resolver := newFakeResolver(map[string][]string{"example.com": {srv.addr.Addr().String()}})
	client := clientFor(t, resolver, srv)
	subs, err := NewSubscriptions(SubscriptionsConfig{DB: testDB, Keyring: testKeys(t), Domains: []*activity.Domain{issues}, Source: "/tidings/test",
		Client: client, Policy: inbox.Policy{MaxRetry: 3, Backoff: func(int) time.Duration { return 10 * time.Millisecond }}})
	if err != nil {
		t.Fatal(err)
	}
	url := "https://example.com:" + strconv.Itoa(int(srv.addr.Port())) + "/hook"
	sub, err := subs.Subscribe(ctx, "users:1", SubscriptionSpec{Domain: "issue", Actions: []string{"comment_added"}, URL: url, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	testDB.Raw(`SELECT secret FROM webhook_subscriptions WHERE id = ?`, sub.ID).Scan(&stored)
	if !IsSealed(stored) || strings.Contains(stored, secret) {
		t.Fatalf("secret stored as %q", stored)
	}

	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: testRedis, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{subs},
		Logger: testLogger(), DelayedTaskCheckInterval: 50 * time.Millisecond, Relay: inbox.RelayConfig{PollInterval: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	var issueID int64
	testDB.Raw(`INSERT INTO issues (title) VALUES ('x') RETURNING id`).Scan(&issueID)
	ana := activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "Ana"})
	if _, err := issues.RecordEvent(ctx, testDB, issueID, "label_added", ana); err != nil { // not subscribed
		t.Fatal(err)
	}
	res, err := issues.RecordEvent(ctx, testDB, issueID, "comment_added", ana, activity.Extra{"body": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-got:
		case <-time.After(20 * time.Second):
			t.Fatalf("the receiver got %d posts", len(posts))
		}
	}
	// The job is done once the ledger says sent.
	key := inbox.Key{Inbox: "webhooks", Event: res.Event.Ref(), Recipient: "subscription:" + strconv.FormatInt(sub.ID, 10)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, ok, err := w.Ledger().Lookup(ctx, testDB, key)
		if err != nil {
			t.Fatal(err)
		}
		if ok && e.Status == inbox.StatusSent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ledger: %+v %v", e, ok)
		}
		time.Sleep(10 * time.Millisecond) // polling the worker's ledger row
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 2 {
		t.Fatalf("%d posts, want 2 (a 503, then the retry)", len(posts))
	}
	for i, p := range posts {
		if p.sigErr != nil {
			t.Errorf("post %d: signature: %v", i, p.sigErr)
		}
		if ct := p.header.Get("Content-Type"); ct != activity.CloudEventsContentType {
			t.Errorf("post %d: Content-Type %q", i, ct)
		}
	}
	if k := posts[0].header.Get(IdempotencyHeader); k == "" || k != posts[1].header.Get(IdempotencyHeader) {
		t.Errorf("idempotency keys %q and %q", k, posts[1].header.Get(IdempotencyHeader))
	}
	var ce map[string]any
	if err := json.Unmarshal(posts[1].body, &ce); err != nil {
		t.Fatal(err)
	}
	if ce["specversion"] != "1.0" || ce["type"] != "issue.comment_added" || ce["id"] != strconv.FormatInt(res.Event.ID, 10) || ce["source"] != "/tidings/test" || ce["actor"] != "users:1" {
		t.Errorf("cloud event %s", posts[1].body)
	}
}

// A receiver that refuses for good (410) makes the delivery a dead letter
// at once, like any inbox's permanent failure.
func TestSubscriptionDeadLetter(t *testing.T) {
	ctx := context.Background()
	testDB.Exec(`TRUNCATE webhook_subscriptions, inbox_deliveries, inbox_dead_letters, activity_outbox, inbox_pending, issue_events`)
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	resolver := newFakeResolver(map[string][]string{"example.com": {srv.addr.Addr().String()}})
	subs, err := NewSubscriptions(SubscriptionsConfig{DB: testDB, Keyring: testKeys(t), Domains: []*activity.Domain{issues}, Source: "/tidings/test",
		Client: clientFor(t, resolver, srv), Name: "webhooks-gone"})
	if err != nil {
		t.Fatal(err)
	}
	url := "https://example.com:" + strconv.Itoa(int(srv.addr.Port())) + "/hook"
	if _, err := subs.Subscribe(ctx, "users:1", SubscriptionSpec{Domain: "issue", URL: url, Secret: "0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: testRedis, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{subs},
		Logger: testLogger(), Relay: inbox.RelayConfig{PollInterval: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	var issueID int64
	testDB.Raw(`INSERT INTO issues (title) VALUES ('x') RETURNING id`).Scan(&issueID)
	res, err := issues.RecordEvent(ctx, testDB, issueID, "comment_added", activity.Actor(activity.System("test")))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		page, err := w.DeadLetters().List(ctx, inbox.DeadLetterQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Letters) == 1 {
			l := page.Letters[0]
			if l.Inbox != "webhooks-gone" || l.Event != res.Event.Ref() || l.Attempts != 1 || !strings.Contains(l.LastError, "410") {
				t.Fatalf("dead letter %+v", l)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter (%d hits)", srv.hits.Load())
		}
		time.Sleep(10 * time.Millisecond) // polling the worker's dead letters
	}
}
