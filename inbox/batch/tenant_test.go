package batch_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

func tenantEvent(tenant, subject, action string) activity.Event {
	ev := event(subject, action, "ana")
	ev.TenantID = tenant
	return ev
}

// tenantRecorder keeps each delivered batch with the tenant its context
// carried.
type tenantRecorder struct {
	mu  sync.Mutex
	got map[string][]batch.Batch // by inbox.TenantOf(ctx)
}

func (r *tenantRecorder) deliver(ctx context.Context, b *batch.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == nil {
		r.got = map[string][]batch.Batch{}
	}
	r.got[inbox.TenantOf(ctx)] = append(r.got[inbox.TenantOf(ctx)], *b)
	return nil
}

// A window never mixes tenants: the same recipient and key in two tenants
// are two windows, each delivered with its own events under its tenant's
// context, and the preferences Wanted reads at flush time are that
// tenant's.
func TestWindowsPerTenant(t *testing.T) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	rec := &tenantRecorder{}
	b := newBatcher(t, batch.Config{Inbox: uniqueInbox("tenants"), Deliver: rec.deliver, Now: clk.Now,
		Wanted: batch.WantedOn(&inbox.Defaults{}, inbox.ChannelEmail)})
	who := uniqueInbox("person")
	s := inbox.FixedWindow(time.Hour)
	a := add(t, b, who, "k", s, nil, tenantEvent("a", "1", "comment_added"), tenantEvent("a", "1", "label_added"))
	bb := add(t, b, who, "k", s, nil, tenantEvent("b", "1", "comment_added"), tenantEvent("b", "1", "label_added"))
	none := add(t, b, who, "k", s, nil, event("1", "comment_added", "ana"))
	if a[0].Window != a[1].Window || bb[0].Window != bb[1].Window {
		t.Fatalf("a tenant's events went to two windows: A %+v, B %+v", a, bb)
	}
	if a[0].Window == bb[0].Window || a[0].Window == none[0].Window || bb[0].Window == none[0].Window {
		t.Fatalf("tenants share a window: A %d, B %d, untenanted %d", a[0].Window, bb[0].Window, none[0].Window)
	}
	if bb[1].Items != 2 {
		t.Errorf("B's window holds %d items, want 2", bb[1].Items)
	}
	var tenants []string
	if err := testDB.Raw(`SELECT tenant_id FROM batch_items WHERE window_id = ? ORDER BY event_id`, bb[0].Window).Scan(&tenants).Error; err != nil {
		t.Fatal(err)
	}
	if len(tenants) != 2 || tenants[0] != "b" || tenants[1] != "b" {
		t.Errorf("B's items carry tenants %v", tenants)
	}
	// A mutes label_added in A while the windows are open: B's stays.
	if err := inbox.Mute(activity.WithTenant(ctx, "a"), testDB, who, inbox.ChannelEmail, "issue", "label_added"); err != nil {
		t.Fatal(err)
	}
	// The flusher's own context has a tenant: each window's still wins.
	res, err := b.Flush(activity.WithTenant(ctx, "a"), clk.Now().Add(time.Hour))
	if err != nil || res.Sent != 3 {
		t.Fatalf("flush: %+v, %v; want 3 windows sent", res, err)
	}
	for tenant, want := range map[string][]string{"a": {"comment_added"}, "b": {"comment_added", "label_added"}, "": {"comment_added"}} {
		got := rec.got[tenant]
		if len(got) != 1 {
			t.Errorf("tenant %q: %d deliveries under its context, want 1", tenant, len(got))
			continue
		}
		if got[0].Tenant != tenant {
			t.Errorf("tenant %q's delivery says Batch.Tenant %q", tenant, got[0].Tenant)
		}
		var actions []string
		for _, ev := range got[0].Events {
			if ev.TenantID != tenant {
				t.Errorf("tenant %q's delivery holds %s of tenant %q", tenant, ev.Ref(), ev.TenantID)
			}
			actions = append(actions, ev.Action)
		}
		if len(actions) != len(want) || actions[0] != want[0] || (len(want) > 1 && actions[1] != want[1]) {
			t.Errorf("tenant %q delivered %v, want %v", tenant, actions, want)
		}
	}
}

// AddRequest.Tenant other than the event's is refused before any write.
func TestAddRefusesOtherTenant(t *testing.T) {
	b := newBatcher(t, batch.Config{Inbox: uniqueInbox("badtenant"), Deliver: func(context.Context, *batch.Batch) error { return nil }})
	err := testDB.Transaction(func(tx *gorm.DB) error {
		_, err := b.Add(t.Context(), tx, batch.AddRequest{Recipient: "bob", Schedule: inbox.EveryHour(), Event: tenantEvent("a", "1", "x"), Tenant: "b"})
		return err
	})
	var ce *inbox.ConfigError
	if !errors.As(err, &ce) || ce.Field != "batch.AddRequest.Tenant" {
		t.Fatalf("Add with another tenant = %v, want a *inbox.ConfigError on Tenant", err)
	}
	if n, _ := b.OpenAllTenants(t.Context()); n != 0 {
		t.Errorf("%d windows opened", n)
	}
}
