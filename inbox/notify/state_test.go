package notify_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/notify"
)

type announcements struct {
	mu  sync.Mutex
	got []notify.Arrival
}

func (a *announcements) Announce(_ context.Context, arr []notify.Arrival) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, arr...)
	return nil
}

// Archive, mark unread and delete act on one's own notifications only, and
// the counts follow; Since returns arrivals in Seq order, each announced.
func TestArchiveUnreadDeleteSince(t *testing.T) {
	ctx := context.Background()
	p, issue := setup(t)
	ann := &announcements{}
	n, err := notify.New(notify.Config{Recipients: authorAndSubscribers, Announcer: ann})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		res, err := issues.RecordEvent(ctx, db, issue, "comment_added", activity.Actor(user(p.di, "Di")))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // a retried job announces nothing new
			if err := inboxtest.Process(t, db, n, res.Event); err != nil {
				t.Fatal(err)
			}
		}
	}
	ana := id(p.ana)
	got, err := notify.Since(ctx, db, ana, 0, 0)
	if err != nil || len(got) != 4 {
		t.Fatalf("Since(0): %d notifications, %v; want 4", len(got), err)
	}
	for i, x := range got {
		if x.Seq != int64(i+1) {
			t.Errorf("Ana's notification %d has Seq %d, want %d", i, x.Seq, i+1)
		}
	}
	anaAnn := 0
	for _, a := range ann.got {
		if a.Recipient == ana {
			anaAnn++
		}
	}
	if anaAnn != 4 {
		t.Errorf("%d arrivals announced for Ana, want 4 (one per notification, none for retries)", anaAnn)
	}
	if later, _ := notify.Since(ctx, db, ana, 2, 0); len(later) != 2 || later[0].Seq != 3 {
		t.Errorf("Since(2) = %+v, want Seq 3 and 4", later)
	}
	c, err := notify.CountsOf(ctx, db, ana)
	if err != nil || c.Unread != 4 || c.Unseen != 4 || c.Head != 4 {
		t.Fatalf("counts %+v, %v; want 4 unread, 4 unseen, head 4", c, err)
	}
	first := got[0].ID
	cy := id(p.cy)
	for name, f := range map[string]func(context.Context, string, int64) (bool, error){
		"archive": func(ctx context.Context, r string, id int64) (bool, error) { return notify.Archive(ctx, db, r, id) },
		"delete":  func(ctx context.Context, r string, id int64) (bool, error) { return notify.Delete(ctx, db, r, id) },
		"read":    func(ctx context.Context, r string, id int64) (bool, error) { return notify.MarkRead(ctx, db, r, id) },
	} {
		if ok, err := f(ctx, cy, first); ok || err != nil {
			t.Errorf("Cy could %s Ana's notification: %v, %v", name, ok, err)
		}
	}
	if ok, err := notify.Archive(ctx, db, ana, first); !ok || err != nil {
		t.Fatalf("archive: %v, %v", ok, err)
	}
	if c, _ := notify.CountsOf(ctx, db, ana); c.Unread != 3 {
		t.Errorf("after archiving one, %d unread, want 3", c.Unread)
	}
	list, _ := notify.List(ctx, db, notify.Query{Recipient: ana})
	archived, _ := notify.List(ctx, db, notify.Query{Recipient: ana, Archived: true})
	if len(list.Notifications) != 3 || len(archived.Notifications) != 1 || archived.Notifications[0].ID != first {
		t.Errorf("list %d, archived %d; want 3 and the archived one", len(list.Notifications), len(archived.Notifications))
	}
	if ok, _ := notify.Unarchive(ctx, db, ana, first); !ok {
		t.Error("unarchive changed nothing")
	}
	if ok, _ := notify.MarkRead(ctx, db, ana, first); !ok {
		t.Error("mark read changed nothing")
	}
	if ok, _ := notify.MarkUnread(ctx, db, ana, first); !ok {
		t.Error("mark unread changed nothing")
	}
	if x, err := notify.Get(ctx, db, ana, first); err != nil || !x.Unread() || x.Archived() {
		t.Errorf("after unarchive and unread: %+v, %v", x, err)
	}
	if ok, _ := notify.Delete(ctx, db, ana, first); !ok {
		t.Error("delete changed nothing")
	}
	if _, err := notify.Get(ctx, db, ana, first); !errors.Is(err, notify.ErrNotFound) {
		t.Errorf("a deleted notification: %v, want ErrNotFound", err)
	}
	if c, _ := notify.CountsOf(ctx, db, ana); c.Unread != 3 || c.Head != 4 {
		t.Errorf("after delete: %+v, want 3 unread, head 4", c)
	}
	if _, err := notify.Since(ctx, db, ana, -1, 0); !errors.Is(err, notify.ErrInvalidQuery) {
		t.Errorf("Since(-1): %v", err)
	}
}

// A recipient's Seq numbers commit in order: a delivery to Ana that has not
// committed holds back the next one to her (it waits on her
// notification_heads row), so a stream that saw Seq n never misses a
// lower one committed later.
func TestSeqCommitsInOrder(t *testing.T) {
	ctx := context.Background()
	p, issue := setup(t)
	n, err := notify.New(notify.Config{Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) {
		return []string{id(p.ana)}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	record := func() activity.Event {
		res, err := issues.RecordEvent(ctx, db, issue, "comment_added", activity.Actor(user(p.bo, "Bo")))
		if err != nil {
			t.Fatal(err)
		}
		return res.Event
	}
	first, second := record(), record()
	ana := id(p.ana)
	head, _ := notify.CountsOf(ctx, db, ana)
	tx := db.Begin()
	defer tx.Rollback()
	if err := n.Process(ctx, inboxtest.NewDelivery(tx, n, first)); err != nil {
		t.Fatal(err)
	}
	var pid int
	tx.Raw(`SELECT pg_backend_pid()`).Scan(&pid)
	done := make(chan error, 1)
	go func() { done <- n.Process(ctx, inboxtest.NewDelivery(db, n, second)) }()
	// The second delivery waits on the first's lock (a signal from the
	// server, with a deadline).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		db.Raw(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> ?`, pid).Scan(&waiting)
		if waiting > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the second delivery committed (%v) while the first, with the lower Seq, was still open", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the second delivery neither waited nor finished within 10s")
		}
	}
	if err := tx.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := notify.Since(ctx, db, ana, head.Head, 0)
	if err != nil || len(got) != 2 || got[0].Event.ID != first.ID || got[1].Event.ID != second.ID || got[1].Seq != got[0].Seq+1 {
		t.Fatalf("after both commits Since(%d) = %+v, %v; want the first then the second, consecutive", head.Head, got, err)
	}
}

// Each (tenant, recipient) is a stream of its own: the same recipient key
// in two tenants and untenanted gets three streams, each numbered 1, 2, …
// without gaps however the tenants' deliveries interleave, whose heads
// (Counts.Head) count that stream's arrivals only, on the single and on the
// collapsing path (a delivery mixing both locks the heads of its tenant);
// every Arrival names its stream.
func TestSeqPerTenant(t *testing.T) {
	single, batched := "seq-tenant-8", "seq-tenant-9"
	defaults := &inbox.Defaults{}
	window := inbox.BatchedOn(inbox.FixedWindow(time.Hour))
	inTenant := func(tn string) context.Context {
		if tn == "" {
			return context.Background()
		}
		return activity.WithTenant(context.Background(), tn)
	}
	for _, tn := range []string{"ta", "tb", ""} {
		if err := defaults.SetChoice(inTenant(tn), db, batched, inbox.ChannelApp, "issue", inbox.AnyAction, window); err != nil {
			t.Fatal(err)
		}
	}
	ann := &announcements{}
	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n, err := notify.New(notify.Config{Name: "notify-seq-tenants", Accepts: inbox.On("issue"), Announcer: ann,
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) {
			return []string{single, batched}, nil
		},
		Defaults: defaults, Batching: true, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"tb", "ta", "tb", "", "tb", "ta", "tb"}
	for i, tn := range order {
		ev := activity.Event{ID: 9_100_000 + int64(i), Domain: "issue", SubjectID: "12", Action: "comment_added", TenantID: tn,
			ActorType: "users", ActorID: "1", ActorLabel: "user 1", Extra: []byte("{}"), OccurredAt: clock}
		if err := inboxtest.Process(t, db, n, ev); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Second)
	}
	for tn, count := range map[string]int64{"ta": 2, "tb": 4, "": 1} {
		ctx := inTenant(tn)
		got, err := notify.Since(ctx, db, single, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, x := range got {
			if x.Tenant != tn {
				t.Errorf("tenant %q reads notification %d of tenant %q", tn, x.ID, x.Tenant)
			}
			seqs = append(seqs, x.Seq)
		}
		if want := seqRange(count); !slices.Equal(seqs, want) {
			t.Errorf("tenant %q: %s's Seqs = %v, want its own %v", tn, single, seqs, want)
		}
		for who, head := range map[string]int64{single: count, batched: count} {
			if c, err := notify.CountsOf(ctx, db, who); err != nil || c.Head != head {
				t.Errorf("tenant %q: %s's counts %+v, %v; want head %d (its stream's arrivals)", tn, who, c, err, head)
			}
		}
	}
	// An export across tenants (an app whose person ids are global)
	// pages through every stream, though their Seqs repeat: 2 + 4 + 1 of
	// single's, two per page.
	var exported []string
	err = notify.EachOf(activity.AcrossTenants(context.Background()), db, single, 2, func(x notify.Notification) error {
		exported = append(exported, x.Tenant+"/"+strconv.FormatInt(x.Seq, 10))
		return nil
	})
	if want := []string{"/1", "ta/1", "tb/1", "ta/2", "tb/2", "tb/3", "tb/4"}; err != nil || !slices.Equal(exported, want) {
		t.Errorf("EachOf(%s) across tenants = %v, %v; want %v", single, exported, err, want)
	}
	// A person is an identity within a tenant: with one (or none: the
	// untenanted stream), only that stream.
	for tn, want := range map[string][]string{"ta": {"ta/1", "ta/2"}, "tb": {"tb/1", "tb/2", "tb/3", "tb/4"}, "": {"/1"}} {
		exported = nil
		err = notify.EachOf(inTenant(tn), db, single, 2, func(x notify.Notification) error {
			exported = append(exported, x.Tenant+"/"+strconv.FormatInt(x.Seq, 10))
			return nil
		})
		if err != nil || !slices.Equal(exported, want) {
			t.Errorf("EachOf(%s) in tenant %q = %v, %v; want %v", single, tn, exported, err, want)
		}
	}
	// The arrivals name their stream and number in it.
	next := map[string]int64{}
	for _, a := range ann.got {
		k := a.Tenant + "/" + a.Recipient
		next[k]++
		if a.Seq != next[k] {
			t.Errorf("arrival %+v, want Seq %d of its stream", a, next[k])
		}
	}
	if next["tb/"+single] != 4 || next["ta/"+batched] != 2 || next["/"+single] != 1 {
		t.Errorf("arrivals per stream %v", next)
	}
}

func seqRange(n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}
