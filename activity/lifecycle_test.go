package activity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// freshDomain (re)creates the events table of a domain about issues.
func freshDomain(t *testing.T, cfg activity.DomainConfig) *activity.Domain {
	t.Helper()
	cfg.Subject = activity.Subject{Table: "issues"}
	if cfg.Actions == nil {
		cfg.Actions = []string{"comment_added"}
	}
	cfg.Resolvers = map[string]activity.Resolver{"users": activity.ModelResolver[User]()}
	d := activity.MustDomain(cfg)
	up, down := activity.MigrationSQL(d)
	if err := testDB.Exec(down).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec(up).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testDB.Exec(down) })
	return d
}

func countEvents(t *testing.T, d *activity.Domain, subject int64) int64 {
	t.Helper()
	var n int64
	if err := testDB.Table(d.Table()).Where("subject_id = ?", subject).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// Deleting a subject keeps its events by default: the feed still renders
// them from their label snapshots, and recording about the deleted subject
// is refused with a *SubjectError, on the pool, in a transaction (which
// stays usable) and through the throttle function.
func TestSubjectDeleteKeepsHistory(t *testing.T) {
	ctx := context.Background()
	d := freshDomain(t, activity.DomainConfig{Name: "kept"})
	if d.OnSubjectDelete() != activity.KeepHistory {
		t.Fatalf("default policy = %v", d.OnSubjectDelete())
	}
	u, i := fixture(t)
	for range 3 {
		if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.Record(activity.Ref{Type: "comments", ID: "7", Label: "It fails"})); err != nil {
			t.Fatal(err)
		}
	}
	if err := testDB.Exec("DELETE FROM users WHERE id = ?", u.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec("DELETE FROM issues WHERE id = ?", i.ID).Error; err != nil {
		t.Fatal(err)
	}
	if n := countEvents(t, d, i.ID); n != 3 {
		t.Fatalf("after deleting the issue: %d events, want 3", n)
	}
	page, err := d.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 3 {
		t.Fatalf("feed of the deleted issue: %d entries, want 3", len(page.Entries))
	}
	for _, e := range page.Entries {
		if e.ActorValue != nil || e.ActorName() != "Ana" || e.RecordName() != "It fails" {
			t.Errorf("entry renders actor %q (value %v), record %q; want the snapshots Ana and It fails", e.ActorName(), e.ActorValue, e.RecordName())
		}
	}
	var se *activity.SubjectError
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u)); !errors.As(err, &se) {
		t.Errorf("recording about the deleted issue on the pool: err = %v, want a *SubjectError", err)
	}
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u), activity.ThrottleWithin(time.Minute)); !errors.As(err, &se) {
		t.Errorf("throttled recording about the deleted issue: err = %v, want a *SubjectError", err)
	}
	err = testDB.Transaction(func(tx *gorm.DB) error {
		if _, err := d.RecordEvent(ctx, tx, i.ID, "comment_added", activity.Actor(&u)); !errors.As(err, &se) {
			t.Errorf("recording in a transaction: err = %v, want a *SubjectError", err)
		}
		return tx.Exec("SELECT 1").Error // the transaction is not aborted
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.RecordEvents(ctx, testDB, []activity.NewEvent{{Subject: i.ID, Action: "comment_added", Options: []activity.Option{activity.Actor(&u)}}}); !errors.As(err, &se) {
		t.Errorf("bulk recording: err = %v, want a *SubjectError", err)
	}
	if n := countEvents(t, d, i.ID); n != 3 {
		t.Errorf("refused calls wrote events: %d, want 3", n)
	}
}

// With Cascade chosen, deleting a subject deletes its events.
func TestSubjectDeleteCascade(t *testing.T) {
	ctx := context.Background()
	d := freshDomain(t, activity.DomainConfig{Name: "cascaded", OnSubjectDelete: activity.Cascade})
	u, i := fixture(t)
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u)); err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec("DELETE FROM issues WHERE id = ?", i.ID).Error; err != nil {
		t.Fatal(err)
	}
	if n := countEvents(t, d, i.ID); n != 0 {
		t.Errorf("after deleting the issue: %d events, want 0 (Cascade)", n)
	}
	var se *activity.SubjectError
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u)); !errors.As(err, &se) {
		t.Errorf("recording about the deleted issue: err = %v, want a *SubjectError", err)
	}
}

// A policy out of range is refused at declaration.
func TestSubjectDeletePolicyInvalid(t *testing.T) {
	_, err := activity.NewDomain(activity.DomainConfig{Name: "x", Actions: []string{"a"}, OnSubjectDelete: 7})
	if !errors.Is(err, activity.ErrInvalidDomain) {
		t.Errorf("err = %v, want ErrInvalidDomain", err)
	}
}

// UpgradeSQL drops the cascading foreign key of a table made by an earlier
// MigrationSQL, so deleting a subject then keeps its events.
func TestUpgradeSQLDropsCascade(t *testing.T) {
	ctx := context.Background()
	old := freshDomain(t, activity.DomainConfig{Name: "upgraded", OnSubjectDelete: activity.Cascade})
	d := activity.MustDomain(activity.DomainConfig{Name: "upgraded", Subject: activity.Subject{Table: "issues"}, Actions: []string{"comment_added"}})
	up, _ := activity.UpgradeSQL(d)
	for range 2 {
		if err := testDB.Exec(up).Error; err != nil {
			t.Fatal(err)
		}
	}
	u, i := fixture(t)
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(&u)); err != nil {
		t.Fatal(err)
	}
	testDB.Exec("DELETE FROM issues WHERE id = ?", i.ID)
	if n := countEvents(t, old, i.ID); n != 1 {
		t.Errorf("after upgrading and deleting the issue: %d events, want 1", n)
	}
}
