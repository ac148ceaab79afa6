package crosstenant_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/notify"
)

// batchWorld is the batching part of the world: a batching step (its
// windows per recipient and key, flushed through the email preferences),
// an in-app inbox collapsing bursts, and what B has in them before A
// calls anything.
type batchWorld struct {
	defaults *inbox.Defaults
	batcher  *batch.Batcher
	rec      *batchRecorder
	collapse *notify.Inbox
	window   int64 // B's open window for users:7, key ticket/1
	row      int64 // B's collapsed in-app row for users:9 about issue 1 (two comments)
}

// batchRecorder keeps each delivered batch with the tenant of the
// context it was delivered under.
type batchRecorder struct {
	mu  sync.Mutex
	got []delivered
}

type delivered struct {
	ctxTenant string
	batch     batch.Batch
}

func (r *batchRecorder) deliver(ctx context.Context, b *batch.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, delivered{ctxTenant: inbox.TenantOf(ctx), batch: *b})
	return nil
}

// window is the schedule of the windows and collapsed rows: open for the
// whole test.
var window = inbox.BatchedOn(inbox.FixedWindow(time.Hour))

// buildBatching gives B an open window for users:7 holding B's three
// events, B's delivery choices (users:9 batches in-app notifications; B's
// default batches Slack hourly), and B's collapsed in-app row for users:9
// (the two comments on issue 1; "opened" is off by B's tenant default).
func buildBatching(t *testing.T, w *world) {
	t.Helper()
	defaults := &inbox.Defaults{}
	rec := &batchRecorder{}
	// The flusher serves every tenant (it claims windows by id, whoever
	// asks): it runs as the superuser. What it reads for a window's
	// tenant, the recipient's choices, it reads under the context it
	// delivers with, on appDB: the window's tenant, or the policies would
	// show it another's.
	wanted := batch.WantedOn(defaults, inbox.ChannelEmail)
	b, err := batch.New(batch.Config{Inbox: "ct-batch", DB: testDB, Deliver: rec.deliver,
		Wanted: func(ctx context.Context, _ *gorm.DB, bt *batch.Batch) ([]activity.Event, error) {
			return wanted(ctx, appDB, bt)
		}})
	if err != nil {
		t.Fatal(err)
	}
	collapse, err := notify.New(notify.Config{Name: "ct-collapse", Defaults: defaults, Batching: true,
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{"9"}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	bw := &batchWorld{defaults: defaults, batcher: b, rec: rec, collapse: collapse}
	w.batch = bw
	inB := as(tenantB, "7")
	if err := defaults.SetChoice(inB, appDB, "9", inbox.ChannelApp, "ticket", inbox.AnyAction, window); err != nil {
		t.Fatal(err)
	}
	if err := defaults.SetChoice(inB, appDB, inbox.TenantDefault, inbox.ChannelSlack, "ticket", inbox.AnyAction, inbox.BatchedOn(inbox.EveryHour())); err != nil {
		t.Fatal(err)
	}
	for _, ev := range w.tenant[tenantB].events {
		err := appDB.WithContext(inB).Transaction(func(tx *gorm.DB) error {
			j, err := b.Add(inB, tx, batch.AddRequest{Recipient: "7", Key: "ticket/1", Schedule: window.Schedule, Event: ev})
			bw.window = j.Window
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := inboxtest.Process(t, appDB, collapse, ev); err != nil {
			t.Fatal(err)
		}
	}
	page, err := notify.List(inB, appDB, notify.Query{Recipient: "9"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range page.Notifications {
		if n.CollapseUntil != nil {
			bw.row = n.ID
		}
	}
	if bw.row == 0 {
		t.Fatalf("B has no collapsed row for users:9: %+v", page.Notifications)
	}
}

// testBatching calls the batching APIs as tenant A (ctx) on B's data.
func testBatching(t *testing.T, w *world, ctx context.Context) {
	bw := w.batch
	a := w.tenant[tenantA]
	inA := as(tenantA, "7")
	now := time.Now()

	cover(bw.defaults.SetChoice, inbox.ChoiceOf, bw.defaults.Choices, bw.defaults.Wanted, bw.batcher.Add, bw.batcher.FlushWindow, bw.collapse.Process)
	// Choices: A's SetChoice leaves B's alone, and A reads none of B's.
	daily8 := inbox.BatchedOn(inbox.DailyAt(8, 0))
	if err := bw.defaults.SetChoice(ctx, appDB, "9", inbox.ChannelApp, "ticket", inbox.AnyAction, daily8); err != nil {
		t.Fatal(err)
	}
	// A's users:7 turns "opened" mails off while the windows are open.
	if err := bw.defaults.SetChoice(ctx, appDB, "7", inbox.ChannelEmail, "ticket", "opened", inbox.OffChoice); err != nil {
		t.Fatal(err)
	}
	if c, ok, err := inbox.ChoiceOf(as(tenantB, "9"), appDB, "9", inbox.ChannelApp, "ticket", inbox.AnyAction); err != nil || !ok || c != window {
		t.Errorf("B's choice after A's SetChoice = %s %v %v, want B's %s", c, ok, err, window)
	}
	if c, ok, err := inbox.ChoiceOf(ctx, appDB, "9", inbox.ChannelApp, "ticket", inbox.AnyAction); err != nil || !ok || c != daily8 {
		t.Errorf("A's choice = %s %v %v, want %s", c, ok, err, daily8)
	}
	if c, _, err := inbox.ChoiceOf(ctx, appDB, inbox.TenantDefault, inbox.ChannelSlack, "ticket", inbox.AnyAction); err != nil || c != (inbox.Choice{}) {
		t.Errorf("B's tenant default choice seen as A: %s, %v", c, err)
	}
	got, err := bw.defaults.Choices(ctx, appDB, inbox.ChannelSlack, "ticket", "commented", "1", []string{"7"})
	if err != nil || got["7"] != inbox.ImmediateChoice {
		t.Errorf("Choices on Slack as A = %v, %v; want immediate (B's default batches hourly)", got, err)
	}

	// Batch windows: A's events for the same recipient and key open A's
	// own window, never B's.
	var aWindow int64
	for _, ev := range a.events {
		err := appDB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			j, err := bw.batcher.Add(ctx, tx, batch.AddRequest{Recipient: "7", Key: "ticket/1", Schedule: window.Schedule, Event: ev})
			aWindow = j.Window
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if aWindow == bw.window {
		t.Fatalf("A's events joined B's window %d", bw.window)
	}
	// Flushing A's window delivers A's events only, under A's context,
	// minus what A's users:7 turned off (A's preference, read in A), even
	// from a flusher whose own context is B's (a worker serves every
	// tenant: the window's tenant decides, not the caller's).
	res, err := bw.batcher.FlushWindow(as(tenantB, "7"), aWindow, now.Add(2*time.Hour))
	if err != nil || res.Sent != 1 {
		t.Fatalf("flush of A's window: %+v, %v", res, err)
	}
	if len(bw.rec.got) != 1 {
		t.Fatalf("%d deliveries, want A's one", len(bw.rec.got))
	}
	d := bw.rec.got[0]
	if d.ctxTenant != tenantA || d.batch.Tenant != tenantA {
		t.Errorf("A's window delivered under tenant %q (Batch.Tenant %q), want %s", d.ctxTenant, d.batch.Tenant, tenantA)
	}
	var actions []string
	for _, ev := range d.batch.Events {
		if ev.TenantID != tenantA {
			t.Errorf("A's window delivered %s of tenant %q", ev.Ref(), ev.TenantID)
		}
		actions = append(actions, ev.Action)
	}
	if len(actions) != 2 || actions[0] != "commented" || actions[1] != "commented" {
		t.Errorf("A's window delivered %v, want A's two comments (A's users:7 turned opened mails off)", actions)
	}

	// Collapsed notifications: A's burst on issue 1 never collapses into
	// B's row for the same recipient, subject id and action.
	for _, ev := range a.events {
		if err := inboxtest.Process(t, appDB, bw.collapse, ev); err != nil {
			t.Fatal(err)
		}
	}
	page, err := notify.List(inA, appDB, notify.Query{Recipient: "9", Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	var collapsed []notify.Notification
	for _, n := range page.Notifications {
		if n.CollapseUntil != nil {
			collapsed = append(collapsed, n)
		}
	}
	var comments int
	for _, n := range collapsed {
		if n.ID == bw.row || n.Tenant != tenantA {
			t.Errorf("A lists collapsed row %d of tenant %q (B's is %d)", n.ID, n.Tenant, bw.row)
		}
		if n.Action == "commented" {
			comments = n.ItemCount
		}
	}
	if len(collapsed) != 2 || comments != 2 {
		t.Errorf("A's collapsed rows for users:9 = %+v; want A's own two (two comments on issue 1, opened on issue 2)", collapsed)
	}
	// Each of A's three arrivals moved A's stream of users:9 only, never
	// numbered after B's two.
	if c, err := notify.CountsOf(inA, appDB, "9"); err != nil || c.Head != 3 {
		t.Errorf("CountsOf(9) as A = %+v, %v; want head 3, A's own arrivals", c, err)
	}
}
