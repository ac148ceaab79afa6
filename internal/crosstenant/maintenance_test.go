package crosstenant_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/migrations"
	"github.com/tidingsdev/tidings/workflow"
)

// testMaintenance calls, as tenant A (ctx), what prunes and what reads or
// records around the feed, on B's data; it runs last, since it deletes
// A's finished runs. In the as-app-role run (held), it also checks that
// the operator's tables keep their rows from the app's role.
func testMaintenance(t *testing.T, w *world, ctx context.Context, held bool) {
	b := w.tenant[tenantB]

	// The engine processed A's events (in build): only A's rules ran on
	// them, and their runs and action runs are A's.
	cover(w.engine.Process)
	var aIDs []int64
	for _, e := range w.tenant[tenantA].events {
		aIDs = append(aIDs, e.ID)
	}
	var runs []struct {
		RuleID int64
		Tenant string
	}
	if err := testDB.Raw(`SELECT rule_id, coalesce(tenant_id, '') AS tenant FROM workflow_runs WHERE domain = 'ticket' AND event_id = ANY(?)
UNION ALL SELECT rule_id, coalesce(tenant_id, '') FROM workflow_action_runs WHERE domain = 'ticket' AND event_id = ANY(?)`, pgarray.Int8(aIDs), pgarray.Int8(aIDs)).Scan(&runs).Error; err != nil {
		t.Fatal(err)
	}
	if len(runs) == 0 {
		t.Fatal("the engine logged no run of A's events: the case would prove nothing")
	}
	for _, r := range runs {
		if r.RuleID != w.tenant[tenantA].rule.ID || r.Tenant != tenantA {
			t.Errorf("a run of A's event: rule %d of tenant %q, want A's rule %d", r.RuleID, r.Tenant, w.tenant[tenantA].rule.ID)
		}
	}

	// PruneRuns deletes A's finished runs, never B's (the snapshot checks
	// B's runs and action runs are unchanged).
	var aRuns, bRuns int64
	if err := testDB.Raw(`SELECT count(*) FILTER (WHERE tenant_id = ?), count(*) FILTER (WHERE tenant_id = ?) FROM workflow_runs WHERE status IN ('no_match', 'done', 'stopped')`,
		tenantA, tenantB).Row().Scan(&aRuns, &bRuns); err != nil {
		t.Fatal(err)
	}
	if aRuns == 0 || bRuns == 0 {
		t.Fatalf("finished runs: A %d, B %d; the case needs both", aRuns, bRuns)
	}
	cover(w.rules.PruneRuns)
	if n, err := w.rules.PruneRuns(ctx, time.Now().Add(time.Hour)); err != nil || n != aRuns {
		t.Errorf("PruneRuns as A = %d, %v; want A's %d finished runs (B has %d)", n, err, aRuns, bRuns)
	}

	// The last event as A is A's.
	var aLast time.Time
	if err := testDB.Raw(`SELECT max(occurred_at) FROM ticket_events WHERE tenant_id = ?`, tenantA).Row().Scan(&aLast); err != nil {
		t.Fatal(err)
	}
	cover(tickets.LastOccurred)
	if at, ok, err := tickets.LastOccurred(ctx, appDB, activity.HistoryQuery{}); err != nil || !ok || !at.Equal(aLast) {
		t.Errorf("LastOccurred as A = %s %v %v; want A's %s", at, ok, err, aLast)
	}

	// Recording in bulk as A while handling B's event is refused.
	cover(tickets.RecordEvents)
	job := activity.WithCause(ctx, activity.CauseOf(b.events[0]))
	if _, err := tickets.RecordEvents(job, appDB, []activity.NewEvent{{Subject: 1, Action: "opened"}}); !errors.Is(err, activity.ErrCrossTenant) {
		t.Errorf("RecordEvents in A caused by B's event: err = %v, want ErrCrossTenant", err)
	}

	// A's unseen count of users:9 (the collapsed rows of batching's case)
	// counts A's rows, never B's.
	unseen := func(tenant string) (n int64) {
		if err := testDB.Raw(`SELECT count(*) FROM notifications WHERE tenant_id = ? AND recipient = '9'
AND seen_at IS NULL AND read_at IS NULL AND archived_at IS NULL`, tenant).Row().Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if unseen(tenantB) == 0 {
		t.Fatal("B's users:9 has no unseen notification: the case would prove nothing")
	}
	cover(notify.UnseenCount)
	if n, err := notify.UnseenCount(ctx, appDB, "9"); err != nil || n != unseen(tenantA) {
		t.Errorf("UnseenCount(9) as A = %d, %v; want A's %d (B has %d)", n, err, unseen(tenantA), unseen(tenantB))
	}

	// A's mute and A's new rule stay A's.
	cover(inbox.Mute, w.rules.Create)
	if err := inbox.Mute(ctx, appDB, "8", inbox.ChannelSlack, "ticket", "commented"); err != nil {
		t.Error(err)
	}
	if got, err := inbox.Unmuted(as(tenantB, "8"), appDB, inbox.ChannelSlack, "ticket", "commented", []string{"8"}); err != nil || len(got) != 1 {
		t.Errorf("A's Slack mute reached B: Unmuted in B = %v, %v", got, err)
	}
	r, err := w.rules.Create(ctx, "users:8", workflow.Rule{
		Name: "A's own", Domain: "ticket", TriggeredOn: "opened", Enabled: true,
		Actions: []workflow.RuleAction{workflow.Do(workflow.ActionRecordEvent, workflow.Params{"action": "commented"})},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Tenant != tenantA {
		t.Errorf("Create as A made a rule of tenant %q", r.Tenant)
	}
	if _, err := w.rules.Get(as(tenantB, "7"), r.ID); !errors.Is(err, workflow.ErrRuleNotFound) {
		t.Errorf("B reads A's new rule: err = %v, want ErrRuleNotFound", err)
	}

	// The deliveries ledger: A's calls on B's key (the key is global, an
	// event id being unique across tenants) neither read nor change B's row.
	var bKey inbox.Key
	if err := testDB.Raw(`SELECT inbox, domain, event_id, recipient FROM inbox_deliveries WHERE tenant_id = ? ORDER BY 1, 2, 3, 4 LIMIT 1`, tenantB).
		Row().Scan(&bKey.Inbox, &bKey.Event.Domain, &bKey.Event.ID, &bKey.Recipient); err != nil {
		t.Fatal(err)
	}
	l := inbox.NewLedger(inbox.LedgerConfig{})
	cover(l.Lookup, l.Claim, l.MarkSent, l.Release, l.Refuse, l.Once, l.OnceEach, l.Send)
	if e, found, err := l.Lookup(ctx, appDB, bKey); err != nil || found {
		t.Errorf("Lookup(B's %s) as A = %+v %v %v; want nothing", bKey, e, found, err)
	}
	if ok, err := l.Claim(ctx, appDB, bKey); ok {
		t.Errorf("Claim(B's %s) as A = %v, %v; want no claim", bKey, ok, err)
	}
	for name, mark := range map[string]func(context.Context, *gorm.DB, inbox.Key) error{
		"MarkSent": l.MarkSent,
		"Release": func(ctx context.Context, db *gorm.DB, k inbox.Key) error {
			return l.Release(ctx, db, k, errors.New("x"))
		},
		"Refuse": func(ctx context.Context, db *gorm.DB, k inbox.Key) error {
			return l.Refuse(ctx, db, k, errors.New("x"))
		},
	} {
		if err := mark(ctx, appDB, bKey); err == nil {
			t.Errorf("%s(B's %s) as A: no error, want not claimed", name, bKey)
		}
	}
	ran := false
	if ok, err := l.Once(ctx, appDB, bKey, func(*gorm.DB) error { ran = true; return nil }); ok || ran || err != nil {
		t.Errorf("Once(B's %s) as A = %v, %v (ran %v); want skipped", bKey, ok, err, ran)
	}
	if fresh, err := l.OnceEach(ctx, appDB, []inbox.Key{bKey}, func(*gorm.DB, []inbox.Key) error { ran = true; return nil }); len(fresh) != 0 || ran || err != nil {
		t.Errorf("OnceEach(B's %s) as A = %v, %v (ran %v); want skipped", bKey, fresh, err, ran)
	}
	if ok, _ := l.Send(ctx, appDB, bKey, func(context.Context) error { ran = true; return nil }); ok || ran {
		t.Errorf("Send(B's %s) as A = %v (ran %v); want not sent", bKey, ok, ran)
	}
	// The same through a Delivery of B's event handed to a job whose
	// context is A's.
	d := &inbox.Delivery{Inbox: bKey.Inbox, Event: activity.Event{Domain: bKey.Event.Domain, ID: bKey.Event.ID}, DB: appDB, Ledger: l}
	cover(d.Once, d.OnceEach, d.Send, d.SendTo)
	if ok, err := d.Once(ctx, appDB, bKey.Recipient, func(*gorm.DB) error { ran = true; return nil }); ok || ran || err != nil {
		t.Errorf("Delivery.Once(B's %s) as A = %v, %v (ran %v); want skipped", bKey, ok, err, ran)
	}
	if fresh, err := d.OnceEach(ctx, appDB, []string{bKey.Recipient}, func(*gorm.DB, []string) error { ran = true; return nil }); len(fresh) != 0 || ran || err != nil {
		t.Errorf("Delivery.OnceEach(B's %s) as A = %v, %v (ran %v); want skipped", bKey, fresh, err, ran)
	}
	for name, send := range map[string]func(context.Context, string, func(context.Context) error) (bool, error){"Send": d.Send, "SendTo": d.SendTo} {
		if ok, _ := send(ctx, bKey.Recipient, func(context.Context) error { ran = true; return nil }); ok || ran {
			t.Errorf("Delivery.%s(B's %s) as A = %v (ran %v); want not sent", name, bKey, ok, ran)
		}
	}

	if !held {
		return
	}
	// The operator's tables: the app's role, whatever tenant it names,
	// sees and writes none of their rows.
	for _, stmt := range []string{
		`INSERT INTO inbox_dead_letters (inbox, domain, event_id, queue, task_id, attempts, last_error, failed_at)
VALUES ('ct', 'ticket', ?, 'q', 't', 1, 'failed for B', now()) ON CONFLICT DO NOTHING`,
		`INSERT INTO inbox_pending (domain, event_id, inbox, action, queue, check_at) VALUES ('ticket', ?, 'ct', 'commented', 'q', now()) ON CONFLICT DO NOTHING`,
	} {
		if err := testDB.Exec(stmt, b.events[0].ID).Error; err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range migrations.OperatorTables() {
		var all, seen int64
		if err := testDB.Raw(`SELECT count(*) FROM ` + table).Row().Scan(&all); err != nil {
			t.Fatal(err)
		}
		if err := appDB.WithContext(ctx).Raw(`SELECT count(*) FROM ` + table).Row().Scan(&seen); err != nil || seen != 0 {
			t.Errorf("the app's role as A sees %d of the %d rows of the operator's %s (%v), want none", seen, all, table, err)
		}
		if res := appDB.WithContext(ctx).Exec(`DELETE FROM ` + table); res.Error != nil || res.RowsAffected != 0 {
			t.Errorf("the app's role as A deleted %d rows of the operator's %s (%v), want none", res.RowsAffected, table, res.Error)
		}
	}
}
