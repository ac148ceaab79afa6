package activitytest_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/activity/activitytest"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"gorm.io/gorm"
)

var (
	db     *gorm.DB
	issues = activity.MustDomain(activity.DomainConfig{Name: "issue", Actions: []string{"label_added", "comment_deleted"}})
)

func TestMain(m *testing.M) {
	up, _ := activity.MigrationSQL(issues)
	var err error
	db, err = pgtest.Create(context.Background(), "tidings_test_activitytest", "CREATE TABLE issues (id bigserial PRIMARY KEY)", up)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// recorder is a testing.TB that records failures instead of failing, so the
// helpers' own failures can be checked.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	panic(r)
}

func capture(t *testing.T, fn func(tb testing.TB)) (failed string) {
	r := &recorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		failed = r.failed
	}()
	fn(r)
	return ""
}

func TestAssertions(t *testing.T) {
	ctx := context.Background()
	db.Exec("INSERT INTO issues (id) VALUES (1)")
	ana := activity.Ref{Type: "users", ID: "1", Label: "Ana"}
	if _, err := issues.RecordEvent(ctx, db, 1, "label_added", activity.Actor(ana), activity.Extra{"name": "bug", "color": "red"}); err != nil {
		t.Fatal(err)
	}
	ev := activitytest.AssertRecorded(t, db, issues, activitytest.Match{Subject: 1, Action: "label_added", Actor: ana, Extra: map[string]any{"name": "bug"}})
	if ev.Action != "label_added" {
		t.Errorf("returned %v", ev)
	}
	activitytest.AssertNotRecorded(t, db, issues, activitytest.Match{Subject: 1, Action: "comment_deleted"})

	if msg := capture(t, func(tb testing.TB) {
		activitytest.AssertRecorded(tb, db, issues, activitytest.Match{Subject: 1, Action: "label_added", Extra: map[string]any{"name": "feature"}})
	}); !strings.Contains(msg, "no issue event matches") || !strings.Contains(msg, `label_added by users:1`) {
		t.Errorf("AssertRecorded on a missing event failed with %q", msg)
	}
	if msg := capture(t, func(tb testing.TB) {
		activitytest.AssertNotRecorded(tb, db, issues, activitytest.Match{Subject: 1, Action: "label_added"})
	}); !strings.Contains(msg, "found 1") {
		t.Errorf("AssertNotRecorded on a present event failed with %q", msg)
	}
}
