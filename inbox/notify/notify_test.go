package notify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
)

const appSchema = `
CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL);
CREATE TABLE issues (id bigserial PRIMARY KEY, title text NOT NULL, author_id bigint NOT NULL);
CREATE TABLE subscriptions (issue_id bigint NOT NULL, user_id bigint NOT NULL, PRIMARY KEY (issue_id, user_id));
`

var (
	db     *gorm.DB
	redis  asynq.RedisClientOpt
	issues = activity.MustDomain(activity.DomainConfig{
		Name:    "issue",
		Actions: []string{"comment_added", "label_added", "closed"},
	})
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(issues)
	var err error
	db, err = pgtest.Create(ctx, "tidings_test_notify", appSchema, up)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := redistest.Flush(ctx, 2); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	redis = asynq.RedisClientOpt{Addr: redistest.Addr(), DB: 2}
	os.Exit(m.Run())
}

// The app's rule: an issue's author and subscribers hear of what happens
// to it.
func authorAndSubscribers(ctx context.Context, db *gorm.DB, ev activity.Event) ([]string, error) {
	var ids []string
	err := db.WithContext(ctx).Raw(`SELECT author_id::text FROM issues WHERE id = ?::bigint
UNION ALL SELECT user_id::text FROM subscriptions WHERE issue_id = ?::bigint`, ev.SubjectID, ev.SubjectID).Scan(&ids).Error
	return ids, err
}

type people struct{ ana, bo, cy, di int64 }

// setup creates four users and an issue by Ana that Bo and Cy follow (and
// Ana, again: the inbox must not notify her twice).
func setup(t *testing.T) (people, int64) {
	t.Helper()
	var p people
	for _, x := range []struct {
		id   *int64
		name string
	}{{&p.ana, "Ana"}, {&p.bo, "Bo"}, {&p.cy, "Cy"}, {&p.di, "Di"}} {
		if err := db.Raw(`INSERT INTO users (name) VALUES (?) RETURNING id`, x.name).Scan(x.id).Error; err != nil {
			t.Fatal(err)
		}
	}
	var issue int64
	if err := db.Raw(`INSERT INTO issues (title, author_id) VALUES ('Login fails', ?) RETURNING id`, p.ana).Scan(&issue).Error; err != nil {
		t.Fatal(err)
	}
	for _, u := range []int64{p.bo, p.cy, p.ana} {
		db.Exec(`INSERT INTO subscriptions VALUES (?, ?)`, issue, u)
	}
	return p, issue
}

func user(id int64, name string) activity.Ref {
	return activity.Ref{Type: "users", ID: strconv.FormatInt(id, 10), Label: name}
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

func newInbox(t *testing.T) *notify.Inbox {
	t.Helper()
	n, err := notify.New(notify.Config{Accepts: inbox.On("issue", "comment_added", "closed"), Recipients: authorAndSubscribers})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func recipientsOf(t *testing.T, ev activity.Event) []string {
	t.Helper()
	var rs []string
	if err := db.Raw(`SELECT recipient FROM notifications WHERE domain = ? AND event_id = ? ORDER BY recipient`, ev.Domain, ev.ID).Scan(&rs).Error; err != nil {
		t.Fatal(err)
	}
	return rs
}

// Recipients come from the app's function, without the actor, duplicates
// or those who muted the action; a delivery run twice notifies once.
func TestRecipientsAndExactlyOnce(t *testing.T) {
	ctx := context.Background()
	p, issue := setup(t)
	n := newInbox(t)
	if err := notify.Mute(ctx, db, id(p.cy), "issue", "closed"); err != nil {
		t.Fatal(err)
	}
	// Bo comments: Ana (author, and a subscriber) and Cy hear of it, once each.
	res, err := issues.RecordEvent(ctx, db, issue, "comment_added", activity.Actor(user(p.bo, "Bo")))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // a retried job
		if err := inboxtest.Process(t, db, n, res.Event); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{id(p.ana), id(p.cy)}
	slices.Sort(want)
	if got := recipientsOf(t, res.Event); !slices.Equal(got, want) {
		t.Errorf("comment notified %v, want %v (author and subscribers, not the actor, once each)", got, want)
	}
	comment := res.Event
	// Ana closes it: Bo hears; Cy muted "closed".
	res, err = issues.RecordEvent(ctx, db, issue, "closed", activity.Actor(user(p.ana, "Ana")))
	if err != nil {
		t.Fatal(err)
	}
	if err := inboxtest.Process(t, db, n, res.Event); err != nil {
		t.Fatal(err)
	}
	if got := recipientsOf(t, res.Event); !slices.Equal(got, []string{id(p.bo)}) {
		t.Errorf("close notified %v, want only Bo (Ana acted, Cy muted it)", got)
	}
	// The ledger holds one row per recipient.
	var rows int64
	db.Raw(`SELECT count(*) FROM inbox_deliveries WHERE inbox = 'notify' AND event_id IN (?, ?)`, comment.ID, res.Event.ID).Scan(&rows)
	if rows != 3 {
		t.Errorf("%d ledger rows, want 3", rows)
	}
}

// Listing is newest first with keyset cursors; unread counts, marking one
// (only one's own) or all read, and seen.
func TestListCountAndMark(t *testing.T) {
	ctx := context.Background()
	p, issue := setup(t)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Minute); return now }
	n, err := notify.New(notify.Config{Recipients: authorAndSubscribers, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	var events []activity.Event
	for i := range 7 {
		res, err := issues.RecordEvent(ctx, db, issue, "comment_added", activity.Actor(user(p.bo, "Bo")), activity.Extra(map[string]any{"n": i}))
		if err != nil {
			t.Fatal(err)
		}
		if err := inboxtest.Process(t, db, n, res.Event); err != nil {
			t.Fatal(err)
		}
		events = append(events, res.Event)
	}
	ana := id(p.ana)
	var seen []int64
	q := notify.Query{Recipient: ana, Limit: 3}
	for pages := 0; ; pages++ {
		page, err := notify.List(ctx, db, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range page.Notifications {
			seen = append(seen, x.Event.ID)
			if x.Actor.Label != "Bo" || x.Action != "comment_added" || x.SubjectID != id(issue) || !x.Unread() {
				t.Errorf("notification %+v", x)
			}
		}
		if page.Next == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		q.After = page.Next
	}
	for i, e := range seen {
		if want := events[len(events)-1-i].ID; e != want {
			t.Fatalf("position %d holds event %d, want %d (newest first)", i, e, want)
		}
	}
	if c, _ := notify.UnreadCount(ctx, db, ana); c != 7 {
		t.Errorf("unread %d, want 7", c)
	}
	first, _ := notify.List(ctx, db, notify.Query{Recipient: ana, Limit: 1})
	top := first.Notifications[0]
	// Cy cannot mark Ana's notification.
	if ok, err := notify.MarkRead(ctx, db, id(p.cy), top.ID); ok || err != nil {
		t.Errorf("Cy marked Ana's notification: %v, %v", ok, err)
	}
	if ok, err := notify.MarkRead(ctx, db, ana, top.ID); !ok || err != nil {
		t.Errorf("MarkRead: %v, %v", ok, err)
	}
	if c, _ := notify.UnreadCount(ctx, db, ana); c != 6 {
		t.Errorf("unread %d, want 6", c)
	}
	unread, _ := notify.List(ctx, db, notify.Query{Recipient: ana, UnreadOnly: true, Limit: 50})
	if len(unread.Notifications) != 6 {
		t.Errorf("%d unread listed, want 6", len(unread.Notifications))
	}
	if c, _ := notify.UnseenCount(ctx, db, ana); c != 6 {
		t.Errorf("unseen %d, want 6", c)
	}
	if k, _ := notify.MarkSeen(ctx, db, ana); k != 6 {
		t.Errorf("MarkSeen marked %d, want 6", k)
	}
	if c, _ := notify.UnseenCount(ctx, db, ana); c != 0 {
		t.Errorf("unseen %d after MarkSeen", c)
	}
	if k, _ := notify.MarkAllRead(ctx, db, ana); k != 6 {
		t.Errorf("MarkAllRead marked %d, want 6", k)
	}
	if c, _ := notify.UnreadCount(ctx, db, ana); c != 0 {
		t.Errorf("unread %d after MarkAllRead", c)
	}
	if _, err := notify.List(ctx, db, notify.Query{Recipient: ana, After: "nonsense"}); err == nil {
		t.Error("a bad cursor was accepted")
	}
}

// A page groups into one line per story.
func TestGroupPage(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	n := func(id int64, subject, action string, actor activity.Ref, read bool) notify.Notification {
		x := notify.Notification{ID: id, Event: activity.EventRef{Domain: "issue", ID: id}, SubjectID: subject, Action: action, Actor: actor, CreatedAt: at.Add(-time.Duration(id) * time.Minute)}
		if read {
			x.ReadAt = &at
		}
		return x
	}
	ana, bo, cy := user(1, "Ana"), user(2, "Bo"), user(3, "Cy")
	page := []notify.Notification{
		n(1, "12", "comment_added", ana, false),
		n(2, "12", "comment_added", bo, false),
		n(3, "7", "closed", bo, true),
		n(4, "12", "comment_added", ana, true),
		n(5, "12", "comment_added", cy, true),
	}
	groups := notify.GroupPage(page)
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2", len(groups))
	}
	if got := groups[0].Summary("commented on", "#12"); got != "Ana and 2 others commented on #12" {
		t.Errorf("summary %q", got)
	}
	if groups[0].Unread != 2 || len(groups[0].Notifications) != 4 || !groups[0].Latest.Equal(page[0].CreatedAt) {
		t.Errorf("group %+v", groups[0])
	}
	if got := groups[1].Summary("closed", "#7"); got != "Bo closed #7" {
		t.Errorf("summary %q", got)
	}
	two := notify.GroupPage(page[:2])
	if got := two[0].Who(); got != "Ana and Bo" {
		t.Errorf("who %q", got)
	}
}

// Through a real worker: a committed comment notifies; the job was
// enqueued for the notify inbox and for no inbox that ignores comments.
func TestThroughTheWorker(t *testing.T) {
	ctx := context.Background()
	p, issue := setup(t)
	n := newInbox(t)
	labels := inbox.Func("labels-only", inbox.On("issue", "label_added"), func(context.Context, *inbox.Delivery) error { return nil })

	res, err := issues.RecordEvent(ctx, db, issue, "comment_added", activity.Actor(user(p.di, "Di")))
	if err != nil {
		t.Fatal(err)
	}
	// Relay only: the jobs wait in Redis.
	if k := inboxtest.Relay(t, db, redis, []*activity.Domain{issues}, n, labels); k < 1 {
		t.Fatalf("relayed %d rows", k)
	}
	inboxtest.AssertEnqueued(t, redis, n, res.Event.Ref())
	inboxtest.AssertNotEnqueued(t, redis, labels, res.Event.Ref())

	// A worker runs them, and says when it delivered one.
	delivered := make(chan int64, 64)
	signal := func(next inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			err := next(ctx, d)
			if d.Inbox == n.Name() {
				delivered <- d.Event.ID
			}
			return err
		}
	}
	w, err := inbox.NewWorker(inbox.Config{DB: db, Redis: redis, Domains: []*activity.Domain{issues}, Inboxes: []inbox.Inbox{n, labels},
		Middleware: []inbox.Middleware{signal}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	// (Events of the other tests were in the outbox too.)
	timeout := time.After(10 * time.Second)
	for got := int64(0); got != res.Event.ID; {
		select {
		case got = <-delivered:
		case <-timeout:
			t.Fatal("the comment was not delivered within 10s")
		}
	}
	want := []string{id(p.ana), id(p.bo), id(p.cy)}
	slices.Sort(want)
	if got := recipientsOf(t, res.Event); !slices.Equal(got, want) {
		t.Errorf("notified %v, want %v", got, want)
	}
}
