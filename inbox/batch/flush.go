package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// Result counts what a Flush did.
type Result struct {
	Sent     int // windows delivered
	Dropped  int // windows whose every item was muted since
	Retrying int // temporary failures, tried again by a later Flush
	Failed   int // permanent failures, or out of attempts
}

func (r *Result) add(o Result) {
	r.Sent += o.Sent
	r.Dropped += o.Dropped
	r.Retrying += o.Retrying
	r.Failed += o.Failed
}

type claimed struct {
	ID        int64
	TenantID  string
	Recipient string
	BatchKey  string
	TimeZone  string
	Locale    string
	Profile   *string
	OpenedAt  time.Time
	DueAt     time.Time
	Attempts  int
}

const claimReturning = `RETURNING id, tenant_id, recipient, batch_key, time_zone, locale, profile::text AS profile, opened_at, due_at, attempts`

// Flush delivers every window of the inbox due at now (closed, full,
// retry due, or claimed by a flusher presumed dead), each in one delivery.
// The error reports what could not be claimed or marked; failed deliveries
// are counted and recorded on their windows.
func (b *Batcher) Flush(ctx context.Context, now time.Time) (Result, error) {
	var total Result
	for {
		var rows []claimed
		err := b.cfg.DB.WithContext(ctx).Raw(`UPDATE batch_windows SET status = 'sending', attempts = attempts + 1, claimed_at = ?, updated_at = ?
WHERE id IN (
  SELECT id FROM batch_windows
   WHERE inbox = ? AND status IN ('open', 'full', 'retry', 'sending')
     AND ((status IN ('open', 'full') AND due_at <= ?) OR (status = 'retry' AND next_attempt_at <= ?) OR (status = 'sending' AND claimed_at <= ?))
   ORDER BY due_at, id
   LIMIT ?
   FOR UPDATE SKIP LOCKED)
`+claimReturning, now, now, b.cfg.Inbox, now, now, now.Add(-b.cfg.ClaimTimeout), b.cfg.BatchSize).Scan(&rows).Error
		if err != nil {
			return total, fmt.Errorf("batch %s: claim due windows: %w", b.cfg.Inbox, err)
		}
		res, err := b.deliverAll(ctx, rows, now)
		total.add(res)
		if err != nil || len(rows) < b.cfg.BatchSize {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// FlushWindow delivers one window if it is due at now (what a scheduled
// task does); a window not due, already claimed or done is left alone.
func (b *Batcher) FlushWindow(ctx context.Context, id int64, now time.Time) (Result, error) {
	var rows []claimed
	err := b.cfg.DB.WithContext(ctx).Raw(`UPDATE batch_windows SET status = 'sending', attempts = attempts + 1, claimed_at = ?, updated_at = ?
WHERE id IN (
  SELECT id FROM batch_windows
   WHERE id = ? AND inbox = ?
     AND ((status IN ('open', 'full') AND due_at <= ?) OR (status = 'retry' AND next_attempt_at <= ?) OR (status = 'sending' AND claimed_at <= ?))
   FOR UPDATE SKIP LOCKED)
`+claimReturning, now, now, id, b.cfg.Inbox, now, now, now.Add(-b.cfg.ClaimTimeout)).Scan(&rows).Error
	if err != nil {
		return Result{}, fmt.Errorf("batch %s: claim window %d: %w", b.cfg.Inbox, id, err)
	}
	return b.deliverAll(ctx, rows, now)
}

func (b *Batcher) deliverAll(ctx context.Context, rows []claimed, now time.Time) (Result, error) {
	var res Result
	if len(rows) == 0 {
		return res, nil
	}
	// One query loads the items of every claimed window.
	ids := make(pgarray.Int8, len(rows))
	for i, c := range rows {
		ids[i] = c.ID
	}
	var items []struct {
		WindowID int64
		Event    string
	}
	loadErr := b.cfg.DB.WithContext(ctx).Raw(`SELECT window_id, event::text AS event FROM batch_items WHERE window_id = ANY(?::bigint[]) ORDER BY window_id, created_at, domain, event_id`, ids).Scan(&items).Error
	snaps := make(map[int64][]string, len(rows))
	for _, it := range items {
		snaps[it.WindowID] = append(snaps[it.WindowID], it.Event)
	}
	var errs []error
	for _, c := range rows {
		var o outcome
		if loadErr != nil {
			o = b.retry(c, now, fmt.Errorf("load window %d: %w", c.ID, loadErr))
		} else {
			o = b.deliver(ctx, c, snaps[c.ID], now)
		}
		switch o.status {
		case "sent":
			res.Sent++
		case "dropped":
			res.Dropped++
		case "retry":
			res.Retrying++
		case "failed":
			res.Failed++
		}
		// Marked one by one, right after each delivery: a flusher that
		// dies re-delivers at most the window it was delivering.
		if err := b.mark(ctx, c, o, now); err != nil {
			errs = append(errs, err)
		} else if o.uncounted {
			b.retryAtProbe(ctx, c, o.next)
		}
	}
	return res, errors.Join(errs...)
}

type outcome struct {
	status string // sent, dropped, retry, failed
	err    error
	next   time.Time
	// uncounted: held by the sink's breaker, or failed by a transport
	// failure of the sink: no attempt spent (Config.Breaker).
	uncounted bool
}

func (b *Batcher) retry(c claimed, now time.Time, err error) outcome {
	if inbox.IsPermanent(err) || c.Attempts >= b.cfg.MaxAttempts {
		return outcome{status: "failed", err: err}
	}
	return outcome{status: "retry", err: err, next: now.Add(b.cfg.Backoff(c.Attempts))}
}

func (b *Batcher) deliver(ctx context.Context, c claimed, snaps []string, now time.Time) outcome {
	retry := func(err error) outcome { return b.retry(c, now, err) }
	var err error
	bt := &Batch{ID: c.ID, Inbox: b.cfg.Inbox, Recipient: c.Recipient, Key: c.BatchKey, Tenant: c.TenantID, Locale: c.Locale,
		Location: time.UTC, OpenedAt: c.OpenedAt, DueAt: c.DueAt, Attempt: c.Attempts}
	if loc, err := time.LoadLocation(c.TimeZone); err == nil {
		bt.Location = loc
	}
	if c.Profile != nil {
		bt.Profile = json.RawMessage(*c.Profile)
	}
	bt.Events = make([]activity.Event, 0, len(snaps))
	for _, s := range snaps {
		var ev activity.Event
		if err := json.Unmarshal([]byte(s), &ev); err != nil {
			return outcome{status: "failed", err: fmt.Errorf("decode an event of window %d: %w", c.ID, err)}
		}
		if ev.TenantID != bt.Tenant {
			return outcome{status: "failed", err: fmt.Errorf("window %d of tenant %q holds %s of tenant %q", c.ID, bt.Tenant, ev.Ref(), ev.TenantID)}
		}
		bt.Events = append(bt.Events, ev)
	}
	// The window's delivery runs in its tenant: the preferences Wanted
	// reads and whatever Deliver stores are that tenant's.
	ctx = tenantContext(ctx, bt.Tenant)
	if b.cfg.Wanted != nil {
		if bt.Events, err = b.cfg.Wanted(ctx, b.cfg.DB, bt); err != nil {
			return retry(err)
		}
	}
	if len(bt.Events) == 0 {
		return outcome{status: "dropped"}
	}
	if o, ok := b.allow(ctx, c, now); !ok {
		return o
	}
	return b.report(c, now, b.cfg.Deliver(ctx, bt))
}

// tenantContext is ctx in tenant (activity.WithTenant), or without any
// tenant for an untenanted window (whatever tenant the flusher's ctx had).
func tenantContext(ctx context.Context, tenant string) context.Context {
	if tenant == "" {
		return activity.WithTenant(ctx, nil)
	}
	return activity.WithTenant(ctx, tenant)
}

// mark records a claimed window's outcome, unless another flusher took it
// over meanwhile (its attempts moved on).
func (b *Batcher) mark(ctx context.Context, c claimed, o outcome, now time.Time) error {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var next any
	lastErr := o.lastError()
	spent := 0
	if o.uncounted {
		spent = 1 // the claim counted an attempt the breaker did not make
	}
	if !o.next.IsZero() {
		next = o.next
	}
	// The mark commits without waiting for the WAL flush
	// (synchronous_commit off, this transaction only): a worker that dies
	// loses no mark, and a PostgreSQL crash may lose the last few, whose
	// windows are then delivered again after ClaimTimeout, as after a
	// worker that died mid-delivery. Waiting for the flush made a flush of
	// 10,000 windows spend most of its time in fsync (cmd/bench, group batch).
	// set_config(..., true) holds for the statement's own transaction, so
	// the mark stays one round trip.
	res := b.cfg.DB.WithContext(mctx).Exec(`WITH async AS (SELECT set_config('synchronous_commit', 'off', true))
UPDATE batch_windows SET status = ?, last_error = ?, next_attempt_at = ?, attempts = attempts - ?,
  sent_at = CASE WHEN ? = 'sent' THEN ?::timestamptz ELSE sent_at END, updated_at = ?
FROM async WHERE id = ? AND status = 'sending' AND attempts = ?`, o.status, lastErr, next, spent, o.status, now, now, c.ID, c.Attempts)
	if res.Error != nil {
		return fmt.Errorf("batch %s: mark window %d %s: %w", b.cfg.Inbox, c.ID, o.status, res.Error)
	}
	affected := res.RowsAffected
	if affected == 0 {
		b.cfg.Logger.WarnContext(ctx, "batch: a claimed window was taken over before it was marked (raise Config.ClaimTimeout)",
			"inbox", b.cfg.Inbox, "window", c.ID, "status", o.status)
	}
	if o.status == "failed" {
		b.cfg.Logger.ErrorContext(ctx, "batch: window failed for good", "inbox", b.cfg.Inbox, "window", c.ID, "recipient", c.Recipient, "error", o.err)
	}
	return nil
}

// Run flushes every interval until ctx is done (the sweep), logging
// failures, and returns ctx's error.
func (b *Batcher) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return &inbox.ConfigError{Field: "batch.Run interval", Reason: fmt.Sprintf("%v must be positive", every)}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := b.Flush(ctx, b.cfg.Now())
		if err != nil && !errors.Is(err, context.Canceled) {
			b.cfg.Logger.ErrorContext(ctx, "batch: flush failed", "inbox", b.cfg.Inbox, "error", err)
		}
		if res != (Result{}) {
			b.cfg.Logger.InfoContext(ctx, "batch: flushed", "inbox", b.cfg.Inbox, "sent", res.Sent, "dropped", res.Dropped, "retrying", res.Retrying, "failed", res.Failed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// OpenAllTenants returns how many windows of the inbox are open or full
// (not yet claimed), of every tenant, for metrics and tests: it ignores
// the context's tenant.
func (b *Batcher) OpenAllTenants(ctx context.Context) (int64, error) {
	var n int64
	err := b.cfg.DB.WithContext(ctx).Raw(`SELECT count(*) FROM batch_windows WHERE inbox = ? AND status IN ('open', 'full')`, b.cfg.Inbox).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("batch %s: count open windows: %w", b.cfg.Inbox, err)
	}
	return n, nil
}
