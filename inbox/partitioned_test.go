package inbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// The relay and the worker deliver the events of a time-partitioned domain
// from any partition: the outbox names events by id, which the worker
// loads across partitions.
func TestPartitionedDomainFansOut(t *testing.T) {
	reset(t)
	ctx := context.Background()
	parted := activity.MustDomain(activity.DomainConfig{Name: "parted", Subject: activity.Subject{Table: "issues"},
		Actions: []string{"comment_added"}, Partition: &activity.Partitioning{}})
	up, down := activity.MigrationSQL(parted)
	if err := testDB.Exec(down + up).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testDB.Exec(down) })
	old := time.Now().AddDate(0, -3, 0)
	if _, err := parted.Maintain(ctx, testDB, activity.MaintainConfig{Since: old}); err != nil {
		t.Fatal(err)
	}
	_, issueID := newIssue(t)
	c := newCollector("parted", inbox.On("parted", "comment_added"))
	startWorker(t, inbox.Config{Domains: []*activity.Domain{parted}, Inboxes: []inbox.Inbox{c}})
	var ids []int64
	for _, at := range []time.Time{old, time.Now()} {
		res, err := parted.RecordEvent(ctx, testDB, issueID, "comment_added", activity.Actor(activity.System("system")), activity.OccurredAt(at))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Event.ID)
	}
	waitFor(t, 20*time.Second, "both events delivered", func() bool { return c.count(ids[0]) == 1 && c.count(ids[1]) == 1 }, c.changed)
}
