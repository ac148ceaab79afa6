package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tidingsdev/tidings/activity"
)

// The baselines are what an app would write by hand with pgx for the issue
// domain, typed out with numbered parameters and run on a pgxpool, with
// nothing of the library on the path.

// baselineInsertSQL is the floor a hand-written outbox reaches: the event
// and its outbox row in one statement (a CTE), returning the row, no check
// of the subject (the issue domain keeps history, activity.KeepHistory:
// its table has no foreign key, and the library checks the subject in its
// statement), and no notification.
const baselineInsertSQL = `WITH ev AS (INSERT INTO issue_events (subject_id, action, actor_type, actor_id, actor_label, record_type, record_id, record_label, extra, occurred_at, created_at, updated_at, request_id, correlation_id, causation_domain, causation_id, depth, source, ip, user_agent) ` +
	`VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19::inet, $20) RETURNING *), ` +
	`ob AS (INSERT INTO activity_outbox (domain, event_id, action, subject_id) SELECT 'issue', id, action, subject_id::text FROM ev) ` +
	`SELECT false, ` + baselineSelectList + ` FROM ev e`

// baselineNotifySQL is baselineInsertSQL with a pg_notify per event: the
// library's recording statement before wake-ups were rate-limited, kept as
// a row of the table to show what it cost.
const baselineNotifySQL = baselineInsertSQL + ` CROSS JOIN LATERAL (SELECT pg_notify('tidings_outbox', 'issue')) n`

const baselineSelectList = `e.id, e.subject_id::text, e.action, e.actor_type, e.actor_id, e.actor_label, e.record_type, e.record_id, e.record_label, e.extra, e.occurred_at, e.created_at, e.updated_at, e.repeats, e.request_id, e.correlation_id, e.causation_domain, e.causation_id, e.depth, e.source, host(e.ip), e.user_agent, e.trace_parent, e.tags, e.retracted_at, e.retracted_by, e.retraction_reason`

// baselineLockSQL takes the throttle key's transaction-scoped advisory
// lock, on the same key text the throttle function hashes.
const baselineLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`

// baselineTouchSQL is the throttle function's find-recent-and-update.
const baselineTouchSQL = `UPDATE issue_events e
   SET occurred_at = greatest(e.occurred_at, $1::timestamptz), updated_at = $1::timestamptz, repeats = e.repeats + 1
 WHERE e.id = (
    SELECT r.id FROM issue_events r
     WHERE r.subject_id = $2 AND r.action = $3
       AND r.actor_type = $4 AND r.actor_id = $5
       AND r.record_type IS NOT DISTINCT FROM $6::text
       AND r.record_id IS NOT DISTINCT FROM $7::text
       AND r.occurred_at >= $1::timestamptz - $8 * interval '1 microsecond'
     ORDER BY r.occurred_at DESC, r.id DESC
     LIMIT 1)
RETURNING ` + baselineSelectList

// call is one recording, as both sides receive it.
type call struct {
	Subject int64
	Action  string
	Actor   activity.Ref
	Record  activity.Ref
	Extra   activity.Extra
}

// options returns the call as RecordEvent options.
func (c call) options(extra ...activity.Option) []activity.Option {
	return append([]activity.Option{activity.Actor(c.Actor), activity.Record(c.Record), c.Extra}, extra...)
}

// insertArgs returns the parameters of baselineInsertSQL for c at now,
// encoding the extra as an app would.
func (c call) insertArgs(now time.Time) ([]any, error) {
	extra, err := json.Marshal(map[string]any(c.Extra))
	if err != nil {
		return nil, err
	}
	return []any{
		c.Subject, c.Action, c.Actor.Type, c.Actor.ID, c.Actor.Label,
		c.Record.Type, c.Record.ID, c.Record.Label, string(extra),
		now, now, now,
		nil, nil, nil, nil, 0, nil, nil, nil,
	}, nil
}

// throttleKey is the text the throttle function hashes for its lock.
func (c call) throttleKey() string {
	const us = "\x1f"
	return "issue" + us + fmt.Sprint(c.Subject) + us + c.Action + us + c.Actor.Type + us + c.Actor.ID + us + c.Record.Type + us + c.Record.ID
}

// scanBaseline reads a row of baselineSelectList (after the leading
// columns in pre) into an Event, as the library does.
func scanBaseline(row pgx.Row, e *activity.Event, pre ...any) error {
	return row.Scan(append(pre,
		&e.ID, &e.SubjectID, &e.Action, &e.ActorType, &e.ActorID, &e.ActorLabel,
		&e.RecordType, &e.RecordID, &e.RecordLabel, &e.Extra, &e.OccurredAt, &e.CreatedAt,
		&e.UpdatedAt, &e.Repeats, &e.RequestID, &e.CorrelationID, &e.CausationDomain,
		&e.CausationID, &e.Depth, &e.Source, &e.IP, &e.UserAgent, &e.TraceParent,
		&e.Tags, &e.RetractedAt, &e.RetractedBy, &e.RetractionReason)...)
}

// baselineRecord records c with raw pgx running stmt (baselineInsertSQL or
// baselineNotifySQL): one statement, one round trip.
func baselineRecord(ctx context.Context, pool *pgxpool.Pool, stmt string, c call) (activity.Event, error) {
	args, err := c.insertArgs(time.Now())
	if err != nil {
		return activity.Event{}, err
	}
	var e activity.Event
	var throttled bool
	if err := scanBaseline(pool.QueryRow(ctx, stmt, args...), &e, &throttled); err != nil {
		return activity.Event{}, fmt.Errorf("baseline record: %w", err)
	}
	return e, nil
}

// baselineThrottled records c with raw pgx under a throttle window, the
// way an app would by hand: a transaction that takes the key's advisory
// lock, then updates the recent event if there is one, else inserts the
// event and its outbox row. Four round trips when it touches (BEGIN, lock,
// update, COMMIT), five when it inserts.
func baselineThrottled(ctx context.Context, pool *pgxpool.Pool, c call, window time.Duration) (e activity.Event, throttled bool, err error) {
	now := time.Now()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return e, false, fmt.Errorf("baseline throttled: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, baselineLockSQL, c.throttleKey()); err != nil {
		return e, false, fmt.Errorf("baseline throttled: lock: %w", err)
	}
	err = scanBaseline(tx.QueryRow(ctx, baselineTouchSQL,
		now, c.Subject, c.Action, c.Actor.Type, c.Actor.ID, c.Record.Type, c.Record.ID, window.Microseconds()), &e)
	switch {
	case err == nil:
		throttled = true
	case errors.Is(err, pgx.ErrNoRows):
		args, err := c.insertArgs(now)
		if err != nil {
			return e, false, err
		}
		if err := scanBaseline(tx.QueryRow(ctx, baselineInsertSQL, args...), &e, &throttled); err != nil {
			return e, false, fmt.Errorf("baseline throttled: insert: %w", err)
		}
	default:
		return e, false, fmt.Errorf("baseline throttled: touch: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return e, false, fmt.Errorf("baseline throttled: commit: %w", err)
	}
	return e, throttled, nil
}

// baselineFeedSQL is the events query Feed sends for a subject's first
// page (activity/feed.go: the key as a one-element array, ordered by the
// key first, which keeps a hot subject on its own index).
const baselineFeedSQL = `SELECT ` + baselineSelectList + ` FROM issue_events e
 WHERE e.subject_id = ANY (ARRAY[$1::bigint]) ORDER BY e.subject_id, e.occurred_at DESC, e.id DESC LIMIT $2`

// baselineFeedPage loads a subject's first page with raw pgx the way Feed
// does (the events, then the page's users and comments, a query each, in
// one batch) and nothing else: the floor under Feed on this machine.
func baselineFeedPage(ctx context.Context, pool *pgxpool.Pool, subject int64, limit int) ([]activity.Event, map[int64]*User, map[int64]*Comment, error) {
	events, err := baselineEvents(ctx, pool, nil, baselineFeedSQL, subject, limit+1)
	if err != nil {
		return nil, nil, nil, err
	}
	return baselineModels(ctx, pool, events, limit)
}

// baselineEvents appends the events sql returns to events.
func baselineEvents(ctx context.Context, pool *pgxpool.Pool, events []activity.Event, sql string, args ...any) ([]activity.Event, error) {
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("baseline feed: %w", err)
	}
	for rows.Next() {
		var e activity.Event
		if err := scanBaseline(rows, &e); err != nil {
			rows.Close()
			return nil, fmt.Errorf("baseline feed: %w", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("baseline feed: %w", err)
	}
	return events, nil
}

// baselineModels cuts events to a page of limit and loads the page's users
// and comments, a query each, in one pgx batch: one round trip.
func baselineModels(ctx context.Context, pool *pgxpool.Pool, events []activity.Event, limit int) ([]activity.Event, map[int64]*User, map[int64]*Comment, error) {
	if len(events) > limit {
		events = events[:limit]
	}
	var userIDs, commentIDs []int64
	seenU, seenC := map[int64]bool{}, map[int64]bool{}
	for _, e := range events {
		if id, err := strconv.ParseInt(e.ActorID, 10, 64); err == nil && !seenU[id] {
			seenU[id] = true
			userIDs = append(userIDs, id)
		}
		if r := e.Record(); r != nil {
			if id, err := strconv.ParseInt(r.ID, 10, 64); err == nil && !seenC[id] {
				seenC[id] = true
				commentIDs = append(commentIDs, id)
			}
		}
	}
	users := make(map[int64]*User, len(userIDs))
	comments := make(map[int64]*Comment, len(commentIDs))
	b := &pgx.Batch{}
	b.Queue(`SELECT id, name FROM users WHERE id = ANY($1)`, userIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			u := new(User)
			if err := rows.Scan(&u.ID, &u.Name); err != nil {
				return err
			}
			users[u.ID] = u
		}
		return rows.Err()
	})
	b.Queue(`SELECT id, issue_id, body FROM comments WHERE id = ANY($1)`, commentIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			c := new(Comment)
			if err := rows.Scan(&c.ID, &c.IssueID, &c.Body); err != nil {
				return err
			}
			comments[c.ID] = c
		}
		return rows.Err()
	})
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, nil, fmt.Errorf("baseline feed: users and comments: %w", err)
	}
	return events, users, comments, nil
}

// baselinePartitionedPage loads a subject's first page from a table
// partitioned by month with raw pgx, the way an app would by hand: the
// events of the month holding now (the planner considers one partition),
// older ones only when that month holds less than a page; then the page's
// users and comments in one batch.
func baselinePartitionedPage(ctx context.Context, pool *pgxpool.Pool, table string, subject int64, limit int) ([]activity.Event, map[int64]*User, map[int64]*Comment, error) {
	now := time.Now().UTC()
	lo := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	const order = ` ORDER BY e.subject_id, e.occurred_at DESC, e.id DESC`
	events, err := baselineEvents(ctx, pool, make([]activity.Event, 0, limit+1), `SELECT `+baselineSelectList+` FROM `+table+` e
 WHERE e.subject_id = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3`+order+` LIMIT $4`, subject, lo, lo.AddDate(0, 1, 0), limit+1)
	if err == nil && len(events) <= limit {
		events, err = baselineEvents(ctx, pool, events, `SELECT `+baselineSelectList+` FROM `+table+` e
 WHERE e.subject_id = $1 AND e.occurred_at < $2`+order+` LIMIT $3`, subject, lo, limit+1-len(events))
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return baselineModels(ctx, pool, events, limit)
}
