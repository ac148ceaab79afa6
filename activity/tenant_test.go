package activity_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// tickets is a tenanted domain over the issues table: two organisations
// (tenants 1 and 2) record on the same subject ids, with the same actors
// and actions.
var tickets = activity.MustDomain(activity.DomainConfig{
	Name:    "ticket",
	Subject: activity.Subject{Table: "issues"},
	Tenant:  activity.KeyBigint,
	Actions: []string{"opened", "commented", "opened_retracted"},
	Now:     clock.Now,
})

var ticketsOnce sync.Once

func ticketTable(t *testing.T) {
	t.Helper()
	ticketsOnce.Do(func() {
		up, _ := activity.MigrationSQL(tickets)
		if err := testDB.Exec(up).Error; err != nil {
			t.Fatal(err)
		}
	})
}

// tenantRows counts the ticket events and outbox rows of one tenant, and a
// checksum of its events' mutable columns, to prove a tenant's rows unchanged.
func tenantRows(t *testing.T, tenant int64) (events, outbox int64, sum string) {
	t.Helper()
	if err := testDB.Raw(`SELECT count(*), coalesce(md5(string_agg(id || ':' || occurred_at || ':' || repeats || ':' || coalesce(retracted_at::text, ''), ',' ORDER BY id)), '')
FROM ticket_events WHERE tenant_id = ?`, tenant).Row().Scan(&events, &sum); err != nil {
		t.Fatal(err)
	}
	if err := testDB.Raw(`SELECT count(*) FROM activity_outbox WHERE domain = 'ticket' AND tenant_id = ?`, itoa(tenant)).Row().Scan(&outbox); err != nil {
		t.Fatal(err)
	}
	return
}

func TestTenantRecording(t *testing.T) {
	ticketTable(t)
	u, i := fixture(t)
	ctx := activity.WithActor(context.Background(), &u)
	ev0, ob0, _ := tenantRows(t, 101)

	// No tenant: refused before any write.
	if _, err := tickets.RecordEvent(ctx, testDB, i.ID, "opened"); !errors.Is(err, activity.ErrNoTenant) {
		t.Fatalf("record without tenant: err = %v, want ErrNoTenant", err)
	}
	if _, err := tickets.RecordEvents(ctx, testDB, []activity.NewEvent{{Subject: i.ID, Action: "opened"}}); !errors.Is(err, activity.ErrNoTenant) {
		t.Fatalf("bulk without tenant: err = %v, want ErrNoTenant", err)
	}
	if _, err := tickets.RecordEvent(ctx, testDB, i.ID, "opened", activity.ThrottleWithin(time.Minute)); !errors.Is(err, activity.ErrNoTenant) {
		t.Fatalf("throttled without tenant: err = %v, want ErrNoTenant", err)
	}
	// A tenant of the wrong kind, and a tenant on an untenanted domain.
	if _, err := tickets.RecordEvent(ctx, testDB, i.ID, "opened", activity.InTenant("acme")); !errors.Is(err, activity.ErrInvalidTenant) {
		t.Fatalf("text tenant on a bigint-tenant domain: err = %v, want ErrInvalidTenant", err)
	}
	if _, err := issues.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.InTenant(1)); !errors.Is(err, activity.ErrInvalidTenant) {
		t.Fatalf("InTenant on an untenanted domain: err = %v, want ErrInvalidTenant", err)
	}
	if ev, ob, _ := tenantRows(t, 101); ev != ev0 || ob != ob0 {
		t.Fatalf("refused calls wrote rows")
	}
	// The context's tenant, the option's, the bulk call's, the throttle function's.
	a := activity.WithTenant(ctx, int64(101))
	res, err := tickets.RecordEvent(a, testDB, i.ID, "opened")
	if err != nil || res.Event.TenantID != "101" {
		t.Fatalf("record in tenant 101: %+v, %v", res.Event.TenantID, err)
	}
	res, err = tickets.RecordEvent(ctx, testDB, i.ID, "opened", activity.InTenant("102"))
	if err != nil || res.Event.TenantID != "102" {
		t.Fatalf("record InTenant(102): %q, %v", res.Event.TenantID, err)
	}
	bulk, err := tickets.RecordEvents(a, testDB, []activity.NewEvent{{Subject: i.ID, Action: "commented"}, {Subject: i.ID, Action: "commented"}})
	if err != nil || len(bulk.Events) != 2 || bulk.Events[1].TenantID != "101" {
		t.Fatalf("bulk in tenant 101: %+v, %v", bulk, err)
	}
	// Throttling collapses repeats within a tenant, never across tenants.
	a, b := activity.WithTenant(ctx, 103), activity.WithTenant(ctx, 104)
	r1, err1 := tickets.RecordEvent(a, testDB, i.ID, "commented", activity.ThrottleWithin(time.Hour))
	r2, err2 := tickets.RecordEvent(b, testDB, i.ID, "commented", activity.ThrottleWithin(time.Hour))
	r3, err3 := tickets.RecordEvent(a, testDB, i.ID, "commented", activity.ThrottleWithin(time.Hour))
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if r1.Throttled || r2.Throttled || !r3.Throttled || r3.Event.ID != r1.Event.ID || r2.Event.TenantID != "104" {
		t.Fatalf("throttle across tenants: %v/%v %v/%v %v/%v", r1.Throttled, r1.Event.TenantID, r2.Throttled, r2.Event.TenantID, r3.Throttled, r3.Event.ID)
	}
	if ev, ob, _ := tenantRows(t, 101); ev != ev0+3 || ob != ob0+3 {
		t.Fatalf("tenant 101: %d events, %d outbox rows; want %d and %d", ev, ob, ev0+3, ob0+3)
	}
}

func TestTenantCause(t *testing.T) {
	ticketTable(t)
	u, i := fixture(t)
	ctx := activity.WithActor(context.Background(), &u)
	cause, err := tickets.RecordEvent(ctx, testDB, i.ID, "opened", activity.InTenant(201))
	if err != nil {
		t.Fatal(err)
	}
	job := activity.WithCause(ctx, activity.CauseOf(cause.Event))
	// An event recorded while handling the cause inherits its tenant.
	res, err := tickets.RecordEvent(job, testDB, i.ID, "commented")
	if err != nil || res.Event.TenantID != "201" || res.Event.CausationID == nil {
		t.Fatalf("caused event: tenant %q, %v", res.Event.TenantID, err)
	}
	// Another tenant than the cause's is refused, from the context or an option.
	_, ob0, _ := tenantRows(t, 202)
	if _, err := tickets.RecordEvent(activity.WithTenant(job, 202), testDB, i.ID, "commented"); !errors.Is(err, activity.ErrCrossTenant) {
		t.Fatalf("cause from another tenant: err = %v, want ErrCrossTenant", err)
	}
	if _, err := tickets.RecordEvents(job, testDB, []activity.NewEvent{{Subject: i.ID, Action: "commented"}}, activity.InTenant(202)); !errors.Is(err, activity.ErrCrossTenant) {
		t.Fatalf("bulk, cause from another tenant: err = %v, want ErrCrossTenant", err)
	}
	if _, ob, _ := tenantRows(t, 202); ob != ob0 {
		t.Fatal("a refused cross-tenant event wrote an outbox row")
	}
}

// TestTenantReads calls every read of the activity package as tenant A on
// the data of tenant B, which has the same subject, actor and actions.
func TestTenantReads(t *testing.T) {
	ticketTable(t)
	u, i := fixture(t)
	base := activity.WithActor(context.Background(), &u)
	const tA, tB = 301, 302
	a, b := activity.WithTenant(base, tA), activity.WithTenant(base, tB)
	var bIDs []int64
	for range 3 {
		ra, err := tickets.RecordEvent(a, testDB, i.ID, "commented", activity.Meta(activity.Metadata{CorrelationID: "corr-1"}))
		if err != nil {
			t.Fatal(err)
		}
		rb, err := tickets.RecordEvent(b, testDB, i.ID, "commented", activity.Meta(activity.Metadata{CorrelationID: "corr-1"}))
		if err != nil {
			t.Fatal(err)
		}
		_ = ra
		bIDs = append(bIDs, rb.Event.ID)
		clock.Advance(time.Second)
	}
	bEvents, bOutbox, bSum := tenantRows(t, tB)
	onlyA := func(what string, evs []activity.Event) {
		t.Helper()
		if len(evs) == 0 {
			t.Errorf("%s as tenant A: no events, want A's", what)
		}
		for _, e := range evs {
			if e.TenantID != itoa(tA) || slices.Contains(bIDs, e.ID) {
				t.Errorf("%s as tenant A returned event %d of tenant %s", what, e.ID, e.TenantID)
			}
		}
	}
	q := activity.HistoryQuery{Subject: i.ID, Actor: &u, Actions: []string{"commented"}, CorrelationID: "corr-1"}

	page, err := tickets.Feed(a, testDB, activity.FeedQuery{Subject: i.ID})
	if err != nil {
		t.Fatal(err)
	}
	onlyA("Feed by subject", page.Events())
	page, err = tickets.Feed(a, testDB, activity.FeedQuery{Actor: &u, CorrelationID: "corr-1"})
	if err != nil {
		t.Fatal(err)
	}
	onlyA("Feed by actor", page.Events())
	page, err = tickets.Feed(a, testDB, activity.FeedQuery{})
	if err != nil {
		t.Fatal(err)
	}
	onlyA("Feed of the domain", page.Events())
	n, maxID, err := tickets.Count(a, testDB, q)
	if err != nil || n != 3 || slices.Contains(bIDs, maxID) {
		t.Errorf("Count as A = %d (max %d), %v; want 3 of A's", n, maxID, err)
	}
	counts, err := tickets.CountByAction(a, testDB, q)
	if err != nil || counts["commented"] != 3 {
		t.Errorf("CountByAction as A = %v, %v; want 3", counts, err)
	}
	var replayed []activity.Event
	for e, err := range tickets.Replay(a, testDB, q, 2) {
		if err != nil {
			t.Fatal(err)
		}
		replayed = append(replayed, e)
	}
	onlyA("Replay", replayed)
	after, err := tickets.EventsAfter(a, testDB, q, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	onlyA("EventsAfter", after)
	for _, id := range bIDs {
		if e, err := tickets.Event(a, testDB, id); !errors.Is(err, activity.ErrEventNotFound) {
			t.Errorf("Event(%d) of tenant B as A = %v, %v; want ErrEventNotFound", id, e.TenantID, err)
		}
		caused, err := tickets.Feed(a, testDB, activity.FeedQuery{CausedBy: &activity.EventRef{Domain: "ticket", ID: id}})
		if err != nil || len(caused.Entries) != 0 {
			t.Errorf("Feed CausedBy B's event as A = %d entries, %v", len(caused.Entries), err)
		}
	}
	if m, err := tickets.EventsByID(a, testDB, bIDs); err != nil || len(m) != 0 {
		t.Errorf("EventsByID of B's events as A = %d events, %v; want none", len(m), err)
	}
	ret, err := tickets.Retract(a, testDB, activity.Retraction{Events: bIDs, Action: "opened_retracted", Reason: "cross-tenant attempt"})
	if err != nil || len(ret.Retracted) != 0 {
		t.Errorf("Retract B's events as A = %d retracted, %v; want none", len(ret.Retracted), err)
	}
	// Without a tenant, every read is refused, never "all tenants".
	for name, err := range map[string]error{
		"Feed":       func() error { _, err := tickets.Feed(base, testDB, activity.FeedQuery{}); return err }(),
		"Count":      func() error { _, _, err := tickets.Count(base, testDB, q); return err }(),
		"CountBy":    func() error { _, err := tickets.CountByAction(base, testDB, q); return err }(),
		"Last":       func() error { _, _, err := tickets.LastOccurred(base, testDB, q); return err }(),
		"After":      func() error { _, err := tickets.EventsAfter(base, testDB, q, 0, 10); return err }(),
		"Event":      func() error { _, err := tickets.Event(base, testDB, bIDs[0]); return err }(),
		"EventsByID": func() error { _, err := tickets.EventsByID(base, testDB, bIDs); return err }(),
		"Retract": func() error {
			_, err := tickets.Retract(base, testDB, activity.Retraction{Events: bIDs, Action: "opened_retracted", Reason: "x"})
			return err
		}(),
		"Replay": func() error {
			for _, err := range tickets.Replay(base, testDB, q, 0) {
				return err
			}
			return nil
		}(),
	} {
		if !errors.Is(err, activity.ErrNoTenant) {
			t.Errorf("%s without a tenant: err = %v, want ErrNoTenant", name, err)
		}
	}
	// A query's own Tenant field scopes too; on an untenanted domain it is refused.
	if n, _, err := tickets.Count(base, testDB, activity.HistoryQuery{Subject: i.ID, Tenant: tB}); err != nil || n != 3 {
		t.Errorf("Count with Tenant B = %d, %v; want 3", n, err)
	}
	if _, err := issues.Feed(base, testDB, activity.FeedQuery{Tenant: 1}); !errors.Is(err, activity.ErrInvalidTenant) {
		t.Errorf("Tenant on an untenanted feed: err = %v, want ErrInvalidTenant", err)
	}
	// A process serving every tenant says so.
	if m, err := tickets.EventsByID(activity.AcrossTenants(base), testDB, bIDs); err != nil || len(m) != 3 {
		t.Errorf("EventsByID across tenants = %d, %v; want 3", len(m), err)
	}
	if ev, ob, sum := tenantRows(t, tB); ev != bEvents || ob != bOutbox || sum != bSum {
		t.Errorf("tenant B's rows changed: %d/%d events, %d/%d outbox, sum %s/%s", ev, bEvents, ob, bOutbox, sum, bSum)
	}
}

func TestTenantMiddleware(t *testing.T) {
	ticketTable(t)
	u, i := fixture(t)
	var got activity.Event
	h := activity.Middleware(activity.MiddlewareConfig{
		Actor:  func(*http.Request) any { return &u },
		Tenant: func(r *http.Request) any { return r.Header.Get("X-Org") },
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := tickets.RecordEvent(r.Context(), testDB, i.ID, "opened")
		if err != nil {
			t.Error(err)
			return
		}
		got = res.Event
	}))
	req := httptest.NewRequest("POST", "/tickets", nil)
	req.Header.Set("X-Org", "401")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got.TenantID != "401" {
		t.Errorf("tenant from middleware = %q, want 401", got.TenantID)
	}
}

// TestUpgradeTenant makes an untenanted table tenanted with the generated
// upgrade: existing events take their subject's tenant, recording and
// reads then need one, and down goes back.
func TestUpgradeTenant(t *testing.T) {
	ctx := context.Background()
	plain := activity.MustDomain(activity.DomainConfig{Name: "project", Actions: []string{"renamed"}, Now: clock.Now})
	tenanted := activity.MustDomain(activity.DomainConfig{Name: "project", Actions: []string{"renamed"}, Now: clock.Now, Tenant: activity.KeyBigint})
	up, down := activity.MigrationSQL(plain) // down first: a run before this one (-count) left the tables
	if err := testDB.Exec(down + `DROP TABLE IF EXISTS projects;
CREATE TABLE projects (id bigserial PRIMARY KEY, org_id bigint NOT NULL);
INSERT INTO projects (org_id) VALUES (501), (502);` + up).Error; err != nil {
		t.Fatal(err)
	}
	actor := activity.Actor(activity.System("import"))
	for _, p := range []int64{1, 2, 1} {
		if _, err := plain.RecordEvent(ctx, testDB, p, "renamed", actor); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := activity.UpgradeTenantSQL(tenanted, "org_id; DROP TABLE x"); !errors.Is(err, activity.ErrInvalidDomain) {
		t.Fatalf("unsafe column: err = %v, want ErrInvalidDomain", err)
	}
	upT, downT, err := activity.UpgradeTenantSQL(tenanted, "org_id")
	if err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec(upT).Error; err != nil {
		t.Fatal(err)
	}
	if n, _, err := tenanted.Count(activity.WithTenant(ctx, 501), testDB, activity.HistoryQuery{}); err != nil || n != 2 {
		t.Fatalf("tenant 501 after the upgrade: %d events, %v; want 2", n, err)
	}
	if _, err := tenanted.RecordEvent(ctx, testDB, 2, "renamed", actor); !errors.Is(err, activity.ErrNoTenant) {
		t.Fatalf("record without tenant after the upgrade: %v", err)
	}
	if r, err := tenanted.RecordEvent(ctx, testDB, 2, "renamed", actor, activity.InTenant(502), activity.ThrottleWithin(time.Hour)); err != nil || r.Event.TenantID != "502" || !r.Throttled {
		t.Fatalf("throttled record in 502 after the upgrade: %+v, %v; want it folded into the imported event", r, err)
	}
	if err := testDB.Exec(downT).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := plain.RecordEvent(ctx, testDB, 2, "renamed", actor, activity.ThrottleWithin(time.Hour)); err != nil {
		t.Fatalf("untenanted record after down: %v", err)
	}
}
