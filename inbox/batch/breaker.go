package batch

import (
	"context"
	"strings"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// A batched delivery goes through its sink's circuit breaker as a single
// delivery does (Config.Breaker): held is not failed, a misconfiguration
// is not an outage.

// heldMark starts the last_error of a window held for its sink (its
// breaker open) or failed by a transport failure of it: the windows a
// probe that finds the sink answering releases.
const heldMark = "sink down: "

// UseBreakerIfNone makes br the batcher's Breaker when Config gave none,
// and reports whether it did. Call it before the batcher flushes (the
// entry point, tidings.NewClient, does for the batching inboxes it runs,
// with its worker's breaker of the inbox's sink: UseWorkerBreakers).
func (b *Batcher) UseBreakerIfNone(br *inbox.SinkBreaker) bool {
	if b.cfg.Breaker != nil || br == nil {
		return false
	}
	b.cfg.Breaker = br
	br.OnAnswered(b.release)
	return true
}

// UseWorkerBreakers gives each of inboxes that batches (a Batcher method
// returning a batcher) and names its sink (inbox.InboxWithSink) the
// worker's breaker of that sink, unless its batcher has one, and returns
// how many it gave one.
func UseWorkerBreakers(w *inbox.Worker, inboxes ...inbox.Inbox) int {
	n := 0
	for _, in := range inboxes {
		bi, ok := in.(interface{ Batcher() *Batcher })
		si, named := in.(inbox.InboxWithSink)
		if !ok || !named || bi.Batcher() == nil || si.Sink() == "" {
			continue
		}
		if bi.Batcher().UseBreakerIfNone(w.SinkBreaker(si.Sink())) {
			n++
		}
	}
	return n
}

// allow asks the breaker whether window c may be delivered now; when not,
// the outcome that holds it until the breaker's next probe.
func (b *Batcher) allow(ctx context.Context, c claimed, now time.Time) (outcome, bool) {
	if b.cfg.Breaker == nil {
		return outcome{}, true
	}
	held := b.cfg.Breaker.Allow(ctx)
	if held == nil {
		return outcome{}, true
	}
	return outcome{status: "retry", err: held, next: now.Add(b.cfg.Breaker.Retry(held, b.cfg.Backoff)), uncounted: true}, false
}

// report tells the breaker how a delivery Allow let through went, and
// returns its outcome: a transport failure of the sink is retried at the
// breaker's next probe and not counted against MaxAttempts (held is not
// failed); a refusal of the configuration fails at once (it matches
// inbox.ErrPermanent), the breaker recording its reason for health.
func (b *Batcher) report(c claimed, now time.Time, err error) outcome {
	if b.cfg.Breaker == nil {
		if err == nil {
			return outcome{status: "sent"}
		}
		return b.retry(c, now, err)
	}
	b.cfg.Breaker.Report(err)
	switch {
	case err == nil:
		return outcome{status: "sent"}
	case inbox.IsPermanent(err):
		return outcome{status: "failed", err: err}
	}
	if d := b.cfg.Breaker.Retry(err, b.cfg.Backoff); d > 0 {
		return outcome{status: "retry", err: err, next: now.Add(d), uncounted: true}
	}
	return b.retry(c, now, err)
}

// retryAtProbe asks the Scheduler, when it is a Retrier, to flush the
// window held for its sink at the breaker's next probe; a failure is
// logged (the sweep flushes it).
func (b *Batcher) retryAtProbe(ctx context.Context, c claimed, at time.Time) {
	r, ok := b.cfg.Scheduler.(Retrier)
	if !ok {
		return
	}
	if err := r.ScheduleRetry(ctx, b.cfg.Inbox, c.ID, at); err != nil {
		b.cfg.Logger.WarnContext(ctx, "batch: scheduling the retry of a held window failed; the sweep flushes it", "inbox", b.cfg.Inbox, "window", c.ID, "error", err)
	}
}

// release runs when the sink's breaker found it answering again (a probe
// of the worker's, by a single delivery or a flush): the windows held for
// it become due now and are flushed at once, on a goroutine of their own
// (the probe's delivery does not wait for them). A worker that dies
// meanwhile leaves them to the sweep, and those it claimed to a flusher
// after ClaimTimeout.
func (b *Batcher) release(time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := b.cfg.Now() // the batcher's clock, which its flushes compare with
	res := b.cfg.DB.WithContext(ctx).Exec(`UPDATE batch_windows SET next_attempt_at = ?, updated_at = ?
WHERE inbox = ? AND status = 'retry' AND next_attempt_at > ? AND starts_with(last_error, ?)`, now, now, b.cfg.Inbox, now, heldMark)
	if res.Error != nil {
		b.cfg.Logger.WarnContext(ctx, "batch: windows held for a sink not released; the sweep flushes them at their probe time", "inbox", b.cfg.Inbox, "error", res.Error)
		return
	}
	b.again.Store(true)
	if !b.releasing.CompareAndSwap(false, true) {
		return // the flush under way goes on with them
	}
	go func() {
		for {
			b.again.Store(false)
			b.flushReleased(res.RowsAffected)
			b.releasing.Store(false)
			if !b.again.Load() || !b.releasing.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

func (b *Batcher) flushReleased(released int64) {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.ClaimTimeout)
	defer cancel()
	r, err := b.Flush(ctx, b.cfg.Now())
	if err != nil {
		b.cfg.Logger.ErrorContext(ctx, "batch: flush of the windows released failed; the sweep flushes them", "inbox", b.cfg.Inbox, "error", err)
	}
	b.cfg.Logger.InfoContext(ctx, "batch: windows held for a sink released: it answers again", "inbox", b.cfg.Inbox,
		"sink", b.cfg.Breaker.Sink(), "released", released, "sent", r.Sent, "retrying", r.Retrying, "failed", r.Failed)
}

// lastError is what mark stores of o's error.
func (o outcome) lastError() any {
	if o.err == nil {
		return nil
	}
	msg := o.err.Error()
	if o.uncounted && !strings.HasPrefix(msg, heldMark) {
		msg = heldMark + msg
	}
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	return msg
}
