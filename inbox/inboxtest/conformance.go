package inboxtest

import (
	"regexp"
	"testing"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

var tableRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Conformance checks what every Inbox owes the worker, on ev (an event it
// accepts, committed in db):
//
//   - Name is a valid inbox name and the same on every call;
//   - Accepts is pure: the same answer on every call, whatever is asked in
//     between;
//   - a retried job applies once: processing ev a second time (attempt 2)
//     succeeds and changes neither the deliveries ledger nor the row
//     counts of tables (the inbox's own tables: "notifications",
//     "batch_items", ...).
func Conformance(t testing.TB, db *gorm.DB, in inbox.Inbox, ev activity.Event, tables ...string) {
	t.Helper()
	name := in.Name()
	if !regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`).MatchString(name) {
		t.Fatalf("inboxtest: inbox name %q is not 1-64 of a-z 0-9 _ . -, starting with a letter", name)
	}
	for range 3 {
		if in.Name() != name {
			t.Fatalf("inboxtest: Name changed from %q to %q", name, in.Name())
		}
	}
	want := in.Accepts(ev.Domain, ev.Action)
	for range 3 {
		in.Accepts("other_domain", "other_action")
		in.Accepts(ev.Domain, "other_action")
		if in.Accepts(ev.Domain, ev.Action) != want {
			t.Fatalf("inboxtest: Accepts(%s, %s) changed its answer", ev.Domain, ev.Action)
		}
	}
	if !want {
		t.Fatalf("inboxtest: inbox %s does not accept %s %s: give Conformance an event it accepts", name, ev.Domain, ev.Action)
	}
	for _, tb := range tables {
		if !tableRE.MatchString(tb) {
			t.Fatalf("inboxtest: %q is not a table name", tb)
		}
	}
	counts := func() map[string]int64 {
		t.Helper()
		out := map[string]int64{}
		for _, tb := range append([]string{"inbox_deliveries"}, tables...) {
			var n int64
			if err := db.Raw(`SELECT count(*) FROM ` + tb).Scan(&n).Error; err != nil {
				t.Fatalf("inboxtest: count %s: %v", tb, err)
			}
			out[tb] = n
		}
		return out
	}
	if err := Process(t, db, in, ev); err != nil {
		t.Fatalf("inboxtest: first attempt at %s: %v", ev.Ref(), err)
	}
	once := counts()
	d := NewDelivery(db, in, ev)
	d.Attempt = 2
	if err := ProcessDelivery(t, in, d); err != nil {
		t.Fatalf("inboxtest: retried attempt at %s: %v", ev.Ref(), err)
	}
	for tb, n := range counts() {
		if n != once[tb] {
			t.Errorf("inboxtest: a retried job changed %s from %d to %d rows: it must apply once", tb, once[tb], n)
		}
	}
}
