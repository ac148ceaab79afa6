package notify_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/locale"
	"github.com/tidingsdev/tidings/inbox/notify"
)

// A burst of 30 comments within a window is one row for who batches in-app
// notifications ("Cy and 3 others commented on #12"), updated in place
// and unread again when an item joins; who chose immediate gets 30 rows.
func TestBatchedNotificationsCollapse(t *testing.T) {
	ctx := context.Background()
	p, issue := setup(t) // Ana wrote it; Bo and Cy follow it
	var eve int64
	if err := db.Raw(`INSERT INTO users (name) VALUES ('Eve') RETURNING id`).Scan(&eve).Error; err != nil {
		t.Fatal(err)
	}
	db.Exec(`INSERT INTO subscriptions VALUES (?, ?)`, issue, eve)
	defaults := &inbox.Defaults{}
	if err := defaults.SetChoice(ctx, db, id(eve), inbox.ChannelApp, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(15*time.Minute))); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n, err := notify.New(notify.Config{Name: "notify-batched", Accepts: inbox.On("issue"), Recipients: authorAndSubscribers,
		Defaults: defaults, Batching: true, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	actors := []activity.Ref{user(p.ana, "Ana"), user(p.bo, "Bo"), user(p.cy, "Cy"), user(p.di, "Di")}
	var first, last activity.Event
	for i := range 30 {
		res, err := issues.RecordEvent(ctx, db, issue, "comment_added", activity.Actor(actors[(i+1)%4]))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // retried jobs apply once
			if err := inboxtest.Process(t, db, n, res.Event); err != nil {
				t.Fatal(err)
			}
		}
		if i == 0 {
			first = res.Event
			// Eve reads it; the next item makes it unread again.
			page, _ := notify.List(ctx, db, notify.Query{Recipient: id(eve)})
			if len(page.Notifications) != 1 {
				t.Fatalf("after one event Eve has %d rows", len(page.Notifications))
			}
			if ok, err := notify.MarkRead(ctx, db, id(eve), page.Notifications[0].ID); !ok || err != nil {
				t.Fatalf("mark read: %v %v", ok, err)
			}
		}
		last = res.Event
		clock = clock.Add(20 * time.Second) // 30 events in 10 minutes
	}
	page, err := notify.List(ctx, db, notify.Query{Recipient: id(eve), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Notifications) != 1 {
		t.Fatalf("Eve has %d rows, want one collapsed row", len(page.Notifications))
	}
	row := page.Notifications[0]
	if row.ItemCount != 30 || len(row.Actors) != 4 || row.Actors[0].Label != last.ActorLabel || !row.Unread() {
		t.Errorf("row: %d items, actors %v, unread %v; want 30, 4 (Cy newest), unread", row.ItemCount, row.Actors, row.Unread())
	}
	if row.Event.ID != first.ID || row.Actor.Label != last.ActorLabel {
		t.Errorf("row keeps event %d (want the first, %d) and actor %q (want the newest)", row.Event.ID, first.ID, row.Actor.Label)
	}
	cat, _ := locale.New("en", "de")
	_ = cat.SetPlural("en", "issue.comment_added.title", 2, "=0", "%[1]s commented on %[3]s", "other", "%[1]s and %[2]d others commented on %[3]s")
	_ = cat.SetPlural("de", "issue.comment_added.title", 2, "=0", "%[1]s hat %[3]s kommentiert", "other", "%[1]s und %[2]d weitere haben %[3]s kommentiert")
	if got, want := row.Title(cat, "en"), "Cy and 3 others commented on #"+id(issue); got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	if got, want := row.Title(cat, "de"), "Cy und 3 weitere haben #"+id(issue)+" kommentiert"; got != want {
		t.Errorf("German title %q, want %q", got, want)
	}
	// Bo (immediate) has one row per comment he did not write.
	var bo int64
	db.Raw(`SELECT count(*) FROM notifications WHERE inbox = 'notify-batched' AND recipient = ?`, id(p.bo)).Scan(&bo)
	if bo != 22 {
		t.Errorf("Bo has %d rows, want 22 (one per comment of others)", bo)
	}
	// After the window, the next comment opens a new row; a retried job
	// adds nothing (the conformance checks).
	clock = clock.Add(10 * time.Minute)
	res, _ := issues.RecordEvent(ctx, db, issue, "comment_added", activity.Actor(user(p.ana, "Ana")))
	inboxtest.Conformance(t, db, n, res.Event, "notifications", "notification_heads")
	page, _ = notify.List(ctx, db, notify.Query{Recipient: id(eve)})
	if len(page.Notifications) != 2 || page.Notifications[0].ItemCount != 1 {
		t.Errorf("after the window: %d rows", len(page.Notifications))
	}
}

// Deliveries racing for one batched recipient never open two rows.
func TestCollapseRace(t *testing.T) {
	ctx := context.Background()
	p, issue := setup(t)
	defaults := &inbox.Defaults{}
	for _, who := range []int64{p.ana, p.cy} {
		if err := defaults.SetChoice(ctx, db, id(who), inbox.ChannelApp, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.EveryHour())); err != nil {
			t.Fatal(err)
		}
	}
	n, err := notify.New(notify.Config{Name: "notify-race", Accepts: inbox.On("issue"), Recipients: authorAndSubscribers, Defaults: defaults, Batching: true})
	if err != nil {
		t.Fatal(err)
	}
	var evs []activity.Event
	for range 16 {
		res, err := issues.RecordEvent(ctx, db, issue, "comment_added", activity.Actor(user(p.bo, "Bo")))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, res.Event)
	}
	errs := make(chan error, len(evs))
	for _, ev := range evs {
		go func() { errs <- n.Process(ctx, inboxtest.NewDelivery(db, n, ev)) }()
	}
	for range evs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var rows []struct {
		Recipient string
		ItemCount int
	}
	db.Raw(`SELECT recipient, item_count FROM notifications WHERE inbox = 'notify-race' AND recipient IN (?, ?) ORDER BY recipient`, id(p.ana), id(p.cy)).Scan(&rows)
	if len(rows) != 2 || rows[0].ItemCount != 16 || rows[1].ItemCount != 16 {
		t.Errorf("rows %+v, want one of 16 items for each of Ana and Cy", rows)
	}
}

// The in-app inbox, batching or not, passes the shared conformance checks.
func TestConformance(t *testing.T) {
	ctx := context.Background()
	p, issue := setup(t)
	for _, batching := range []bool{false, true} {
		n, err := notify.New(notify.Config{Name: "notify-conf-" + strconv.FormatBool(batching), Accepts: inbox.On("issue"), Recipients: authorAndSubscribers, Batching: batching})
		if err != nil {
			t.Fatal(err)
		}
		res, err := issues.RecordEvent(ctx, db, issue, "comment_added", activity.Actor(user(p.bo, "Bo")))
		if err != nil {
			t.Fatal(err)
		}
		inboxtest.Conformance(t, db, n, res.Event, "notifications", "notification_heads")
	}
}

// A burst in one tenant never collapses into another tenant's row, even
// for the same recipient, subject id and action: each tenant's row is its
// own, carries its tenant, and is the only one its tenant lists.
func TestCollapsePerTenant(t *testing.T) {
	defaults := &inbox.Defaults{}
	who := "collapse-tenant-eve"
	window := inbox.BatchedOn(inbox.FixedWindow(15 * time.Minute))
	for _, tn := range []string{"ta", "tb"} {
		if err := defaults.SetChoice(activity.WithTenant(context.Background(), tn), db, who, inbox.ChannelApp, "issue", inbox.AnyAction, window); err != nil {
			t.Fatal(err)
		}
	}
	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n, err := notify.New(notify.Config{Name: "notify-collapse-tenants", Accepts: inbox.On("issue"),
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{who}, nil },
		Defaults:   defaults, Batching: true, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	// Interleaved: B, A, B, A, A on the same subject id and action.
	for i, tn := range []string{"tb", "ta", "tb", "ta", "ta"} {
		ev := activity.Event{ID: 9_000_000 + int64(i), Domain: "issue", SubjectID: "12", Action: "comment_added", TenantID: tn,
			ActorType: "users", ActorID: strconv.Itoa(i), ActorLabel: "user " + strconv.Itoa(i), Extra: []byte("{}"), OccurredAt: clock}
		if err := inboxtest.Process(t, db, n, ev); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Second)
	}
	for tn, want := range map[string]int{"ta": 3, "tb": 2} {
		page, err := notify.List(activity.WithTenant(context.Background(), tn), db, notify.Query{Recipient: who})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Notifications) != 1 {
			t.Fatalf("tenant %s lists %d rows, want its one collapsed row", tn, len(page.Notifications))
		}
		row := page.Notifications[0]
		if row.Tenant != tn || row.ItemCount != want {
			t.Errorf("tenant %s's row: tenant %q, %d items; want %s, %d", tn, row.Tenant, row.ItemCount, tn, want)
		}
		// Each arrival moved the row in its tenant's stream only.
		if c, err := notify.CountsOf(activity.WithTenant(context.Background(), tn), db, who); err != nil || c.Head != int64(want) || row.Seq != int64(want) {
			t.Errorf("tenant %s: head %+v, %v, row Seq %d; want %d, the tenant's own arrivals", tn, c, err, row.Seq, want)
		}
	}
	var untenanted int64
	db.Raw(`SELECT count(*) FROM notifications WHERE inbox = 'notify-collapse-tenants' AND tenant_id IS NULL`).Scan(&untenanted)
	if untenanted != 0 {
		t.Errorf("%d collapsed rows without a tenant", untenanted)
	}
}

// A person served by an immediate in-app inbox and a collapsing one gets
// the event once: the second inbox adds nothing (notifications_once) and
// its delivery succeeds, instead of a unique violation.
func TestCollapseAfterAnotherInbox(t *testing.T) {
	ctx := context.Background()
	p, issue := setup(t)
	defaults := &inbox.Defaults{}
	if err := defaults.SetChoice(ctx, db, id(p.bo), inbox.ChannelApp, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.FixedWindow(15*time.Minute))); err != nil {
		t.Fatal(err)
	}
	plain, err := notify.New(notify.Config{Name: "notify-plain-first", Accepts: inbox.On("issue"), Recipients: authorAndSubscribers})
	if err != nil {
		t.Fatal(err)
	}
	batched, err := notify.New(notify.Config{Name: "notify-batched-second", Accepts: inbox.On("issue"), Recipients: authorAndSubscribers,
		Defaults: defaults, Batching: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := issues.RecordEvent(ctx, db, issue, "comment_added", activity.Actor(user(p.cy, "Cy")))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []*notify.Inbox{plain, batched} {
		if err := inboxtest.Process(t, db, in, res.Event); err != nil {
			t.Fatalf("%s: %v", in.Name(), err)
		}
	}
	var rows int64
	db.Raw(`SELECT count(*) FROM notifications WHERE recipient = ? AND domain = 'issue' AND event_id = ?`, id(p.bo), res.Event.ID).Scan(&rows)
	if rows != 1 {
		t.Errorf("Bo has %d notifications of the event, want 1", rows)
	}
}
