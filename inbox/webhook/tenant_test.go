package webhook

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
)

// A tenant's subscription is invisible to another tenant's calls, and gets
// that tenant's events only.
func TestSubscriptionsPerTenant(t *testing.T) {
	testDB.Exec(`TRUNCATE webhook_subscriptions, inbox_deliveries`)
	var mu sync.Mutex
	var paths []string
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
	})
	client := clientFor(t, newFakeResolver(map[string][]string{"example.com": {srv.addr.Addr().String()}}), srv)
	subs, err := NewSubscriptions(SubscriptionsConfig{DB: testDB, Keyring: testKeys(t), Domains: []*activity.Domain{issues}, Client: client, Source: "/tidings/test"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := activity.WithTenant(context.Background(), "a"), activity.WithTenant(context.Background(), "b")
	base := "https://example.com:" + strconv.Itoa(int(srv.addr.Port()))
	subA, err := subs.Subscribe(a, "users:1", SubscriptionSpec{Domain: "issue", URL: base + "/a", Secret: "secret-of-tenant-a"})
	if err != nil {
		t.Fatal(err)
	}
	subB, err := subs.Subscribe(b, "users:1", SubscriptionSpec{Domain: "issue", URL: base + "/b", Secret: "secret-of-tenant-b"})
	if err != nil {
		t.Fatal(err)
	}
	if subA.Tenant != "a" || subB.Tenant != "b" {
		t.Fatalf("tenants %q %q", subA.Tenant, subB.Tenant)
	}
	if _, err := subs.Get(a, subB.ID); !errors.Is(err, ErrSubscriptionNotFound) {
		t.Errorf("Get(B's) as A: %v, want ErrSubscriptionNotFound", err)
	}
	if err := subs.SetEnabled(a, subB.ID, false); !errors.Is(err, ErrSubscriptionNotFound) {
		t.Errorf("SetEnabled(B's) as A: %v, want ErrSubscriptionNotFound", err)
	}
	if err := subs.Delete(a, subB.ID); !errors.Is(err, ErrSubscriptionNotFound) {
		t.Errorf("Delete(B's) as A: %v, want ErrSubscriptionNotFound", err)
	}
	for _, ctx := range []context.Context{a, context.Background()} {
		list, err := subs.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.ID == subB.ID {
				t.Errorf("List as %q shows B's subscription", activity.TenantText(ctx))
			}
		}
	}
	if got, err := subs.Get(b, subB.ID); err != nil || !got.Enabled {
		t.Errorf("B's subscription after A's calls: %+v, %v", got, err)
	}
	ev := activity.Event{ID: time.Now().UnixNano() / 1000, Domain: "issue", SubjectID: "1", Action: "comment_added",
		ActorType: "users", ActorID: "1", Extra: []byte(`{}`), OccurredAt: time.Now(), TenantID: "a"}
	if err := inboxtest.Process(t, testDB, subs, ev); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 1 || paths[0] != "/a" {
		t.Errorf("tenant a's event posted to %v, want [/a]", paths)
	}
}
