package projection_test

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/projection"
)

// IssueStats is seed 004's backfill as a projection: issues.last_commented_at
// and a comment count per project, folded from comment_added events.
type IssueStats struct {
	Issues *activity.Domain
}

func (IssueStats) Name() string { return "issue_stats" }

func (IssueStats) Accepts(domain, action string) bool {
	return domain == "issue" && action == "comment_added"
}

// Apply folds with a maximum and a sum: the order of events does not matter.
func (IssueStats) Apply(ctx context.Context, tx *gorm.DB, ev activity.Event) error {
	if err := tx.Exec(`UPDATE issues SET last_commented_at = greatest(last_commented_at, ?) WHERE id = ?`, ev.OccurredAt, ev.SubjectID).Error; err != nil {
		return err
	}
	return tx.Exec(`INSERT INTO project_comment_counts (project_id, comments)
SELECT project_id, 1 FROM issues WHERE id = ?
ON CONFLICT (project_id) DO UPDATE SET comments = project_comment_counts.comments + 1`, ev.SubjectID).Error
}

func (IssueStats) Reset(ctx context.Context, tx *gorm.DB) error {
	if err := tx.Exec(`UPDATE issues SET last_commented_at = NULL WHERE last_commented_at IS NOT NULL`).Error; err != nil {
		return err
	}
	return tx.Exec(`DELETE FROM project_comment_counts`).Error
}

// Revert takes a retracted comment back out: one less in its project, and
// the issue's latest comment that still stands.
func (s IssueStats) Revert(ctx context.Context, tx *gorm.DB, ev activity.Event) error {
	last, ok, err := s.Issues.LastOccurred(ctx, tx, activity.HistoryQuery{Subject: ev.SubjectID, Actions: []string{"comment_added"}})
	if err != nil {
		return err
	}
	var at any
	if ok {
		at = last
	}
	if err := tx.Exec(`UPDATE issues SET last_commented_at = ? WHERE id = ?`, at, ev.SubjectID).Error; err != nil {
		return err
	}
	return tx.Exec(`UPDATE project_comment_counts SET comments = comments - 1
WHERE project_id = (SELECT project_id FROM issues WHERE id = ?)`, ev.SubjectID).Error
}

func ExampleProjection() {
	db := testDB // the app's *gorm.DB
	stats, err := projection.New(projection.Config{DB: db, Domains: []*activity.Domain{issues}, Projector: IssueStats{Issues: issues}})
	if err != nil {
		panic(err)
	}
	// Give stats to the worker (inbox.Config.Inboxes) for live events, and
	// call stats.Rebuild(ctx) once to fold the history.
	fmt.Println(stats.Name())

	// The output check must be a comment group of its own: joined to the
	// comment above, go test did not see it and never ran this example.

	// Output: projection.issue_stats
}
