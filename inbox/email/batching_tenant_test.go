package email_test

import (
	"context"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
)

// A person's choice and mutes are per tenant, and so is a digest window:
// Bo batches hourly in tenant ta and chose nothing in tb (immediate); a
// mute Bo sets in tb, or in the untenanted app, while ta's window is open
// does not touch ta's digest, which lists ta's events only.
func TestBatchingPerTenant(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	bo, eve := person("Bo"), person("Eve")
	inA := activity.WithTenant(context.Background(), "ta")
	inB := activity.WithTenant(context.Background(), "tb")
	defaults := &inbox.Defaults{}
	if err := defaults.SetChoice(inA, testDB, bo.ID, inbox.ChannelEmail, "issue", inbox.AnyAction, inbox.BatchedOn(inbox.EveryHour())); err != nil {
		t.Fatal(err)
	}
	clk := newClock(t0)
	in := newInbox(t, srv, email.InboxConfig{Name: unique("batchtenants"), Recipients: fixed(bo), Now: clk.Now, DB: testDB, Defaults: defaults,
		Batching: &email.BatchingConfig{}})
	for _, tn := range []string{"ta", "tb", "ta", "tb", "ta"} {
		ev := newEvent("42", "comment_added", eve, nil)
		ev.TenantID = tn
		if err := inboxtest.Process(t, testDB, in, ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.WaitFor(2, wait); err != nil { // tb's two, at once
		t.Fatal(err)
	}
	for _, ctx := range []context.Context{inB, context.Background()} {
		if err := inbox.Mute(ctx, testDB, bo.ID, inbox.AnyChannel, "issue", inbox.AnyAction); err != nil {
			t.Fatal(err)
		}
	}
	if res := flush(t, in, t0.Add(time.Hour)); res.Sent != 1 || res.Dropped != 0 {
		t.Fatalf("flush: %+v; want ta's digest sent (mutes of tb and of no tenant are not ta's)", res)
	}
	msgs, err := srv.WaitFor(3, wait)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || msgs[2].To[0] != bo.Email {
		t.Fatalf("%d mails, last to %v; want 3, the digest to Bo", len(msgs), msgs[2].To)
	}
	var items []int
	if err := testDB.Raw(`SELECT count(*) FROM batch_items i JOIN batch_windows w ON w.id = i.window_id
WHERE w.inbox = ? GROUP BY w.id, w.tenant_id HAVING bool_and(i.tenant_id = w.tenant_id AND i.event->>'tenant_id' = w.tenant_id) ORDER BY 1`, in.Name()).Scan(&items).Error; err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0] != 3 {
		t.Errorf("windows' item counts %v, want one window of ta's 3 events", items)
	}
}
