package email

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// FlushPolicy tunes Flush. Zero fields take the defaults.
type FlushPolicy struct {
	// BatchSize is how many due digests or escalations one claim takes.
	// Default 100.
	BatchSize int
	// MaxAttempts is how many times a mail is tried before it is marked
	// failed. Default 10.
	MaxAttempts int
	// Backoff is the delay before attempt n+1 after n failed temporarily.
	// Default inbox.ExponentialBackoff(time.Minute, time.Hour).
	Backoff inbox.Backoff
	// ClaimTimeout is how long a claimed mail ('sending') is left to its
	// flusher before another may take it over, presuming the first died.
	// Keep it above the Sender's timeout. Default 5 minutes.
	ClaimTimeout time.Duration
	// Every is how often the inbox's periodic task (Periodic: the
	// escalations and old-table digests Flush sends) runs when a
	// tidings.Client schedules it. RunFlush takes its own interval.
	// Default 1 minute.
	Every time.Duration
}

func (p FlushPolicy) withDefaults() FlushPolicy {
	if p.BatchSize <= 0 {
		p.BatchSize = 100
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 10
	}
	if p.Backoff == nil {
		p.Backoff = inbox.ExponentialBackoff(time.Minute, time.Hour)
	}
	if p.ClaimTimeout <= 0 {
		p.ClaimTimeout = 5 * time.Minute
	}
	if p.Every <= 0 {
		p.Every = time.Minute
	}
	return p
}

// FlushResult counts what one Flush did.
type FlushResult struct {
	Sent     int // mails accepted by the server
	Dropped  int // escalations whose notification was read, or mails whose every event was muted since
	Retrying int // temporary failures, tried again by a later Flush
	Failed   int // permanent failures, or out of attempts
}

func (r *FlushResult) add(o FlushResult) {
	r.Sent += o.Sent
	r.Dropped += o.Dropped
	r.Retrying += o.Retrying
	r.Failed += o.Failed
}

// Flush sends what is due at now: in digest mode the digests of periods
// that ended, in escalation mode the escalations whose delay passed and
// whose notification is still unread. It does nothing in the default mode.
//
// A tidings.Client schedules it (Periodic, every FlushPolicy.Every); an
// app that runs its own worker calls it on a schedule (RunFlush, a cron
// job, an asynq periodic task). Several flushers may run at once, in one process or many: each claims
// rows with FOR UPDATE SKIP LOCKED and marks them 'sending' before it
// sends, so no mail is sent by two. A failed mail is retried by a later
// Flush with FlushPolicy.Backoff; one whose flusher died is taken over
// after FlushPolicy.ClaimTimeout (and may then be sent twice, with the
// same Message-ID).
//
// The error reports what could not be claimed or marked; failed sends are
// counted in the result and recorded on their rows, not returned.
func (in *Inbox) Flush(ctx context.Context, now time.Time) (FlushResult, error) {
	return in.flush(ctx, now, true)
}

// flush is Flush; without windows it leaves the batch windows to the
// batch scheduler and sweep that flush them (Periodic).
func (in *Inbox) flush(ctx context.Context, now time.Time, windows bool) (FlushResult, error) {
	var total FlushResult
	legacyDone := false
	for {
		var res FlushResult
		var n int
		var err error
		switch {
		case in.cfg.Escalation != nil:
			n, res, err = in.flushEscalations(ctx, now)
		case in.cfg.Digest != nil && !legacyDone:
			n, res, err = in.flushLegacyDigests(ctx, now)
			if n < in.cfg.Flush.BatchSize {
				legacyDone = true
				n = in.cfg.Flush.BatchSize // go on with the windows
			}
		case in.batcher != nil && windows:
			br, err := in.batcher.Flush(ctx, now) // claims in batches until none is due
			total.add(FlushResult{Sent: br.Sent, Dropped: br.Dropped, Retrying: br.Retrying, Failed: br.Failed})
			return total, err
		default:
			return total, nil
		}
		total.add(res)
		if err != nil || n < in.cfg.Flush.BatchSize {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// RunFlush calls Flush every interval until ctx is done, logging failures.
// It returns ctx's error.
func (in *Inbox) RunFlush(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("%w: RunFlush interval %v must be positive", ErrInvalidConfig, every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := in.Flush(ctx, in.now())
		if err != nil && !errors.Is(err, context.Canceled) {
			in.log.ErrorContext(ctx, "email: flush failed", "inbox", in.cfg.Name, "error", err)
		}
		if res != (FlushResult{}) {
			in.log.InfoContext(ctx, "email: flushed", "inbox", in.cfg.Name, "sent", res.Sent, "dropped", res.Dropped, "retrying", res.Retrying, "failed", res.Failed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// outcome is what became of one claimed mail.
type outcome struct {
	status    string // sent, dropped, retry, failed
	messageID string
	err       error
	next      time.Time // for retry
	// uncounted: held by the sink's breaker, or failed by a transport
	// failure of the sink: no attempt spent (UseWorkerBreaker).
	uncounted bool
}

// sendOutcome classifies a send (or build) error for a mail on its
// attempt-th attempt.
func (in *Inbox) sendOutcome(err error, attempt int, now time.Time, messageID string) outcome {
	switch {
	case err == nil:
		return outcome{status: "sent", messageID: messageID}
	case IsPermanent(err) || inbox.IsPermanent(err) || attempt >= in.cfg.Flush.MaxAttempts:
		return outcome{status: "failed", err: err, messageID: messageID}
	}
	return outcome{status: "retry", err: err, next: now.Add(in.cfg.Flush.Backoff(attempt)), messageID: messageID}
}

func (o outcome) count(r *FlushResult) {
	switch o.status {
	case "sent":
		r.Sent++
	case "dropped":
		r.Dropped++
	case "retry":
		r.Retrying++
	case "failed":
		r.Failed++
	}
}

func (o outcome) lastError() any {
	if o.err == nil {
		return nil
	}
	if o.uncounted {
		return truncate(heldError(o.err.Error()), 2000)
	}
	return truncate(o.err.Error(), 2000)
}

func (o outcome) nextAttempt() any {
	if o.next.IsZero() {
		return nil
	}
	return o.next
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// PruneAllTenants deletes the inbox's finished digests (with their items)
// and escalations (sent, dropped or failed) of every tenant last updated
// before t, and returns how many it deleted. Open, pending and retrying
// ones stay. Their deliveries-ledger rows are pruned by
// inbox.Ledger.PruneAllTenants; keep those at least as long, or a
// re-driven job would queue its events again. It is maintenance, for a
// process that serves every tenant: it ignores the context's tenant.
func (in *Inbox) PruneAllTenants(ctx context.Context, before time.Time) (int64, error) {
	if in.cfg.DB == nil {
		return 0, nil
	}
	var n int64
	if in.batcher != nil {
		res := in.cfg.DB.WithContext(ctx).Exec(`DELETE FROM batch_windows WHERE inbox = ? AND status IN ('sent', 'dropped', 'failed') AND updated_at < ?`, in.cfg.Name, before)
		if res.Error != nil {
			return n, fmt.Errorf("email inbox %s: prune batch windows: %w", in.cfg.Name, res.Error)
		}
		n += res.RowsAffected
	}
	for _, table := range []string{"email_digests", "email_escalations"} {
		res := in.cfg.DB.WithContext(ctx).Exec(`DELETE FROM `+table+` WHERE inbox = ? AND status IN ('sent', 'dropped', 'failed') AND updated_at < ?`, in.cfg.Name, before)
		if res.Error != nil {
			return n, fmt.Errorf("email inbox %s: prune %s: %w", in.cfg.Name, table, res.Error)
		}
		n += res.RowsAffected
	}
	return n, nil
}
