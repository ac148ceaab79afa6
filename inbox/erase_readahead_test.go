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
	reset(t)
	ctx := context.Background()
	_, issueID := newIssue(t)
	app, err := notify.New(notify.Config{Name: "app", RecipientType: "users",
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{"9"}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{app}})
	w.ReadAheadNext("issue", time.Minute)
	const name = "Ana Readahead"
	ana := activity.Ref{Type: "users", ID: "41", Label: name}
	bob := activity.Ref{Type: "users", ID: "42", Label: "Bob Other"}
	// Bob's comment, then Ana's, hers waiting in the outbox (a relay not
	// come to it yet): Bob's job reads hers ahead, if anything does.
	var bobEv, anaEv activity.Event
	err = testDB.Transaction(func(tx *gorm.DB) error {
		r, err := issues.RecordEvent(ctx, tx, issueID, "comment_added", activity.Actor(bob))
		if err != nil {
			return err
		}
		bobEv = r.Event
		if r, err = issues.RecordEvent(ctx, tx, issueID, "comment_added", activity.Actor(ana)); err != nil {
			return err
		}
		anaEv = r.Event
		return tx.Exec(`UPDATE activity_outbox SET available_at = now() + interval '1 hour' WHERE domain = 'issue' AND event_id = ?`, anaEv.ID).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	delivered := func(id int64) func() bool {
		return func() bool {
			var n, pending int64
			testDB.Raw(`SELECT count(*) FROM notifications WHERE domain = 'issue' AND event_id = ?`, id).Scan(&n)
			testDB.Raw(`SELECT count(*) FROM inbox_pending WHERE domain = 'issue' AND event_id = ?`, id).Scan(&pending)
			return n == 1 && pending == 0
		}
	}
	waitFor(t, 20*time.Second, "Bob's notification", delivered(bobEv.ID))
	t.Logf("events read ahead: %d", w.LoaderReadAhead())
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := px.EraseSettled(ctx, testDB, activity.Person{Type: "users", ID: "41"}, privacy.Request{By: "test"}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	// The relay comes to Ana's comment.
	if err := testDB.Exec(`UPDATE activity_outbox SET available_at = now() WHERE domain = 'issue' AND event_id = ?`, anaEv.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec(`SELECT pg_notify(?, 'issue')`, activity.OutboxChannel).Error; err != nil {
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
