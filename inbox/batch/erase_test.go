package batch_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
)

// Erasing a person deletes their own windows (their digest, a Slack
// window routed to their ID), masks their events' snapshots in everyone
// else's windows, and leaves other people's data alone: the window still
// flushes, with the person erased.
func TestErasePersonMasksWindows(t *testing.T) {
	ctx := t.Context()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	rec := &recorder{}
	mail := newBatcher(t, batch.Config{Inbox: uniqueInbox("erase-mail"), Deliver: rec.deliver, Now: clk.Now})
	chat := newBatcher(t, batch.Config{Inbox: uniqueInbox("erase-chat"), Deliver: rec.deliver, Now: clk.Now})
	n := eventSeq.Add(1)
	anaKey, bobKey := fmt.Sprint("ana-", n), fmt.Sprint("bob-", n)
	anaName, anaMail, anaIP, anaUA, anaSlack := "Ana Lima", "ana.lima@example.org", "203.0.113.9", "AnaAgent/1", fmt.Sprint("U0ANA", n)
	ip, ua := anaIP, anaUA
	byAna := event("12", "comment_added", anaKey)
	byAna.ActorLabel, byAna.IP, byAna.UserAgent = anaName, &ip, &ua
	byAna.Extra = []byte(`{"body": "ping ` + anaMail + `"}`)
	byHana := event("12", "comment_added", "hana")
	byHana.ActorLabel = "Hana Lima" // contains Ana's surname, not her name: kept
	hourly := inbox.EveryHour()
	join := func(b *batch.Batcher, r batch.AddRequest) {
		t.Helper()
		r.Schedule = hourly
		if err := testDB.Transaction(func(tx *gorm.DB) error { _, err := b.Add(ctx, tx, r); return err }); err != nil {
			t.Fatal(err)
		}
	}
	// Bob's digest lists Ana's and Hana's comments; Ana's own digest names
	// her in its profile; a Slack window goes to Ana's user ID.
	join(mail, batch.AddRequest{Recipient: bobKey, Profile: map[string]string{"name": "Bob", "email": "bob@example.org"}, Event: byAna})
	join(mail, batch.AddRequest{Recipient: bobKey, Event: byHana})
	join(mail, batch.AddRequest{Recipient: anaKey, Profile: map[string]string{"name": anaName, "email": anaMail}, Event: byHana})
	join(chat, batch.AddRequest{Recipient: anaSlack, Key: "issue/12", Event: byHana})
	testDB.Exec(`UPDATE batch_windows SET last_error = ? WHERE inbox = ? AND recipient = ?`, "550 <"+anaMail+">: no such user", mail.Inbox(), bobKey)

	p := activity.Person{Type: "users", ID: anaKey}.WithValues(anaName, anaMail, anaIP, anaUA, anaSlack)
	got, err := batch.ErasePerson(ctx, testDB, p)
	if err != nil {
		t.Fatal(err)
	}
	if got["batch_windows"] != 3 || got["batch_items"] < 1 {
		t.Errorf("counts %v; want 2 windows deleted and 1 masked, Ana's item masked", got)
	}
	var left []struct{ Recipient, Text string }
	testDB.Raw(`SELECT w.recipient, concat_ws(' ', w.profile::text, w.last_error, i.event::text) AS text FROM batch_windows w JOIN batch_items i ON i.window_id = w.id
WHERE w.inbox IN (?, ?) ORDER BY i.event_id`, mail.Inbox(), chat.Inbox()).Scan(&left)
	if len(left) != 2 || left[0].Recipient != bobKey || left[1].Recipient != bobKey {
		t.Fatalf("windows left %+v; want Bob's two items only", left)
	}
	for _, s := range []string{anaName, anaMail, anaIP, anaUA, anaSlack} {
		for _, l := range left {
			if containsFold(l.Text, s) {
				t.Errorf("%q still in Bob's window: %s", s, l.Text)
			}
		}
	}
	if !containsFold(left[1].Text, "Hana Lima") || !containsFold(left[0].Text, "bob@example.org") {
		t.Errorf("others' data lost: %+v", left)
	}
	// The window still flushes, with Ana erased.
	clk.Add(2 * time.Hour)
	if _, err := mail.Flush(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	b := rec.got()
	if len(b) != 1 || b[0].Recipient != bobKey || len(b[0].Events) != 2 {
		t.Fatalf("delivered %+v; want Bob's window of 2", b)
	}
	if e := b[0].Events[0]; e.ActorLabel != activity.ErasedLabel || e.IP != nil || e.UserAgent != nil || e.ActorID != anaKey {
		t.Errorf("Ana's event delivered as %+v; want the erased label, no IP or user agent, her key kept", e)
	}
}

// containsFold reports whether sub is in s as a whole word, ignoring
// case, as erasure matches ("Ana Lima" is not in "Hana Lima").
func containsFold(s, sub string) bool {
	return regexp.MustCompile(`(?i)(^|[^[:alnum:]])` + regexp.QuoteMeta(sub) + `([^[:alnum:]]|$)`).MatchString(s)
}
