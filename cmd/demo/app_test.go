package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/workflow"
)

// A missing service is one error naming it and how to start it.
func TestMissingServices(t *testing.T) {
	ctx := context.Background()
	_, err := NewApp(ctx, Config{DSN: pgtest.DSN("tidings_test_demo"), RedisAddr: "127.0.0.1:1"})
	var se *ServiceError
	if !errors.As(err, &se) || se.Service != "Redis" || !strings.Contains(err.Error(), "redis-server") {
		t.Errorf("with Redis down: %v; want a *ServiceError for Redis that says to run redis-server", err)
	}
	_, err = NewApp(ctx, Config{DSN: "host=127.0.0.1 port=1 user=postgres dbname=tidings_test_demo", RedisAddr: redistest.Addr(), RedisDB: 6})
	if !errors.As(err, &se) || se.Service != "PostgreSQL" || !strings.Contains(err.Error(), "start") || strings.Contains(err.Error(), "\n") {
		t.Errorf("with PostgreSQL down: %v; want a one-line *ServiceError for PostgreSQL that says how to start it", err)
	}
	if err != nil {
		t.Logf("the message: demo: %v", err)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// The no_activity job records one event per quiet stretch of an open issue:
// repeated polls fold into it (throttled), new activity starts a new stretch.
func TestNoActivityJob(t *testing.T) {
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "tidings_test_demo_stale")
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	app, err := NewApp(ctx, Config{DSN: pgtest.DSN("tidings_test_demo_stale"), RedisAddr: redistest.Addr(), RedisDB: 6,
		StaleAfter: 72 * time.Hour, StaleEvery: time.Minute, Now: clk.Now, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	var dark Issue
	if err := app.db.Where("title LIKE 'Dark mode%'").Take(&dark).Error; err != nil {
		t.Fatal(err)
	}
	ctx = activity.WithTenant(ctx, dark.OrgID) // the feeds below read Acme's events
	noActivity := func() []activity.Event {
		t.Helper()
		p, err := app.issues.Feed(ctx, app.db, activity.FeedQuery{Actions: []string{ActionNoActivity}})
		if err != nil {
			t.Fatal(err)
		}
		return p.Events()
	}

	// Seeded: only "Dark mode" (10 days quiet) is past 72h.
	if n, err := app.recordStale(ctx); err != nil || n != 1 {
		t.Fatalf("first poll recorded %d events (err %v), want 1", n, err)
	}
	evs := noActivity()
	if len(evs) != 1 || evs[0].SubjectID != activityKey(dark.ID) || evs[0].ActorType != activity.SystemActorType {
		t.Fatalf("no_activity events %v, want one on issue %d by the system", evs, dark.ID)
	}
	// The next polls leave it alone: it does not move to the top of the
	// feed as "just now ×3".
	first := evs[0]
	for range 3 {
		clk.Add(time.Minute)
		if n, err := app.recordStale(ctx); err != nil || n != 0 {
			t.Fatalf("a later poll recorded %d new events (err %v), want 0", n, err)
		}
	}
	if evs := noActivity(); len(evs) != 1 || evs[0].Repeats != 0 || !evs[0].OccurredAt.Equal(first.OccurredAt) {
		t.Fatalf("after 3 more polls: %d events, repeats %d, at %v; want the first event untouched (at %v)", len(evs), evs[0].Repeats, evs[0].OccurredAt, first.OccurredAt)
	}
	// Activity ends the stretch: no event while it is fresh.
	ana := User{}
	app.db.Where("name = 'Ana Lima'").Take(&ana)
	if _, err := app.issues.RecordEvent(ctx, app.db, dark.ID, ActionCommentAdded, activity.Actor(&ana)); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if n, err := app.recordStale(ctx); err != nil || n != 0 {
		t.Fatalf("an hour after a comment: %d events (err %v), want 0", n, err)
	}
}

func activityKey(id int64) string { return strconv.FormatInt(id, 10) }

// The demo's renderer folds consecutive labels by one person; a feed across
// issues does not repeat the issue after "opened the issue X".
func TestFeedLines(t *testing.T) {
	at := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	r := newFeedRenderer()
	ev := func(id int64, action, actor string, ago time.Duration, extra string) activity.Entry {
		return activity.Entry{Event: activity.Event{ID: id, Domain: "issue", SubjectID: "1", Action: action, ActorType: "users", ActorID: actor,
			OccurredAt: at.Add(-ago), Extra: []byte(extra)}}
	}
	got := r.Fold(r.Lines([]activity.Entry{
		ev(6, ActionLabelAdded, "1", 0, `{"name":"a"}`),
		ev(5, ActionLabelAdded, "1", time.Minute, `{"name":"b"}`),
		ev(4, ActionLabelAdded, "2", 2*time.Minute, `{"name":"c"}`), // another actor
		ev(3, ActionStatusChanged, "2", 6*time.Hour, `{}`),          // not foldable
		ev(2, ActionStatusChanged, "2", 6*time.Hour+1, `{}`),
	}, nil))
	var sizes []int
	for _, g := range got {
		sizes = append(sizes, len(g.Items))
	}
	if want := []int{2, 1, 1, 1}; !equal(sizes, want) {
		t.Fatalf("group sizes %v, want %v", sizes, want)
	}
	if got[0].Summary != "added 2 labels" || !got[0].Inline || got[0].First.Href != eventsPrefix+"/issue/6" {
		t.Errorf("the label group reads %q (inline %v, link %q)", got[0].Summary, got[0].Inline, got[0].First.Href)
	}
	opened := r.Line(ev(1, ActionIssueOpened, "1", 0, `{"title":"Login fails"}`), map[string]string{"1": "Login fails"})
	if opened.Object != "Login fails" || opened.Subject != "" {
		t.Errorf("opened across issues: object %q, on %q; want the title once", opened.Object, opened.Subject)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The rule schema accepts conditions on the issue, the comment and the
// extra, and points at the field of a mistake.
func TestRuleSchema(t *testing.T) {
	d, err := newIssueDomain(activity.DomainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := (&App{issues: d}).newRuleSchema()
	if err != nil {
		t.Fatal(err)
	}
	ok := workflow.Conditions{
		workflow.Cond("action", workflow.OpEq, ActionCommentAdded),
		workflow.Cond("subject.created_at", workflow.OpOlderThan, "365d"),
		workflow.Cond("record.body", workflow.OpMatches, `(?i)still broken`),
		workflow.Cond("extra", workflow.OpChangedTo, StatusClosed),
		workflow.Cond("subject.labels", workflow.OpContains, "bug"),
	}
	if _, err := s.Compile(ok); err != nil {
		t.Fatalf("valid conditions refused: %v", err)
	}
	_, err = s.Compile(workflow.Conditions{workflow.Cond("subject.created", workflow.OpLt, "2022-01-01")})
	var ve *workflow.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != "conditions[0].attribute" {
		t.Fatalf("a misspelt attribute gave %v; want one problem at conditions[0].attribute", err)
	}
}
