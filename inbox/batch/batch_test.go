package batch_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

func (r *recorder) deliver(_ context.Context, b *batch.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, batchCopy{ID: b.ID, Recipient: b.Recipient, Key: b.Key, Events: append([]activity.Event(nil), b.Events...)})
	return nil
}

func (r *recorder) got() []batchCopy {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]batchCopy(nil), r.batches...)
}

func newBatcher(t *testing.T, cfg batch.Config) *batch.Batcher {
	t.Helper()
	if cfg.DB == nil {
		cfg.DB = testDB
	}
	b, err := batch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// add puts events into recipient's window, each in its own transaction as
// a delivery would.
func add(t *testing.T, b *batch.Batcher, recipient, key string, s inbox.Schedule, loc *time.Location, evs ...activity.Event) []batch.Joined {
	t.Helper()
	var out []batch.Joined
	for _, ev := range evs {
		err := testDB.Transaction(func(tx *gorm.DB) error {
			j, err := b.Add(t.Context(), tx, batch.AddRequest{Recipient: recipient, Key: key, Schedule: s, Location: loc, Event: ev})
			out = append(out, j)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func events(n int, subject string) []activity.Event {
	out := make([]activity.Event, n)
	for i := range out {
		out[i] = event(subject, "comment_added", "ana")
	}
	return out
}

func TestThirtyEventsOneDelivery(t *testing.T) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	rec := &recorder{}
	b := newBatcher(t, batch.Config{Inbox: uniqueInbox("thirty"), Deliver: rec.deliver, Now: clk.Now})
	evs := events(30, "12")
	joined := add(t, b, "bob", "", inbox.FixedWindow(15*time.Minute), nil, evs...)
	for _, j := range joined[1:] {
		if j.Window != joined[0].Window {
			t.Fatalf("events went to windows %d and %d, want one", joined[0].Window, j.Window)
		}
	}
	if joined[29].Items != 30 {
		t.Errorf("window holds %d items, want 30", joined[29].Items)
	}
	// Not due yet: nothing goes.
	clk.Add(14 * time.Minute)
	if res, err := b.Flush(ctx, clk.Now()); err != nil || res.Sent != 0 {
		t.Fatalf("flush before the window closed: %+v, %v", res, err)
	}
	clk.Add(time.Minute)
	res, err := b.Flush(ctx, clk.Now())
	if err != nil || res.Sent != 1 {
		t.Fatalf("flush at close: %+v, %v; want one sent", res, err)
	}
	got := rec.got()
	if len(got) != 1 || len(got[0].Events) != 30 {
		t.Fatalf("deliveries %d, want 1 with 30 events", len(got))
	}
	for i, ev := range got[0].Events {
		if ev.ID != evs[i].ID {
			t.Fatalf("item %d is event %d, want %d (join order)", i, ev.ID, evs[i].ID)
		}
	}
	// Flushing again sends nothing; a later event opens a new window.
	if res, _ := b.Flush(ctx, clk.Now().Add(time.Hour)); res.Sent != 0 {
		t.Errorf("second flush sent %d", res.Sent)
	}
	late := add(t, b, "bob", "", inbox.FixedWindow(15*time.Minute), nil, event("12", "comment_added", "dan"))
	if late[0].Window == joined[0].Window {
		t.Error("an event joined a window already delivered")
	}
}

func TestCapFlushesEarly(t *testing.T) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	rec := &recorder{}
	b := newBatcher(t, batch.Config{Inbox: uniqueInbox("cap"), Deliver: rec.deliver, Now: clk.Now, MaxItems: 10})
	joined := add(t, b, "bob", "", inbox.DailyAt(8, 0), nil, events(25, "12")...)
	if !joined[9].Full || !joined[19].Full || joined[24].Full {
		t.Fatalf("the 10th and 20th items should seal their windows: %+v", joined)
	}
	if joined[10].Window == joined[9].Window {
		t.Fatal("the 11th item joined a full window")
	}
	res, err := b.Flush(ctx, clk.Now()) // long before 08:00 next day
	if err != nil || res.Sent != 2 {
		t.Fatalf("flush of full windows: %+v, %v; want 2 sent", res, err)
	}
	for _, g := range rec.got() {
		if len(g.Events) != 10 {
			t.Errorf("a full window delivered %d events, want 10", len(g.Events))
		}
	}
	res, _ = b.Flush(ctx, time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC))
	if res.Sent != 1 || len(rec.got()) != 3 || len(rec.got()[2].Events) != 5 {
		t.Fatalf("the rest at 08:00: %+v, deliveries %d", res, len(rec.got()))
	}
}

func TestDailyAtBerlinAcrossDST(t *testing.T) {
	ctx := t.Context()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// Saturday 28 March 2026, 09:00 CET; clocks spring forward that night.
	clk := &clock{t: time.Date(2026, 3, 28, 9, 0, 0, 0, berlin)}
	rec := &recorder{}
	b := newBatcher(t, batch.Config{Inbox: uniqueInbox("dst"), Deliver: rec.deliver, Now: clk.Now})
	j := add(t, b, "ana", "", inbox.DailyAt(8, 0), berlin, events(3, "12")...)
	want := time.Date(2026, 3, 29, 6, 0, 0, 0, time.UTC) // 08:00 CEST
	if !j[0].DueAt.Equal(want) {
		t.Fatalf("due %v, want %v (08:00 Berlin summer time)", j[0].DueAt.UTC(), want)
	}
	if res, _ := b.Flush(ctx, want.Add(-time.Minute)); res.Sent != 0 {
		t.Fatal("flushed before 08:00 local")
	}
	// 07:00 UTC would be 08:00 on the winter clock: already late by then.
	if res, _ := b.Flush(ctx, want); res.Sent != 1 {
		t.Fatal("not flushed at 08:00 local")
	}
	// And back in autumn: 25 October 2026 falls back; 08:00 CET is 07:00 UTC.
	got := inbox.DailyAt(8, 0).Close(time.Date(2026, 10, 24, 20, 0, 0, 0, berlin), berlin)
	if !got.Equal(time.Date(2026, 10, 25, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("autumn close %v, want 07:00 UTC", got.UTC())
	}
}

func TestKilledWorkerLosesNothingAndSendsOnce(t *testing.T) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	name := uniqueInbox("killed")
	// The first worker gathers ten events, then dies with the window open.
	first := newBatcher(t, batch.Config{Inbox: name, Deliver: func(context.Context, *batch.Batch) error { return nil }, Now: clk.Now})
	add(t, first, "bob", "", inbox.EveryHour(), nil, events(10, "12")...)

	// The next worker starts empty: its sweep finds the window at its close.
	rec := &recorder{}
	dying := true
	second := newBatcher(t, batch.Config{Inbox: name, Now: clk.Now, ClaimTimeout: time.Minute,
		Deliver: func(ctx context.Context, b *batch.Batch) error {
			if dying {
				runtime.Goexit() // killed after claiming, before marking
			}
			return rec.deliver(ctx, b)
		}})
	clk.Set(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _, _ = second.Flush(ctx, clk.Now()) }()
	wg.Wait()
	dying = false

	// While the dead claim is fresh nobody takes it; after ClaimTimeout a
	// restarted flusher delivers it, once, with every item.
	if res, _ := second.Flush(ctx, clk.Now().Add(30*time.Second)); res.Sent != 0 {
		t.Fatalf("a fresh claim was taken over: %+v", res)
	}
	if res, err := second.Flush(ctx, clk.Now().Add(time.Minute)); err != nil || res.Sent != 1 {
		t.Fatalf("takeover: %+v, %v", res, err)
	}
	if res, _ := second.Flush(ctx, clk.Now().Add(time.Hour)); res.Sent != 0 {
		t.Fatalf("delivered again: %+v", res)
	}
	got := rec.got()
	if len(got) != 1 || len(got[0].Events) != 10 {
		t.Fatalf("deliveries %+v, want one of 10 events", got)
	}
}

func TestConcurrentFlushersDeliverEachWindowOnce(t *testing.T) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	rec := &recorder{}
	name := uniqueInbox("race")
	b := newBatcher(t, batch.Config{Inbox: name, Deliver: rec.deliver, Now: clk.Now, BatchSize: 3})
	for i := range 40 {
		add(t, b, "r"+string(rune('a'+i%26))+string(rune('a'+i/26)), "", inbox.FixedWindow(time.Minute), nil, events(2, "12")...)
	}
	due := clk.Now().Add(time.Minute)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// each flusher is its own Batcher, as in other processes
			f, _ := batch.New(batch.Config{Inbox: name, DB: testDB, Deliver: rec.deliver, Now: clk.Now, BatchSize: 3})
			if _, err := f.Flush(ctx, due); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := map[int64]int{}
	for _, g := range rec.got() {
		seen[g.ID]++
	}
	if len(seen) != 40 {
		t.Errorf("%d windows delivered, want 40", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("window %d delivered %d times", id, n)
		}
	}
}

func TestWantedDropsItemsMutedMidWindow(t *testing.T) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	rec := &recorder{}
	muted := map[string]bool{}
	b := newBatcher(t, batch.Config{Inbox: uniqueInbox("mute"), Deliver: rec.deliver, Now: clk.Now,
		Wanted: func(_ context.Context, _ *gorm.DB, bt *batch.Batch) ([]activity.Event, error) {
			var out []activity.Event
			for _, ev := range bt.Events {
				if !muted[ev.SubjectID] {
					out = append(out, ev)
				}
			}
			return out, nil
		}})
	add(t, b, "bob", "", inbox.EveryHour(), nil, append(events(3, "12"), events(2, "13")...)...)
	add(t, b, "eve", "", inbox.EveryHour(), nil, events(2, "13")...)
	muted["13"] = true // set while the windows are open
	res, err := b.Flush(ctx, clk.Now().Add(time.Hour))
	if err != nil || res.Sent != 1 || res.Dropped != 1 {
		t.Fatalf("flush %+v, %v; want bob's sent, eve's dropped", res, err)
	}
	if got := rec.got(); len(got) != 1 || len(got[0].Events) != 3 {
		t.Fatalf("delivered %+v, want bob's 3 events of #12", got)
	}
}

func TestFailedDeliveryRetriesThenFails(t *testing.T) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	calls := 0
	b := newBatcher(t, batch.Config{Inbox: uniqueInbox("retry"), Now: clk.Now, MaxAttempts: 2,
		Backoff: func(int) time.Duration { return time.Minute },
		Deliver: func(context.Context, *batch.Batch) error { calls++; return errors.New("smtp: 451 try later") }})
	add(t, b, "bob", "", inbox.FixedWindow(time.Minute), nil, events(1, "12")...)
	at := clk.Now().Add(time.Minute)
	if res, _ := b.Flush(ctx, at); res.Retrying != 1 {
		t.Fatalf("first failure: %+v", res)
	}
	if res, _ := b.Flush(ctx, at.Add(30*time.Second)); res != (batch.Result{}) {
		t.Fatalf("retried before its backoff: %+v", res)
	}
	if res, _ := b.Flush(ctx, at.Add(time.Minute)); res.Failed != 1 || calls != 2 {
		t.Fatalf("out of attempts: %+v, calls %d", res, calls)
	}
}

func TestAddRefusesBadInput(t *testing.T) {
	b := newBatcher(t, batch.Config{Inbox: uniqueInbox("bad"), Deliver: func(context.Context, *batch.Batch) error { return nil }})
	cases := []batch.AddRequest{
		{Recipient: "", Schedule: inbox.EveryHour(), Event: event("1", "a", "x")},
		{Recipient: "a\x00b", Schedule: inbox.EveryHour(), Event: event("1", "a", "x")},
		{Recipient: "bob", Key: "\xff", Schedule: inbox.EveryHour(), Event: event("1", "a", "x")},
		{Recipient: "bob", Schedule: inbox.Schedule{}, Event: event("1", "a", "x")},
		{Recipient: "bob", Schedule: inbox.FixedWindow(-time.Second), Event: event("1", "a", "x")},
		{Recipient: "bob", Schedule: inbox.EveryHour()},
	}
	for _, c := range cases {
		err := testDB.Transaction(func(tx *gorm.DB) error { _, err := b.Add(t.Context(), tx, c); return err })
		var ce *inbox.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("Add(%+v) = %v, want a *inbox.ConfigError", c, err)
		}
	}
	if _, err := batch.New(batch.Config{Inbox: "x", DB: testDB}); err == nil {
		t.Error("New without Deliver succeeded")
	}
}

func TestScheduleParse(t *testing.T) {
	for _, s := range []inbox.Schedule{inbox.FixedWindow(15 * time.Minute), inbox.EveryHour(), inbox.DailyAt(8, 0), inbox.WeeklyAt(time.Monday, 7, 30)} {
		got, err := inbox.ParseSchedule(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSchedule(%q) = %+v, %v", s.String(), got, err)
		}
	}
	for _, bad := range []string{"", "daily@24:00", "daily@8:00", "weekly@7@08:00", "window:-1s", "window:9999h", "monthly"} {
		if _, err := inbox.ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) succeeded", bad)
		}
	}
	// weekly: Monday 07:30 after Wednesday is the next Monday
	wed := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	if got := inbox.WeeklyAt(time.Monday, 7, 30).Close(wed, time.UTC); !got.Equal(time.Date(2026, 3, 9, 7, 30, 0, 0, time.UTC)) {
		t.Errorf("weekly close %v", got)
	}
}

// A mute set in the preferences while the window is open drops those
// items at flush time; a critical kind stays even when "off".
func TestWantedOnPreferencesMidWindow(t *testing.T) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	rec := &recorder{}
	defaults := &inbox.Defaults{Critical: []inbox.Kind{{Channel: inbox.AnyChannel, Domain: "issue", Action: "security_alert"}}}
	b := newBatcher(t, batch.Config{Inbox: uniqueInbox("prefs"), Deliver: rec.deliver, Now: clk.Now, Wanted: batch.WantedOn(defaults, inbox.ChannelEmail)})
	who := uniqueInbox("person")
	evs := append(events(3, "12"), event("12", "label_added", "ana"), event("12", "security_alert", "system"))
	add(t, b, who, "", inbox.EveryHour(), nil, evs...)
	if err := inbox.Mute(ctx, testDB, who, inbox.ChannelEmail, "issue", "comment_added"); err != nil {
		t.Fatal(err)
	}
	// a row muting the critical kind, written around Defaults.Set
	if err := inbox.Mute(ctx, testDB, who, inbox.AnyChannel, "issue", inbox.AnyAction+""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Flush(ctx, clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := rec.got()
	if len(got) != 1 || len(got[0].Events) != 1 || got[0].Events[0].Action != "security_alert" {
		t.Fatalf("delivered %+v, want only the critical security_alert", got)
	}
}
