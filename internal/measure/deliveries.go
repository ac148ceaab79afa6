package measure

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// ClearOutbox empties the outbox (the record figures leave rows in it) and
// the bench's Redis, so each measurement starts from nothing.
func ClearOutbox(ctx context.Context, db *gorm.DB) error {
	if err := db.WithContext(ctx).Exec(`TRUNCATE ` + activity.OutboxTable).Error; err != nil {
		return err
	}
	return FlushRedis(ctx)
}

// FillOutbox writes n issue events and their outbox rows in one statement,
// as n RecordEvent calls would have (the fan-out does not care how).
func FillOutbox(ctx context.Context, db *gorm.DB, n int) error {
	return db.WithContext(ctx).Exec(`WITH ev AS (
  INSERT INTO issue_events (subject_id, action, actor_type, actor_id, actor_label)
  SELECT 1 + g % ?, 'comment_added', 'users', (1 + g % 1000)::text, 'User' FROM generate_series(1, ?) g
  RETURNING id, action, subject_id)
INSERT INTO `+activity.OutboxTable+` (domain, event_id, action, subject_id) SELECT 'issue', id, action, subject_id::text FROM ev ORDER BY id`,
		FixtureIssues, n).Error
}

// noop is an inbox that does nothing but count.
type noop struct {
	name  string
	count *atomic.Int64
	want  int64
	done  chan struct{}
}

func (n *noop) Name() string                { return n.name }
func (n *noop) Accepts(string, string) bool { return true }
func (n *noop) Process(context.Context, *inbox.Delivery) error {
	if n.count.Add(1) == n.want {
		close(n.done)
	}
	return nil
}

// Deliveries drains a backlog of events (ClearOutbox, then FillOutbox)
// to inboxes no-op inboxes through a worker (relay + asynq server + event
// loading) adjusted by t, and returns deliveries per second, timed from
// the worker's start until the last delivery ran.
func Deliveries(ctx context.Context, db *gorm.DB, t Tuning, events, inboxes int) (float64, error) {
	deliveries := events * inboxes
	if err := ClearOutbox(ctx, db); err != nil {
		return 0, err
	}
	if err := FillOutbox(ctx, db, events); err != nil {
		return 0, err
	}
	var count atomic.Int64
	done := make(chan struct{})
	var ins []inbox.Inbox
	for k := range inboxes {
		ins = append(ins, &noop{name: fmt.Sprintf("bench-noop-%d", k), count: &count, want: int64(deliveries), done: done})
	}
	w, err := inbox.NewWorker(t.WorkerConfig(db, t.IssueDomain(), ins...))
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := w.Start(ctx); err != nil {
		return 0, err
	}
	err = WaitDone(ctx, done, 5*time.Minute, "the fan-out run")
	elapsed := time.Since(start)
	w.Shutdown()
	if err != nil {
		return 0, err
	}
	return float64(deliveries) / elapsed.Seconds(), nil
}
