package inbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// PendingTable holds the deliveries handed to asynq and not yet done.
const PendingTable = "inbox_pending"

// PendingConfig keeps every enqueued delivery findable in PostgreSQL until
// it is done, so that a Redis that loses its data (flushed, restarted
// without persistence, failed over to a replica that missed the last
// writes) loses no delivery.
//
// The relay writes one inbox_pending row per (event, inbox) job in the
// statement that deletes the event's outbox row (no extra round trip). The
// worker deletes the rows of finished jobs (succeeded, skipped, or recorded
// as dead letters) in batches, one statement per CompleteInterval. A
// sweeper in the relay looks at the rows still there CheckAfter after
// their enqueue, then at doubling intervals up to MaxCheckInterval: a job
// that asynq still holds is left alone, a completed or archived one drops
// its row, and a job Redis no longer has is enqueued again under the same
// task ID (the worker loads its event). The deliveries ledger keeps a
// re-run from applying an effect that was applied already.
//
// So a delivery lost by Redis is enqueued again within MaxCheckInterval
// (plus SweepInterval) of its loss. Only an inbox that does not use the
// ledger (Delivery.Once, Delivery.Send) can act twice, and only when a
// worker died between a job's success and its batch of completions and
// the completed task's Retention ran out before the sweeper looked.
type PendingConfig struct {
	// Disable deletes outbox rows once their jobs are enqueued, as before
	// (Redis is then the only copy of a pending delivery). For
	// measurements; do not use it in production.
	Disable bool
	// CheckAfter is how long after its enqueue a pending delivery is first
	// checked. Default 1 minute.
	CheckAfter time.Duration
	// MaxCheckInterval caps the doubling interval between checks of a
	// delivery that asynq still holds (a job retried for hours, a
	// backlog): it bounds how long a lost delivery stays lost. Default 10
	// minutes.
	MaxCheckInterval time.Duration
	// SweepInterval is how often the sweeper looks for rows due for a
	// check. Default 1s.
	SweepInterval time.Duration
	// SweepBatch is how many rows one sweep checks. Default 500.
	SweepBatch int
	// LossCheckInterval is how often the relay reads its epoch marker in
	// Redis (EpochKey, one GET) to notice that Redis lost its data
	// (flushed, restarted empty): it then makes every pending delivery due
	// at once instead of waiting for CheckAfter, so deliveries resume
	// within about LossCheckInterval of Redis answering again. Default 1s;
	// negative turns the check off (the sweeper alone finds losses).
	LossCheckInterval time.Duration
	// FailoverCheckInterval is how often the relay reads a Redis
	// Cluster's slot map (one CLUSTER SLOTS) to notice that one of its
	// queues has a new master (a replica promoted after its master died):
	// it then hands back to the queue, within about a second, the jobs that
	// were active on the dead master and that no running worker holds
	// (see HeldKey), instead of leaving them to asynq's recoverer (its
	// 30 s lease, then a pass once a minute). Default 500ms; negative
	// turns it off. Only on a Redis Cluster.
	FailoverCheckInterval time.Duration
}

func (c *PendingConfig) defaults() error {
	setDefault(&c.CheckAfter, time.Minute)
	setDefault(&c.MaxCheckInterval, 10*time.Minute)
	setDefault(&c.SweepInterval, time.Second)
	setDefault(&c.SweepBatch, 500)
	setDefault(&c.LossCheckInterval, time.Second)
	setDefault(&c.FailoverCheckInterval, 500*time.Millisecond)
	switch {
	case c.CheckAfter < 0 || c.MaxCheckInterval < 0 || c.SweepInterval < 0 || c.SweepBatch < 0:
		return &ConfigError{Field: "PendingConfig", Reason: "durations and SweepBatch must not be negative"}
	case c.MaxCheckInterval < c.CheckAfter:
		return &ConfigError{Field: "PendingConfig.MaxCheckInterval", Reason: fmt.Sprintf("is %v, below CheckAfter %v", c.MaxCheckInterval, c.CheckAfter)}
	}
	return nil
}

// pendingState is the relay's sweeper state.
type pendingState struct {
	inspector *asynq.Inspector
	byName    map[string]*route
	swept     atomic.Int64 // rows checked
	lost      atomic.Int64 // jobs found missing and enqueued again
	finished  atomic.Int64 // rows dropped because asynq had completed or archived the job
}

// SweepStats are the sweeper's counters since the relay was made.
type SweepStats struct {
	Checked    int64 // pending deliveries checked against Redis
	Reenqueued int64 // deliveries Redis had lost, enqueued again
	Finished   int64 // rows dropped: asynq had completed or archived the job
	// RedisLosses counts the times the relay found its epoch marker gone
	// or replaced (Redis lost its data) and made every pending delivery due.
	RedisLosses int64
	// Failovers counts the times the relay saw one of its queues get a
	// new Redis Cluster master; Censuses, the times it then (or at its
	// start) asked the workers which active jobs they hold; Rescued, the
	// active jobs it handed back to their queue because none did;
	// Deferred, the checks that found another relay rescuing and kept
	// their queues for the next check.
	Failovers, Censuses, Rescued, Deferred int64
}

// SweepStats returns the sweeper's counters.
func (r *Relay) SweepStats() SweepStats {
	p := &r.pending
	return SweepStats{Checked: p.swept.Load(), Reenqueued: p.lost.Load(), Finished: p.finished.Load(), RedisLosses: r.loss.losses.Load(),
		Failovers: r.fo.failovers.Load(), Censuses: r.fo.censuses.Load(), Rescued: r.fo.rescued.Load(), Deferred: r.fo.deferred.Load()}
}

func (r *Relay) initPending() error {
	if err := checkApp("RelayConfig.App", r.cfg.App); err != nil {
		return err
	}
	if err := r.cfg.Pending.defaults(); err != nil {
		return err
	}
	r.pending.byName = map[string]*route{}
	for i := range r.routes {
		r.pending.byName[r.routes[i].name] = &r.routes[i]
	}
	if !r.cfg.Pending.Disable && r.cfg.Redis != nil {
		r.pending.inspector = asynq.NewInspector(r.cfg.Redis)
	}
	return r.initLoss()
}

func (r *Relay) closePending() {
	if r.pending.inspector != nil {
		_ = r.pending.inspector.Close()
	}
	r.closeLoss()
}

func (r *Relay) sweeps() bool { return r.pending.inspector != nil }

// settle ends the claimed rows whose jobs were all enqueued: it deletes
// them and, unless Pending.Disable, records their jobs as pending, in one
// statement.
func (r *Relay) settle(tx *gorm.DB, batch []activity.OutboxRow, jobs []job, done []int64) error {
	if r.cfg.Pending.Disable {
		return tx.Exec(`DELETE FROM `+activity.OutboxTable+` WHERE id = ANY(?::bigint[])`, pgarray.Int8(done)).Error
	}
	ok := make(map[int64]bool, len(done))
	for _, id := range done {
		ok[id] = true
	}
	var domains, inboxes, actions, queues pgarray.Text
	var ids pgarray.Int8
	for _, j := range jobs {
		o := batch[j.row]
		if j.err != nil || !ok[o.ID] {
			continue
		}
		domains = append(domains, o.Domain)
		ids = append(ids, o.EventID)
		inboxes = append(inboxes, j.route.name)
		actions = append(actions, o.Action)
		queues = append(queues, j.route.queueFor(o.EventID))
	}
	return tx.Exec(`WITH gone AS (DELETE FROM `+activity.OutboxTable+` WHERE id = ANY(?::bigint[]))
INSERT INTO `+PendingTable+` (domain, event_id, inbox, action, queue, check_at)
SELECT d, e, i, a, q, now() + ? * interval '1 millisecond' FROM unnest(?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[]) AS p(d, e, i, a, q)
ON CONFLICT (domain, event_id, inbox) DO UPDATE SET action = EXCLUDED.action, queue = EXCLUDED.queue, check_at = EXCLUDED.check_at`, pgarray.Int8(done), r.cfg.Pending.CheckAfter.Milliseconds(), domains, ids, inboxes, actions, queues).Error
}

func (r *Relay) sweepLoop(ctx context.Context) {
	t := time.NewTimer(r.cfg.Pending.SweepInterval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.loss.sweepNow: // Redis lost its data: the rows are due
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
		n, err := r.SweepOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		pause := r.cfg.Pending.SweepInterval
		switch {
		case err != nil:
			failures++
			if failures == 1 || failures%10 == 0 {
				r.log.LogAttrs(ctx, slog.LevelError, "inbox: the pending-delivery sweeper failed; it tries again", slog.Any("error", err), slog.Int("failures", failures))
			}
			pause = backoff(r.cfg.Pending.SweepInterval, 30*time.Second, failures)
		case n >= r.cfg.Pending.SweepBatch:
			failures = 0
			pause = 0
		default:
			failures = 0
		}
		t.Reset(pause)
	}
}

// pendingRow is one delivery being checked.
type pendingRow struct {
	Domain  string
	EventID int64
	Inbox   string
	Action  string
	Queue   string
	state   int // 0 alive or unknown, 1 finished, 2 re-enqueued
}

// SweepOnce checks the pending deliveries that are due against Redis:
// rows of finished jobs are dropped, jobs Redis lost are enqueued again.
// It returns how many rows it checked. Run does this every
// PendingConfig.SweepInterval; SweepOnce is for tests and tools.
func (r *Relay) SweepOnce(ctx context.Context) (int, error) {
	if r.pending.inspector == nil {
		return 0, &ConfigError{Field: "RelayConfig.Redis", Reason: "is needed to sweep pending deliveries (or Pending.Disable is set)"}
	}
	pc := r.cfg.Pending
	// Claim the due rows and push their next check out in one autocommit
	// statement: no connection is held while Redis is asked, and a sweeper
	// that dies leaves the rows to a later check.
	var rows []pendingRow
	err := r.db.WithContext(ctx).Raw(`UPDATE `+PendingTable+` p
SET checks = p.checks + 1,
    check_at = now() + least(? * power(2, least(p.checks + 1, 30)), ?) * interval '1 millisecond'
FROM (SELECT domain, event_id, inbox FROM `+PendingTable+` WHERE check_at <= now() ORDER BY check_at LIMIT ? FOR UPDATE SKIP LOCKED) c
WHERE p.domain = c.domain AND p.event_id = c.event_id AND p.inbox = c.inbox
RETURNING p.domain, p.event_id, p.inbox, p.action, p.queue`,
		pc.CheckAfter.Milliseconds(), pc.MaxCheckInterval.Milliseconds(), pc.SweepBatch).Scan(&rows).Error
	if err != nil {
		return 0, fmt.Errorf("inbox: sweep pending deliveries: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	var next atomic.Int64
	var redisErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for range min(r.cfg.EnqueueConcurrency, len(rows)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(rows) || ctx.Err() != nil {
					return
				}
				if err := r.check(ctx, &rows[i]); err != nil {
					redisErr.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	wg.Wait()
	var fd pgarray.Text
	var fe pgarray.Int8
	var fi pgarray.Text
	lost := 0
	for _, p := range rows {
		switch p.state {
		case 1:
			fd, fe, fi = append(fd, p.Domain), append(fe, p.EventID), append(fi, p.Inbox)
		case 2:
			lost++
		}
	}
	r.pending.swept.Add(int64(len(rows)))
	r.pending.lost.Add(int64(lost))
	r.pending.finished.Add(int64(len(fd)))
	if lost > 0 {
		r.log.LogAttrs(ctx, slog.LevelWarn, "inbox: deliveries had vanished from Redis (flushed, restarted without persistence, or failed over); enqueued them again",
			slog.Int("deliveries", lost), slog.Int("checked", len(rows)))
	}
	if len(fd) > 0 {
		if err := deletePending(ctx, r.db, fd, fe, fi, nil); err != nil {
			return len(rows), err
		}
	}
	if p := redisErr.Load(); p != nil {
		return len(rows), *p
	}
	return len(rows), nil
}

// check looks one pending delivery up in Redis and enqueues it again if
// Redis lost it.
func (r *Relay) check(ctx context.Context, p *pendingRow) error {
	ref := activity.EventRef{Domain: p.Domain, ID: p.EventID}
	id := AppTaskID(r.cfg.App, p.Inbox, ref)
	info, err := r.pending.inspector.GetTaskInfo(p.Queue, id)
	switch {
	case err == nil:
		if info.State == asynq.TaskStateCompleted || info.State == asynq.TaskStateArchived {
			p.state = 1
		}
		return nil
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
	default:
		return fmt.Errorf("inbox: sweep: look up task %s: %w", id, err)
	}
	rt := r.pending.byName[p.Inbox]
	if rt == nil {
		return nil // another relay's inbox: it will check
	}
	task := asynq.NewTask(TaskType(rt.name), encodePayload(payload{Domain: p.Domain, EventID: p.EventID, Action: p.Action}))
	opts := append(append(make([]asynq.Option, 0, len(rt.opts)+2), rt.opts...), asynq.TaskID(id), asynq.Queue(p.Queue))
	_, err = r.client.EnqueueContext(ctx, task, opts...)
	switch {
	case err == nil:
		p.state = 2
	case errors.Is(err, asynq.ErrTaskIDConflict): // it came back meanwhile
	default:
		return fmt.Errorf("inbox: sweep: enqueue lost task %s again: %w", id, err)
	}
	return nil
}

// deletePending deletes pending rows by key and returns, in *missing (when
// not nil), the keys it did not find.
func deletePending(ctx context.Context, db *gorm.DB, domains pgarray.Text, ids pgarray.Int8, inboxes pgarray.Text, missing *[]pendingKey) error {
	rows, err := db.WithContext(ctx).Raw(`DELETE FROM `+PendingTable+` p USING unnest(?::text[], ?::bigint[], ?::text[]) AS k(d, e, i)
WHERE p.domain = k.d AND p.event_id = k.e AND p.inbox = k.i
RETURNING p.domain, p.event_id, p.inbox`, domains, ids, inboxes).Rows()
	if err != nil {
		return fmt.Errorf("inbox: delete pending deliveries: %w", err)
	}
	defer rows.Close()
	found := map[pendingKey]bool{}
	for rows.Next() {
		var k pendingKey
		if err := rows.Scan(&k.domain, &k.eventID, &k.inbox); err != nil {
			return fmt.Errorf("inbox: delete pending deliveries: %w", err)
		}
		found[k] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("inbox: delete pending deliveries: %w", err)
	}
	if missing != nil {
		for i := range domains {
			k := pendingKey{domain: domains[i], eventID: ids[i], inbox: inboxes[i]}
			if !found[k] {
				*missing = append(*missing, k)
			}
		}
	}
	return nil
}

// queueFor is the queue of the job delivering event id (Policy.QueueFor).
func (rt *route) queueFor(id int64) string {
	return Policy{Queue: rt.queue, Shards: rt.shards}.QueueFor(id)
}
