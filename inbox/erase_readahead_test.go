package inbox_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/privacy"
)

// The worker's loader reads ahead the events after its jobs'. One of them
// may be the person's, not relayed yet (its outbox row waiting): the
// erasure holds that row until it commits and counts no delivery of it in
// flight, so EraseSettled returns at once; the relay then hands the event
// out, and its job's first attempt must load the erased event, not a copy
// read before the erasure (kept up to a second, here a minute: the test
// forces the read-ahead and its keep, see ReadAheadNext). Afterwards no
// column of any table and no Redis key or value holds the person's name.
func TestEraseSettledLeavesNoCopyReadAhead(t *testing.T) {
	t.Run("plain", func(t *testing.T) {
		eraseAfterReadAhead(t, issues, "comment_added", context.Background())
	})
	t.Run("partitioned", func(t *testing.T) {
		// Ana's comment is months old: another partition than Bob's.
		parted := activity.MustDomain(activity.DomainConfig{Name: "erasedparted", Subject: activity.Subject{Table: "issues"},
			Actions: []string{"comment_added"}, Partition: &activity.Partitioning{}})
		up, down := activity.MigrationSQL(parted)
		if err := testDB.Exec(down + up).Error; err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { testDB.Exec(down) })
		old := time.Now().AddDate(0, -3, 0)
		if _, err := parted.Maintain(context.Background(), testDB, activity.MaintainConfig{Since: old}); err != nil {
			t.Fatal(err)
		}
		eraseAfterReadAhead(t, parted, "comment_added", context.Background(), activity.OccurredAt(old))
	})
	t.Run("tenanted", func(t *testing.T) {
		orgIssuesOnce.Do(func() {
			up, _ := activity.MigrationSQL(orgIssues)
			if err := testDB.Exec(up).Error; err != nil {
				t.Fatal(err)
			}
		})
		eraseAfterReadAhead(t, orgIssues, "commented", activity.WithTenant(context.Background(), "acme"))
	})
}

// eraseAfterReadAhead is TestEraseSettledLeavesNoCopyReadAhead on dom's
// action, recorded and erased with ctx (its tenant); anaOpts go with
// Ana's comment.
func eraseAfterReadAhead(t *testing.T, dom *activity.Domain, action string, ctx context.Context, anaOpts ...activity.Option) {
	reset(t)
	_, issueID := newIssue(t)
	app, err := notify.New(notify.Config{Name: "app", RecipientType: "users",
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{"9"}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, inbox.Config{Domains: []*activity.Domain{dom}, Inboxes: []inbox.Inbox{app}})
	w.ReadAheadNext(dom.Name(), time.Minute)
	const name = "Ana Readahead"
	ana := activity.Ref{Type: "users", ID: "41", Label: name}
	bob := activity.Ref{Type: "users", ID: "42", Label: "Bob Other"}
	// Bob's comment, then Ana's, hers waiting in the outbox (a relay not
	// come to it yet): Bob's job reads hers ahead, if anything does.
	var bobEv, anaEv activity.Event
	err = testDB.Transaction(func(tx *gorm.DB) error {
		r, err := dom.RecordEvent(ctx, tx, issueID, action, activity.Actor(bob))
		if err != nil {
			return err
		}
		bobEv = r.Event
		if r, err = dom.RecordEvent(ctx, tx, issueID, action, append([]activity.Option{activity.Actor(ana)}, anaOpts...)...); err != nil {
			return err
		}
		anaEv = r.Event
		return tx.Exec(`UPDATE activity_outbox SET available_at = now() + interval '1 hour' WHERE domain = ? AND event_id = ?`, dom.Name(), anaEv.ID).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	delivered := func(id int64) func() bool {
		return func() bool {
			var n, pending int64
			testDB.Raw(`SELECT count(*) FROM notifications WHERE domain = ? AND event_id = ?`, dom.Name(), id).Scan(&n)
			testDB.Raw(`SELECT count(*) FROM inbox_pending WHERE domain = ? AND event_id = ?`, dom.Name(), id).Scan(&pending)
			return n == 1 && pending == 0
		}
	}
	waitFor(t, 20*time.Second, "Bob's notification", delivered(bobEv.ID))
	t.Logf("events read ahead: %d", w.LoaderReadAhead())
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{dom}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := px.EraseSettled(ctx, testDB, activity.Person{Type: "users", ID: "41"}, privacy.Request{By: "test"}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	// The relay comes to Ana's comment.
	if err := testDB.Exec(`UPDATE activity_outbox SET available_at = now() WHERE domain = ? AND event_id = ?`, dom.Name(), anaEv.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec(`SELECT pg_notify(?, ?)`, activity.OutboxChannel, dom.Name()).Error; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "Ana's notification", delivered(anaEv.ID))
	var tables []string
	if err := testDB.Raw(`SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`).Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	var hits []string
	for _, table := range tables {
		var rows []string
		if err := testDB.Raw(`SELECT t::text FROM `+table+` t WHERE lower(t::text) LIKE ?`, "%"+strings.ToLower(name)+"%").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			hits = append(hits, table+": "+r)
		}
	}
	for _, h := range scanRedis(t, redis.Addr, name) {
		hits = append(hits, "redis "+h.where)
	}
	if len(hits) > 0 {
		t.Errorf("after EraseSettled and the delivery of Ana's comment, %q is in:\n  %s", name, strings.Join(hits, "\n  "))
	}
}
