package activity_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
)

// The app these tests play: an issue tracker with users, issues, comments
// and labels, and the issue domain of the package documentation.
type User struct {
	ID   int64
	Name string
}

type Issue struct {
	ID        int64
	Title     string
	AuthorID  int64
	CreatedAt time.Time
}

type Comment struct {
	ID      int64
	IssueID int64
	Body    string
}

func (c Comment) ActivityLabel() string { return c.Body }

const appSchema = `
CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL);
CREATE TABLE issues (id bigserial PRIMARY KEY, title text NOT NULL, author_id bigint, project_id bigint, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE comments (id bigserial PRIMARY KEY, issue_id bigint NOT NULL, body text NOT NULL);
CREATE TABLE accounts (id uuid PRIMARY KEY, name text NOT NULL);
`

var (
	testDB *gorm.DB
	clock  = &testClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
)

// testClock is the injected clock: tests move it instead of sleeping.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newIssueDomain(now func() time.Time) *activity.Domain {
	return activity.MustDomain(activity.DomainConfig{
		Name:    "issue",
		Actions: []string{"comment_added", "comment_deleted", "comment_viewed", "label_added"},
		Now:     now,
		Resolvers: map[string]activity.Resolver{
			"users":    activity.ModelResolver[User](),
			"comments": activity.ModelResolver[Comment](),
		},
	})
}

var issues = newIssueDomain(clock.Now)

var accounts = activity.MustDomain(activity.DomainConfig{
	Name:    "account",
	Subject: activity.Subject{Table: "accounts", KeyType: activity.KeyUUID},
	Actions: []string{"renamed"},
})

func TestMain(m *testing.M) {
	ctx := context.Background()
	flag.Parse()
	issueUp, _ := activity.MigrationSQL(issues)
	accountUp, _ := activity.MigrationSQL(accounts)
	db, err := pgtest.CreateForFuzz(ctx, "tidings_test_activity", appSchema, issueUp, accountUp)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDB = db
	os.Exit(m.Run())
}

// fixture creates a user and an issue for one test.
func fixture(t *testing.T) (User, Issue) {
	t.Helper()
	u := User{Name: "Ana"}
	if err := testDB.Create(&u).Error; err != nil {
		t.Fatal(err)
	}
	i := Issue{Title: "Login fails", AuthorID: u.ID}
	if err := testDB.Create(&i).Error; err != nil {
		t.Fatal(err)
	}
	return u, i
}

// commentEvent records, through d, a fixture user's comment (body) on a
// fixture issue, and returns the event.
func commentEvent(t *testing.T, d *activity.Domain, body string) activity.Event {
	t.Helper()
	u, i := fixture(t)
	c := Comment{IssueID: i.ID, Body: body}
	if err := testDB.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
	res, err := d.RecordEvent(context.Background(), testDB, i.ID, "comment_added", activity.Actor(&u), activity.Record(&c))
	if err != nil {
		t.Fatal(err)
	}
	return res.Event
}

// counts returns the issue's events and its outbox rows.
func counts(t *testing.T, issueID int64) (events, outbox int64) {
	t.Helper()
	if err := testDB.Table("issue_events").Where("subject_id = ?", issueID).Count(&events).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Table("activity_outbox").Where("domain = 'issue' AND subject_id = ?", fmt.Sprint(issueID)).Count(&outbox).Error; err != nil {
		t.Fatal(err)
	}
	return events, outbox
}
