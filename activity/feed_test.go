package activity_test

import (
	"context"
	"errors"
	"fmt"

	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// countingResolver counts calls so tests can see one query per type per page.
type countingResolver struct {
	calls atomic.Int64
	inner activity.Resolver
}

func (c *countingResolver) Resolve(ctx context.Context, db *gorm.DB, ids []string) (map[string]any, error) {
	c.calls.Add(1)
	return c.inner.Resolve(ctx, db, ids)
}

func TestFeedPagesEachEventOnceInOrder(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	users := &countingResolver{inner: activity.ModelResolver[User]()}
	comments := &countingResolver{inner: activity.ModelResolver[Comment]()}
	clk := &testClock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	dom := activity.MustDomain(activity.DomainConfig{
		Name:      "issue",
		Actions:   []string{"comment_added", "comment_deleted", "comment_viewed", "label_added"},
		Now:       clk.Now,
		Resolvers: map[string]activity.Resolver{"users": users, "comments": comments},
	})
	var want []int64
	for n := 0; n < 45; n++ {
		c := Comment{IssueID: i.ID, Body: "comment"}
		testDB.Create(&c)
		// Every third event shares its instant with the previous one, so the
		// id breaks ties in the keyset.
		if n%3 != 0 {
			clk.Advance(time.Second)
		}
		res, err := dom.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.Record(&c))
		if err != nil {
			t.Fatal(err)
		}
		want = append([]int64{res.Event.ID}, want...) // newest first
	}

	var got []int64
	var cursor activity.Cursor
	pages := 0
	for {
		page, err := dom.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID, Limit: 20, After: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range page.Entries {
			got = append(got, e.ID)
			if e.ActorValue == nil || e.ActorName() != "Ana" || e.RecordValue == nil {
				t.Errorf("event %d: actor %v (%q), record %v not loaded", e.ID, e.ActorValue, e.ActorName(), e.RecordValue)
			}
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if pages != 3 {
		t.Errorf("45 events at 20 a page took %d pages, want 3", pages)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("position %d: got event %d, want %d (newest first, each once)", k, got[k], want[k])
		}
	}
	if users.calls.Load() != 3 || comments.calls.Load() != 3 {
		t.Errorf("resolver calls: users %d, comments %d; want one per page each (3)", users.calls.Load(), comments.calls.Load())
	}
}

func TestFeedFiltersAndAcrossSubjects(t *testing.T) {
	ctx := context.Background()
	ana, first := fixture(t)
	bob := User{Name: "Bob"}
	testDB.Create(&bob)
	second := Issue{Title: "Crash", AuthorID: ana.ID}
	testDB.Create(&second)
	project := first.ID // a project of this run's own (-count)
	testDB.Model(&Issue{}).Where("id IN ?", []int64{first.ID, second.ID}).Update("project_id", project)

	rec := func(issue int64, action string, who *User) activity.Event {
		res, err := issues.RecordEvent(ctx, testDB, issue, action, activity.Actor(who))
		if err != nil {
			t.Fatal(err)
		}
		return res.Event
	}
	rec(first.ID, "comment_added", &ana)
	rec(second.ID, "label_added", &bob)
	rec(second.ID, "comment_added", &bob)

	// All issues of the project, through a subquery.
	page, err := issues.Feed(ctx, testDB, activity.FeedQuery{
		SubjectsIn: testDB.Model(&Issue{}).Select("id").Where("project_id = ?", project),
	})
	if err != nil || len(page.Entries) != 3 {
		t.Fatalf("project feed: %d entries, err %v; want 3", len(page.Entries), err)
	}
	// Everything Bob did.
	page, err = issues.Feed(ctx, testDB, activity.FeedQuery{Actor: &bob})
	if err != nil || len(page.Entries) != 2 {
		t.Fatalf("Bob's feed: %d entries, err %v; want 2", len(page.Entries), err)
	}
	// Filter by action and time.
	page, err = issues.Feed(ctx, testDB, activity.FeedQuery{Subject: second.ID, Actions: []string{"label_added"}})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].Action != "label_added" {
		t.Fatalf("action filter: %v, err %v", page.Events(), err)
	}
	page, err = issues.Feed(ctx, testDB, activity.FeedQuery{Subject: second.ID, Since: clock.Now().Add(time.Hour)})
	if err != nil || len(page.Entries) != 0 {
		t.Fatalf("time filter: %d entries, err %v; want 0", len(page.Entries), err)
	}
	// History: counts per action.
	counts, err := issues.CountByAction(ctx, testDB, activity.HistoryQuery{
		SubjectsIn: testDB.Model(&Issue{}).Select("id").Where("project_id = ?", project),
	})
	if err != nil || counts["comment_added"] != 2 || counts["label_added"] != 1 {
		t.Fatalf("counts = %v, err %v", counts, err)
	}
	// Bad queries say what is wrong.
	if _, err := issues.Feed(ctx, testDB, activity.FeedQuery{Subject: first.ID, Actions: []string{"coment_added"}}); !errors.Is(err, activity.ErrUnknownAction) {
		t.Errorf("unknown action filter: err = %v", err)
	}
	if _, err := issues.Feed(ctx, testDB, activity.FeedQuery{After: "garbage"}); !errors.Is(err, activity.ErrInvalidCursor) {
		t.Errorf("bad cursor: err = %v", err)
	}
	if _, err := issues.Feed(ctx, testDB, activity.FeedQuery{Limit: 10_000}); !errors.Is(err, activity.ErrInvalidQuery) {
		t.Errorf("huge limit: err = %v", err)
	}
}

func TestFeedRendersDeletedRecordsFromSnapshot(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	c := Comment{IssueID: i.ID, Body: "soon gone"}
	testDB.Create(&c)
	if _, err := issues.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.Record(&c)); err != nil {
		t.Fatal(err)
	}
	testDB.Delete(&c)
	testDB.Delete(&u)
	page, err := issues.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID})
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("feed: %v, %v", page.Entries, err)
	}
	e := page.Entries[0]
	if e.ActorValue != nil || e.ActorName() != "Ana" || !e.RecordDeleted() || e.RecordName() != "soon gone" {
		t.Errorf("deleted rows: actor %v %q, record deleted %v %q", e.ActorValue, e.ActorName(), e.RecordDeleted(), e.RecordName())
	}
}

func TestReplayStreamsInOccurredOrder(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	clk := &testClock{t: time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)}
	dom := newIssueDomain(clk.Now)
	var want []int64
	for n := 0; n < 25; n++ {
		clk.Advance(time.Minute)
		res, err := dom.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, res.Event.ID)
	}
	var got []int64
	for e, err := range dom.Replay(ctx, testDB, activity.HistoryQuery{Subject: i.ID}, 7) { // 4 batches
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.ID)
	}
	if len(got) != len(want) {
		t.Fatalf("replay yielded %d events, want %d", len(got), len(want))
	}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("replay position %d: %d, want %d", k, got[k], want[k])
		}
	}
	last, ok, err := dom.LastOccurred(ctx, testDB, activity.HistoryQuery{Subject: i.ID, Actions: []string{"comment_added"}})
	if err != nil || !ok || !last.Equal(clk.Now()) {
		t.Errorf("LastOccurred = %v %v %v, want %v", last, ok, err, clk.Now())
	}
	// No match: ok is false, and no error.
	if _, ok, err := dom.LastOccurred(ctx, testDB, activity.HistoryQuery{Subject: i.ID + 1000000, Actions: []string{"comment_added"}}); ok || err != nil {
		t.Errorf("LastOccurred of nothing = %v %v, want false and no error", ok, err)
	}
}

// TestResolveOnPoolAndInTransaction: on the pool a page's reference types
// load together (ModelResolvers in one batch, other resolvers at once
// beside it); in a transaction one after another on its connection.
// Either way every type is loaded, and a resolver's error is the call's,
// named by its type.
func TestResolveOnPoolAndInTransaction(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	for _, failing := range []bool{false, true} {
		comments := activity.ModelResolver[Comment]()
		if failing {
			comments = activity.ResolverFunc(func(context.Context, *gorm.DB, []string) (map[string]any, error) { return nil, boom })
		}
		d := activity.MustDomain(activity.DomainConfig{
			Name: "issue", Actions: []string{"comment_added"}, Now: clock.Now,
			Resolvers: map[string]activity.Resolver{"users": activity.ModelResolver[User](), "comments": comments},
		})
		ev := commentEvent(t, d, "resolved")
		check := func(where string, db *gorm.DB) {
			entries, err := d.Resolve(ctx, db, []activity.Event{ev})
			if failing {
				if !errors.Is(err, boom) || !strings.Contains(err.Error(), "resolve comments") {
					t.Errorf("%s, comments resolver failing: err = %v, want boom named by its type", where, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if e := entries[0]; e.ActorName() != "Ana" || e.ActorValue == nil || e.RecordValue == nil || e.RecordName() != "resolved" {
				t.Errorf("%s: actor %v (%q), record %v (%q): want both loaded", where, e.ActorValue, e.ActorName(), e.RecordValue, e.RecordName())
			}
		}
		check("on the pool", testDB)
		if err := testDB.Transaction(func(tx *gorm.DB) error { check("in a transaction", tx); return nil }); err != nil {
			t.Fatal(err)
		}
	}
}

// A model whose key is text, with keys a SQL literal or an array literal
// would have to escape.
type Label struct {
	Code string `gorm:"primaryKey"`
	Name string
}

type Account struct {
	ID   string `gorm:"type:uuid;primaryKey"`
	Name string
}

// TestModelResolverKeyTypes: bigint, uuid and text keys (quotes,
// backslashes, braces, commas and non-ASCII included) load, on the pool
// and in a transaction; keys with no row are absent, and ids that cannot
// be an integer key (recorded by hand as a users reference) are absent
// too, not an error that would break the page.
func TestModelResolverKeyTypes(t *testing.T) {
	ctx := context.Background()
	if err := testDB.Exec(`CREATE TABLE IF NOT EXISTS labels (code text PRIMARY KEY, name text NOT NULL)`).Error; err != nil {
		t.Fatal(err)
	}
	codes := []string{`plain`, `it's`, `say "hi"`, `back\slash`, `{brace},comma`, `NULL`, `ünï`}
	acct := Account{ID: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", Name: "Acme"}
	// The keys are fixed: a run before this one (-count) left them.
	if err := testDB.Where("code IN ?", codes).Delete(&Label{}).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Delete(&acct).Error; err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if err := testDB.Create(&Label{Code: c, Name: "label " + c}).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := testDB.Create(&acct).Error; err != nil {
		t.Fatal(err)
	}
	u, _ := fixture(t)
	cases := []struct {
		name string
		r    activity.Resolver
		ids  []string
		want []string // the ids that load
	}{
		// Ids that are not integers cannot match an integer key: left
		// out, not an error for the whole page.
		{"bigint", activity.ModelResolver[User](), []string{fmt.Sprint(u.ID), "999999999", "abc", "9223372036854775808", ""}, []string{fmt.Sprint(u.ID)}},
		{"uuid", activity.ModelResolver[Account](), []string{acct.ID, "00000000-0000-0000-0000-000000000000"}, []string{acct.ID}},
		{"text", activity.ModelResolver[Label](), append([]string{"absent"}, codes...), codes},
	}
	for _, c := range cases {
		for _, where := range []string{"pool", "transaction"} {
			run := func(db *gorm.DB) {
				got, err := c.r.Resolve(ctx, db, c.ids)
				if err != nil {
					t.Fatalf("%s on the %s: %v", c.name, where, err)
				}
				if len(got) != len(c.want) {
					t.Errorf("%s on the %s: loaded %d of %v, want %v", c.name, where, len(got), c.ids, c.want)
				}
				for _, id := range c.want {
					if got[id] == nil {
						t.Errorf("%s on the %s: %q not loaded", c.name, where, id)
					}
				}
			}
			if where == "pool" {
				run(testDB)
				continue
			}
			if err := testDB.Transaction(func(tx *gorm.DB) error { run(tx); return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestFeedJoinsTheCallersTransaction: a feed read in a transaction runs on
// it (it sees the transaction's own uncommitted event, and the model its
// resolver loads); on the pool it does not, until the commit.
func TestFeedJoinsTheCallersTransaction(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	err := testDB.Transaction(func(tx *gorm.DB) error {
		c := Comment{IssueID: i.ID, Body: "uncommitted"}
		if err := tx.Create(&c).Error; err != nil {
			return err
		}
		res, err := issues.RecordEvent(ctx, tx, i.ID, "comment_added", activity.Actor(&u), activity.Record(&c))
		if err != nil {
			return err
		}
		in, err := issues.Feed(ctx, tx, activity.FeedQuery{Subject: i.ID})
		if err != nil {
			return err
		}
		if len(in.Entries) != 1 || in.Entries[0].ID != res.Event.ID || in.Entries[0].RecordName() != "uncommitted" || in.Entries[0].RecordDeleted() {
			t.Errorf("in the transaction the feed holds %+v, want its own event with its record loaded", in.Entries)
		}
		out, err := issues.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID})
		if err != nil {
			return err
		}
		if len(out.Entries) != 0 {
			t.Errorf("on the pool, before the commit, the feed holds %d events, want none", len(out.Entries))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := issues.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID})
	if err != nil || len(after.Entries) != 1 {
		t.Fatalf("after the commit: %d events, %v; want 1", len(after.Entries), err)
	}
}
