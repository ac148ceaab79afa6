package inbox

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// DeadLetter is a delivery that failed for good: its job ran out of
// retries, or failed with a permanent error. asynq keeps the job in its
// archive; the worker also records it in the inbox_dead_letters table,
// which outlives asynq's archive limits and can be queried.
type DeadLetter struct {
	Inbox      string
	Event      activity.EventRef
	Action     string
	Queue      string
	TaskID     string
	Attempts   int
	LastError  string
	FailedAt   time.Time
	RedrivenAt *time.Time // set by Redrive; cleared when it fails again
	Redrives   int
	// DeliveredAt is set when the job later succeeded (a re-drive, or
	// "Run now" on asynq's archived task); cleared when it fails again.
	// Such a letter is no longer open.
	DeliveredAt *time.Time
}

// DeadLetterQuery selects dead letters, newest failure first.
type DeadLetterQuery struct {
	Inbox  string // "" for every inbox
	Domain string // "" for every domain
	// IncludeRedriven lists re-driven letters too (by default only the
	// open ones are listed).
	IncludeRedriven bool
	// After is the previous page's Next.
	After string
	// Limit is the page size. Default 100, at most 1000.
	Limit int
}

// DeadLetterPage is one page of dead letters.
type DeadLetterPage struct {
	Letters []DeadLetter
	Next    string // "" on the last page
}

// DeadLetters lists and re-drives failed deliveries. Get one from
// Worker.DeadLetters, or NewDeadLetters for a tool without a worker.
type DeadLetters struct {
	db       *gorm.DB
	redis    asynq.RedisConnOpt
	policies map[string]Policy
	now      func() time.Time

	mu        sync.Mutex
	client    *asynq.Client
	inspector *asynq.Inspector
}

// DeadLettersConfig configures NewDeadLetters.
type DeadLettersConfig struct {
	DB    *gorm.DB           // required
	Redis asynq.RedisConnOpt // required to re-drive
	// Inboxes give the policies of re-enqueued jobs (queue, retries,
	// timeout). A letter of an inbox not listed is re-enqueued with the
	// default policy in its recorded queue.
	Inboxes []Inbox
	// App is the workers' Config.App (their queues' namespace).
	App string
	Now func() time.Time // default time.Now
}

// NewDeadLetters returns a DeadLetters for an admin tool. Close it after.
func NewDeadLetters(cfg DeadLettersConfig) (*DeadLetters, error) {
	if cfg.DB == nil {
		return nil, &ConfigError{Field: "DeadLettersConfig.DB", Reason: "is nil"}
	}
	ps := map[string]Policy{}
	for _, in := range cfg.Inboxes {
		p := PolicyOf(in)
		p.Queue = AppQueue(cfg.App, p.Queue)
		ps[in.Name()] = p
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return newDeadLetters(cfg.DB, cfg.Redis, ps, cfg.Now), nil
}

func newDeadLetters(db *gorm.DB, redis asynq.RedisConnOpt, ps map[string]Policy, now func() time.Time) *DeadLetters {
	return &DeadLetters{db: db, redis: redis, policies: ps, now: now}
}

// Close releases the Redis connections it opened.
func (x *DeadLetters) Close() error { x.close(); return nil }

func (x *DeadLetters) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.client != nil {
		_ = x.client.Close()
		x.client = nil
	}
	if x.inspector != nil {
		_ = x.inspector.Close()
		x.inspector = nil
	}
}

func (x *DeadLetters) asynq() (*asynq.Client, *asynq.Inspector, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.redis == nil {
		return nil, nil, &ConfigError{Field: "DeadLettersConfig.Redis", Reason: "is nil: re-driving enqueues to Redis"}
	}
	if x.client == nil {
		x.client = asynq.NewClient(x.redis)
		x.inspector = asynq.NewInspector(x.redis)
	}
	return x.client, x.inspector, nil
}

// record upserts a dead letter: failing again reopens a re-driven one.
func (x *DeadLetters) record(ctx context.Context, d DeadLetter) error {
	return x.db.WithContext(ctx).Exec(`INSERT INTO inbox_dead_letters AS l (inbox, domain, event_id, action, queue, task_id, attempts, last_error, failed_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (inbox, domain, event_id) DO UPDATE SET action = EXCLUDED.action, queue = EXCLUDED.queue, task_id = EXCLUDED.task_id,
  attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error, failed_at = EXCLUDED.failed_at, redriven_at = NULL, delivered_at = NULL`,
		d.Inbox, d.Event.Domain, d.Event.ID, d.Action, d.Queue, d.TaskID, d.Attempts, truncate(d.LastError, 4000), d.FailedAt).Error
}

// ImportArchived records the archived jobs of queues that the table lacks,
// and returns how many it recorded. The worker records a dead letter when
// a job fails for good, but asynq also archives on its own a job whose last
// attempt was lost with its worker (a lease that ran out), without telling
// the worker: run ImportArchived (from a tool, or now and then) to list
// those too. Queues default to the known inboxes' queues. Such a letter's
// LastError is asynq's: the kind of failure the worker handed it, never an
// error's text (which the worker keeps out of Redis; see "Redis holds
// references" in the package doc).
func (x *DeadLetters) ImportArchived(ctx context.Context, queues ...string) (int, error) {
	_, insp, err := x.asynq()
	if err != nil {
		return 0, err
	}
	if len(queues) == 0 {
		seen := map[string]bool{}
		for _, p := range x.policies {
			for _, q := range p.AllQueues() {
				if !seen[q] {
					seen[q] = true
					queues = append(queues, q)
				}
			}
		}
	}
	n := 0
	for _, q := range queues {
		for page := 1; ; page++ {
			tasks, err := insp.ListArchivedTasks(q, asynq.PageSize(500), asynq.Page(page))
			if errors.Is(err, asynq.ErrQueueNotFound) {
				break
			}
			if err != nil {
				return n, fmt.Errorf("inbox: list archived tasks of %s: %w", q, err)
			}
			for _, t := range tasks {
				name := inboxOfType(t.Type)
				p, perr := decodePayload(t.Payload)
				if name == "" || perr != nil {
					continue // not an inbox job
				}
				lastErr := t.LastErr
				if lastErr == "" {
					lastErr = "archived by asynq without an error (moved by hand, or its last attempt was lost with its worker)"
				}
				failedAt := t.LastFailedAt
				if failedAt.IsZero() {
					failedAt = x.now()
				}
				res := x.db.WithContext(ctx).Exec(`INSERT INTO inbox_dead_letters AS l (inbox, domain, event_id, action, queue, task_id, attempts, last_error, failed_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (inbox, domain, event_id) DO UPDATE SET queue = EXCLUDED.queue, task_id = EXCLUDED.task_id, attempts = EXCLUDED.attempts,
  last_error = EXCLUDED.last_error, failed_at = EXCLUDED.failed_at, redriven_at = NULL
WHERE l.redriven_at IS NOT NULL AND l.redriven_at < EXCLUDED.failed_at`,
					name, p.Domain, p.EventID, p.Action, t.Queue, t.ID, t.Retried+1, truncate(lastErr, 4000), failedAt)
				if res.Error != nil {
					return n, fmt.Errorf("inbox: record archived task %s: %w", t.ID, res.Error)
				}
				n += int(res.RowsAffected)
			}
			if len(tasks) < 500 {
				break
			}
		}
	}
	return n, nil
}

// List returns a page of dead letters, newest failure first.
func (x *DeadLetters) List(ctx context.Context, q DeadLetterQuery) (DeadLetterPage, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 1000:
		return DeadLetterPage{}, &ConfigError{Field: "DeadLetterQuery.Limit", Reason: fmt.Sprintf("is %d; allowed: 1 to 1000 (0 means 100)", q.Limit)}
	}
	tx := x.db.WithContext(ctx).Table("inbox_dead_letters")
	if q.Inbox != "" {
		tx = tx.Where("inbox = ?", q.Inbox)
	}
	if q.Domain != "" {
		tx = tx.Where("domain = ?", q.Domain)
	}
	if !q.IncludeRedriven {
		tx = tx.Where("redriven_at IS NULL AND delivered_at IS NULL")
	}
	if q.After != "" {
		at, id, err := decodeLetterCursor(q.After)
		if err != nil {
			return DeadLetterPage{}, err
		}
		tx = tx.Where("(failed_at, task_id) < (?, ?)", at, id)
	}
	rows, err := tx.Select("inbox, domain, event_id, action, queue, task_id, attempts, last_error, failed_at, redriven_at, redrives, delivered_at").
		Order("failed_at DESC, task_id DESC").Limit(limit + 1).Rows()
	if err != nil {
		return DeadLetterPage{}, fmt.Errorf("inbox: list dead letters: %w", err)
	}
	defer rows.Close()
	var page DeadLetterPage
	for rows.Next() {
		var d DeadLetter
		if err := rows.Scan(&d.Inbox, &d.Event.Domain, &d.Event.ID, &d.Action, &d.Queue, &d.TaskID, &d.Attempts, &d.LastError, &d.FailedAt, &d.RedrivenAt, &d.Redrives, &d.DeliveredAt); err != nil {
			return DeadLetterPage{}, fmt.Errorf("inbox: list dead letters: %w", err)
		}
		page.Letters = append(page.Letters, d)
	}
	if err := rows.Err(); err != nil {
		return DeadLetterPage{}, fmt.Errorf("inbox: list dead letters: %w", err)
	}
	if len(page.Letters) > limit {
		page.Letters = page.Letters[:limit]
		last := page.Letters[limit-1]
		page.Next = encodeLetterCursor(last.FailedAt, last.TaskID)
	}
	return page, nil
}

// Redrive runs a dead letter's job again, once its cause is fixed: the
// archived asynq task is moved back to its queue (with its retry count
// spent, so it gets one attempt); if asynq no longer has it, a new task
// with the same ID is enqueued with the inbox's full retries. The letter is
// marked re-driven; if the job fails for good again, it reopens.
func (x *DeadLetters) Redrive(ctx context.Context, inbox string, ev activity.EventRef) error {
	var ds []DeadLetter
	rows, err := x.db.WithContext(ctx).Raw(`SELECT queue, task_id, action FROM inbox_dead_letters WHERE inbox = ? AND domain = ? AND event_id = ?`,
		inbox, ev.Domain, ev.ID).Rows()
	if err != nil {
		return fmt.Errorf("inbox: redrive %s %s: %w", inbox, ev, err)
	}
	for rows.Next() {
		d := DeadLetter{Inbox: inbox, Event: ev}
		if err := rows.Scan(&d.Queue, &d.TaskID, &d.Action); err != nil {
			rows.Close()
			return fmt.Errorf("inbox: redrive %s %s: %w", inbox, ev, err)
		}
		ds = append(ds, d)
	}
	rows.Close()
	if len(ds) == 0 {
		return fmt.Errorf("%w: inbox %s, event %s", ErrDeadLetterNotFound, inbox, ev)
	}
	return x.redrive(ctx, ds[0])
}

func (x *DeadLetters) redrive(ctx context.Context, d DeadLetter) error {
	client, insp, err := x.asynq()
	if err != nil {
		return err
	}
	err = insp.RunTask(d.Queue, d.TaskID)
	switch {
	case err == nil:
	case errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound):
		p, ok := x.policies[d.Inbox]
		if !ok {
			p = Policy{Queue: d.Queue}.withDefaults()
		}
		task := asynq.NewTask(TaskType(d.Inbox), encodePayload(payload{Domain: d.Event.Domain, EventID: d.Event.ID, Action: d.Action}))
		q := p.Queue
		if d.Queue != "" {
			q = d.Queue // the queue (shard) it failed in
		}
		_, err = client.EnqueueContext(ctx, task, asynq.Queue(q), asynq.MaxRetry(p.MaxRetry), asynq.Timeout(p.Timeout),
			asynq.Retention(DefaultRetention), asynq.TaskID(d.TaskID))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("inbox: redrive %s %s: enqueue: %w", d.Inbox, d.Event, err)
		}
	case strings.Contains(err.Error(), "already"): // pending or active: it runs anyway
	default:
		return fmt.Errorf("inbox: redrive %s %s: %w", d.Inbox, d.Event, err)
	}
	// PostgreSQL knows the re-driven job again until it is done (a Redis
	// that loses it meanwhile loses nothing).
	if err := x.db.WithContext(ctx).Exec(`INSERT INTO `+PendingTable+` (domain, event_id, inbox, action, queue, check_at)
VALUES (?, ?, ?, ?, ?, now() + interval '1 minute')
ON CONFLICT (domain, event_id, inbox) DO UPDATE SET queue = EXCLUDED.queue, check_at = EXCLUDED.check_at`,
		d.Event.Domain, d.Event.ID, d.Inbox, d.Action, d.Queue).Error; err != nil {
		return fmt.Errorf("inbox: redrive %s %s: %w", d.Inbox, d.Event, err)
	}
	return x.db.WithContext(ctx).Exec(`UPDATE inbox_dead_letters SET redriven_at = ?, redrives = redrives + 1 WHERE inbox = ? AND domain = ? AND event_id = ?`,
		x.now(), d.Inbox, d.Event.Domain, d.Event.ID).Error
}

// RedriveAll re-drives every open dead letter q selects (Limit and After
// are ignored) and returns how many it re-drove. It stops at the first
// error.
func (x *DeadLetters) RedriveAll(ctx context.Context, q DeadLetterQuery) (int, error) {
	q.IncludeRedriven, q.Limit, q.After = false, 500, ""
	n := 0
	for {
		page, err := x.List(ctx, q)
		if err != nil {
			return n, err
		}
		for _, d := range page.Letters {
			if err := x.redrive(ctx, d); err != nil {
				return n, err
			}
			n++
		}
		// Re-driven letters leave the open set, so the first page again.
		if len(page.Letters) < q.Limit {
			return n, nil
		}
	}
}

func encodeLetterCursor(at time.Time, taskID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixNano(), 10) + "|" + taskID))
}

func decodeLetterCursor(s string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		if ns, id, ok := strings.Cut(string(b), "|"); ok {
			if n, err := strconv.ParseInt(ns, 10, 64); err == nil {
				return time.Unix(0, n), id, nil
			}
		}
	}
	return time.Time{}, "", &ConfigError{Field: "DeadLetterQuery.After", Reason: "is not a cursor from DeadLetterPage.Next"}
}
