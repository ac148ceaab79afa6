package privacy_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/privacy"
)

// A backfill's job (no inbox_pending row) that loaded Ana's event before
// her erasure writes her old label into Bob's in-app notification after
// it. EraseSettled must wait for it and erase again. The test replays
// Ana's comment (delivered long ago: no outbox row) to an in-app inbox
// through a backfill whose job holds in Process until the first erasure
// committed.
func TestEraseSettledWaitsForBackfillJobs(t *testing.T) {
	ctx := context.Background()
	ana := newUser(t, someone{name: "Ana Backfilled", email: "ana.backfilled@example.net", ip: "192.0.2.79", ua: "BackfilledAgent/1.0"})
	bob := newUser(t, someone{name: "Bob Replayed", email: "bob.replayed@example.net"})
	issueID, res, h, bf := backfillWorld(t, ana, bob, "Backfilled")
	b, err := bf.Create(ctx, inbox.BackfillSpec{Inbox: "app", By: "test", Query: inbox.BackfillQuery{Domain: "issue", Subjects: []string{strconv.FormatInt(issueID, 10)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bf.Run(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	h.waitEntered(t, "the backfill's in-app delivery")

	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart}})
	if err != nil {
		t.Fatal(err)
	}
	eraseSettledOnRelease(t, ctx, px, ana.person(), privacy.Request{By: "support:7"}, h, nil)
	if n := count(t, `SELECT count(*) FROM tidings_erasures WHERE person_type = 'users' AND person_id = ?`, ana.key()); n != 2 {
		t.Errorf("%d erasures of Ana; want 2 (the first counted the backfill's running job in flight)", n)
	}
	if n := count(t, `SELECT count(*) FROM inbox_pending WHERE domain = 'issue' AND event_id = ?`, res.Event.ID); n != 0 {
		t.Errorf("%d inbox_pending rows of Ana's comment left after the backfill's job; want 0", n)
	}
	waitUntil(t, "the backfill's delivery of Ana's comment to write Bob's notification", func() bool {
		return count(t, `SELECT count(*) FROM notifications WHERE domain = 'issue' AND event_id = ?`, res.Event.ID) == 1
	})
	if h := dbHits(t, []string{ana.name, ana.ip, ana.ua}); len(h) > 0 {
		t.Errorf("after EraseSettled and the backfill's job, Ana's data is in:\n  %s", strings.Join(h, "\n  "))
	}
}

// A backfill's job that starts while the erasure runs, after it listed
// the deliveries in flight and before it masked Ana's events, loads her
// old event. The erasure locks her events before it lists the
// deliveries, so the job's row (inserted reading the event FOR SHARE) is
// listed, or the job waits and loads the erased event. The test holds
// Ana's event FOR SHARE (as a slow reader would) so that the erasure
// waits on it, starts the backfill meanwhile, and lets go once its job
// holds in Process or waits.
func TestEraseSettledWaitsForBackfillJobsStartedDuringTheErasure(t *testing.T) {
	ctx := context.Background()
	ana := newUser(t, someone{name: "Ana Midbackfill", email: "ana.midbackfill@example.net", ip: "192.0.2.80", ua: "MidbackfillAgent/1.0"})
	bob := newUser(t, someone{name: "Bob Midreplay", email: "bob.midreplay@example.net"})
	issueID, res, h, bf := backfillWorld(t, ana, bob, "Midbackfill")

	reader := testDB.Begin()
	var read []int64
	if err := reader.Raw(`SELECT id FROM `+issues.Table()+` WHERE id = ? FOR SHARE`, res.Event.ID).Scan(&read).Error; err != nil {
		reader.Rollback()
		t.Fatal(err)
	}
	var released sync.Once
	release := func() { released.Do(func() { reader.Rollback() }) }
	t.Cleanup(release)
	lockWaits := func() int64 {
		return count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)
	}
	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart}})
	if err != nil {
		t.Fatal(err)
	}
	settled := make(chan settledResult, 1)
	go func() {
		e, err := px.EraseSettled(ctx, testDB, ana.person(), privacy.Request{By: "support:8"}, 20*time.Second)
		settled <- settledResult{e, err}
	}()
	waitUntil(t, "the erasure to wait for the reader of Ana's event", func() bool { return lockWaits() >= 1 })
	b, err := bf.Create(ctx, inbox.BackfillSpec{Inbox: "app", By: "test", Query: inbox.BackfillQuery{Domain: "issue", Subjects: []string{strconv.FormatInt(issueID, 10)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bf.Run(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	entered := false
	waitUntil(t, "the backfill's job to hold in Process or wait for the erasure", func() bool {
		select {
		case <-h.entered:
			entered = true
			return true
		default:
		}
		return lockWaits() >= 2
	})
	t.Logf("the backfill's job held in Process before the erasure: %v", entered)
	release()
	waitUntil(t, "the first erasure to commit", func() bool {
		return count(t, `SELECT count(*) FROM tidings_erasures WHERE person_type = 'users' AND person_id = ?`, ana.key()) >= 1
	})
	h.letGo()
	select {
	case r := <-settled:
		if r.err != nil {
			t.Fatal(r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("EraseSettled did not return")
	}
	waitUntil(t, "the backfill's delivery of Ana's comment to write Bob's notification", func() bool {
		return count(t, `SELECT count(*) FROM notifications WHERE domain = 'issue' AND event_id = ?`, res.Event.ID) == 1
	})
	if h := dbHits(t, []string{ana.name, ana.ip, ana.ua}); len(h) > 0 {
		t.Errorf("after EraseSettled and the backfill's job, Ana's data is in:\n  %s", strings.Join(h, "\n  "))
	}
}

// backfillWorld records ana's comment on a new issue titled title as
// history (relayed long ago: no outbox row), and starts a worker with an
// in-app inbox telling bob, whose Process holds on that comment (h), and
// a backfiller of the issue domain into it.
func backfillWorld(t *testing.T, ana, bob someone, title string) (int64, activity.Result, *hold, *inbox.Backfiller) {
	t.Helper()
	ctx := context.Background()
	var issueID int64
	if err := testDB.Raw(`INSERT INTO issues (title) VALUES (?) RETURNING id`, title).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	res, err := issues.RecordEvent(ana.ctx(ana.name), testDB, issueID, "comment_added", activity.Extra(map[string]any{"body": "history"}))
	if err != nil {
		t.Fatal(err)
	}
	// History: relayed long ago, to no inbox the worker below runs.
	if err := testDB.Exec(`DELETE FROM `+activity.OutboxTable+` WHERE domain = 'issue' AND event_id = ?`, res.Event.ID).Error; err != nil {
		t.Fatal(err)
	}
	rds := redistest.NewPrivate(t)
	redisOpt := asynq.RedisClientOpt{Addr: rds.Addr()}
	app, err := notify.New(notify.Config{Name: "app", RecipientType: "users",
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]string, error) { return []string{bob.key()}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	h := newHold()
	held := func(next inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			if d.Event.ID == res.Event.ID && d.Event.Domain == "issue" {
				h.stop()
			}
			return next(ctx, d)
		}
	}
	w, err := inbox.NewWorker(inbox.Config{DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues, users},
		Inboxes: []inbox.Inbox{app}, Middleware: []inbox.Middleware{held}, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.letGo(); w.Shutdown() })
	bf, err := inbox.NewBackfiller(inbox.BackfillConfig{DB: testDB, Redis: redisOpt, Domains: []*activity.Domain{issues},
		Inboxes: []inbox.Inbox{app}, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bf.Close() })
	return issueID, res, h, bf
}
