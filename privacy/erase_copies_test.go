package privacy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/privacy"
)

// A retraction's reason is copied: onto every retracted event
// (retraction_reason) and into the extra of the "_retracted" event
// Retract records. When it names a person who took no part in either
// (Bob's comment, retracted by Carol "as asked by" Ana), erasing that
// person masks both copies, and a reason that does not name them stays.
func TestEraseMasksCopiedRetractionReasons(t *testing.T) {
	ctx := context.Background()
	ana := newUser(t, someone{name: "Ana Retracta", email: "ana.retracta@example.org"})
	bob := newUser(t, someone{name: "Bob Poster", email: "bob.poster@example.org"})
	carol := activity.Ref{Type: "users", ID: "carol", Label: "Carol Mod"}
	var issueID int64
	if err := testDB.Raw(`INSERT INTO issues (title) VALUES ('Retracted') RETURNING id`).Scan(&issueID).Error; err != nil {
		t.Fatal(err)
	}
	dup, err := issues.RecordEvent(bob.ctx(bob.name), testDB, issueID, "comment_added", activity.Extra(map[string]any{"body": "posted twice"}))
	if err != nil {
		t.Fatal(err)
	}
	spam, err := issues.RecordEvent(bob.ctx(bob.name), testDB, issueID, "comment_added", activity.Extra(map[string]any{"body": "spam"}))
	if err != nil {
		t.Fatal(err)
	}
	reason := "duplicate, asked by " + ana.name + " (" + ana.email + ")"
	for _, r := range []activity.Retraction{
		{Events: []int64{dup.Event.ID}, Reason: reason, Action: "comment_retracted", Actor: carol},
		{Events: []int64{spam.Event.ID}, Reason: "spam, kept reason", Action: "comment_retracted", Actor: carol},
	} {
		if _, err := issues.Retract(ctx, testDB, r); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{"issue_events.retraction_reason": false, "issue_events.extra": false}
	for _, h := range hits(t, []string{ana.name, ana.email}) {
		for col := range want {
			want[col] = want[col] || strings.HasPrefix(h, col+":")
		}
	}
	for col, found := range want {
		if !found {
			t.Fatalf("before erasure, the reason is not in %s; the test does not seed that copy", col)
		}
	}

	px, err := privacy.New(privacy.Config{Domains: []*activity.Domain{issues, users}, Parts: []privacy.Part{usersPart}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := px.Erase(ctx, testDB, ana.person(), privacy.Request{By: "support:1"}); err != nil {
		t.Fatal(err)
	}
	if h := hits(t, []string{ana.name, ana.email}); len(h) > 0 {
		t.Errorf("after erasure, the copied reason still names Ana:\n  %s", strings.Join(h, "\n  "))
	}
	var kept int64
	if err := testDB.Raw(`SELECT count(*) FROM issue_events WHERE retraction_reason = 'spam, kept reason' OR extra->>'reason' = 'spam, kept reason'`).Scan(&kept).Error; err != nil {
		t.Fatal(err)
	}
	if kept != 2 {
		t.Errorf("%d copies of a reason that names nobody kept, want 2 (the retracted event's and the retraction's)", kept)
	}
}
