package email_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/internal/redistest"
)

// Redis loses every job (FLUSHDB) after the relay enqueued 300 events'
// jobs (600 deliveries: more than one sweep's batch of 500) and before
// any worker ran them: PostgreSQL still knows each delivery
// (inbox_pending), the sweeper enqueues them again, and every
// notification and every mail arrives exactly once.
func TestFlushDBAfterEnqueueLosesNothing(t *testing.T) {
	ctx := context.Background()
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec(`TRUNCATE activity_outbox, inbox_pending`).Error; err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t, smtptest.Config{})
	ana, bob, cy := person("Ana"), person("Bob"), person("Cy")
	mail := newInbox(t, srv, email.InboxConfig{Name: unique("flush-mail"), Recipients: fixed(bob)})
	notes, err := notify.New(notify.Config{Name: unique("flush-notify"), Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) {
		return []string{bob.ID, cy.ID}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	inboxes := []inbox.Inbox{mail, notes}
	pending := inbox.PendingConfig{CheckAfter: 200 * time.Millisecond, MaxCheckInterval: time.Second, SweepInterval: 50 * time.Millisecond}

	// A relay alone (no worker) hands 300 events to Redis.
	relay, err := inbox.NewRelay(inbox.RelayConfig{DB: testDB, Redis: redisOpt, Inboxes: inboxes, Domains: []*activity.Domain{issues},
		Pending: pending, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	var issueID int64
	if err := testDB.Raw(`INSERT INTO issues DEFAULT VALUES RETURNING id`).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	const events = 300
	entries := make([]activity.NewEvent, events)
	for i := range entries {
		entries[i] = activity.NewEvent{Subject: issueID, Action: "comment_added", Options: []activity.Option{
			activity.Actor(activity.Ref{Type: "users", ID: ana.ID, Label: "Ana"}), activity.Extra{"body": fmt.Sprint("comment ", i)}}}
	}
	res, err := issues.RecordEvents(ctx, testDB, entries)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := relay.Drain(ctx); err != nil || n != events {
		t.Fatalf("relay drained %d rows (%v), want %d", n, err, events)
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: redisOpt.Addr, DB: redisOpt.DB})
	defer rdb.Close()
	queued := func(q string) int64 { return rdb.LLen(ctx, "asynq:{"+q+"}:pending").Val() }
	if got := queued(email.DefaultQueue) + queued(inbox.DefaultQueue); got != 2*events {
		t.Fatalf("%d jobs pending in Redis, want %d", got, 2*events)
	}
	if got := pendingRows(t); got != 2*events {
		t.Fatalf("%d pending deliveries in PostgreSQL, want %d", got, 2*events)
	}

	// Redis loses everything.
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues}, Inboxes: inboxes,
		Relay: inbox.RelayConfig{Pending: pending}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	countNotes := func() (n int64) {
		testDB.Raw(`SELECT count(*) FROM notifications WHERE event_id BETWEEN ? AND ?`, res.Events[0].ID, res.Events[events-1].ID).Scan(&n)
		return n
	}
	waitUntil(t, 2*time.Minute, "every mail and notification after the flush", func() bool {
		return len(srv.Messages()) >= events && countNotes() >= 2*events && pendingRows(t) == 0
	})
	// Everything settled: nothing pending, nothing left in Redis to run.
	waitUntil(t, 10*time.Second, "the queues to empty", func() bool {
		return queued(email.DefaultQueue)+queued(inbox.DefaultQueue) == 0 &&
			rdb.LLen(ctx, "asynq:{"+email.DefaultQueue+"}:active").Val() == 0 && rdb.LLen(ctx, "asynq:{"+inbox.DefaultQueue+"}:active").Val() == 0
	})
	w.Shutdown()

	msgs := srv.Messages()
	ids := map[string]int{}
	for _, m := range msgs {
		ids[m.Header.Get("Message-Id")]++
	}
	if len(msgs) != events || len(ids) != events {
		t.Errorf("%d mails with %d distinct Message-Ids, want %d each", len(msgs), len(ids), events)
	}
	for _, ev := range res.Events {
		id := "<" + email.MessageID("example.com", ev.Ref(), bob.Email) + ">"
		if ids[id] != 1 {
			t.Errorf("event %d: %d mails, want 1", ev.ID, ids[id])
		}
	}
	var dup []int64
	testDB.Raw(`SELECT event_id FROM notifications WHERE event_id BETWEEN ? AND ? GROUP BY event_id, recipient HAVING count(*) > 1`,
		res.Events[0].ID, res.Events[events-1].ID).Scan(&dup)
	if n := countNotes(); n != 2*events || len(dup) > 0 {
		t.Errorf("%d notifications (%d doubled), want %d", n, len(dup), 2*events)
	}
	st := w.Relay().SweepStats()
	if st.Reenqueued != 2*events {
		t.Errorf("sweeper re-enqueued %d deliveries, want %d: %+v", st.Reenqueued, 2*events, st)
	}
	t.Logf("sweeper: %+v", st)
}

func pendingRows(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := testDB.Raw(`SELECT count(*) FROM inbox_pending`).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}
