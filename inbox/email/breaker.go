package email

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// The mails Flush sends (escalations, and the digests of the old tables)
// go through their sink's circuit breaker as single mails and batched
// digests do (UseWorkerBreaker): held is not failed, a misconfiguration is
// not an outage.

// heldMark starts the last_error of an escalation or old-style digest held
// for its sink (its breaker open) or failed by a transport failure of it:
// the rows a probe that finds the sink answering releases.
const heldMark = "sink down: "

// flushBreaker is the breaker Flush's mails go through, and the state of
// the release a probe starts.
type flushBreaker struct {
	br        atomic.Pointer[inbox.SinkBreaker]
	releasing atomic.Bool
	again     atomic.Bool
}

// UseWorkerBreaker makes the mails Flush sends (escalations, old-style
// digests) go through w's breaker of the inbox's sink, the one its single
// mails go through, unless it has one, and reports whether it gave it one.
// It also gives the inbox's batcher that breaker (batch.UseWorkerBreakers).
// tidings.NewClient calls it; an app that builds its own worker calls it
// before the worker starts.
//
// Then a mail is held while the breaker is open (no attempt spent), a
// transport failure is retried at the breaker's next probe rather than
// after FlushPolicy.Backoff, a probe that finds the server answering (a
// single mail's or a flush's) makes every held mail due and flushes it at
// once, and a refused configuration fails the mail at once with its reason
// while health reports it (inbox.BreakerState.Misconfigured).
func (in *Inbox) UseWorkerBreaker(w *inbox.Worker) bool {
	sink := in.Sink()
	if w == nil || sink == "" {
		return false
	}
	br := w.SinkBreaker(sink)
	if in.batcher != nil {
		in.batcher.UseBreakerIfNone(br)
	}
	if !in.breaker.br.CompareAndSwap(nil, br) {
		return false
	}
	br.OnAnswered(in.releaseHeld)
	return true
}

// send sends msg through the breaker: held, the outcome that puts the mail
// off to the breaker's next probe without spending an attempt.
func (in *Inbox) send(ctx context.Context, msg *Message, attempt int, now time.Time) outcome {
	br := in.breaker.br.Load()
	if br == nil {
		return in.sendOutcome(in.cfg.Transport.Send(ctx, msg), attempt, now, msg.MessageID)
	}
	if held := br.Allow(ctx); held != nil {
		return outcome{status: "retry", err: held, next: now.Add(br.Retry(held, in.cfg.Flush.Backoff)), uncounted: true}
	}
	err := in.classify(in.cfg.Transport.Send(ctx, msg), br.Sink())
	br.Report(err)
	switch {
	case err == nil:
		return outcome{status: "sent", messageID: msg.MessageID}
	case inbox.IsPermanent(err):
		return outcome{status: "failed", err: err, messageID: msg.MessageID}
	}
	if d := br.Retry(err, in.cfg.Flush.Backoff); d > 0 {
		return outcome{status: "retry", err: err, next: now.Add(d), messageID: msg.MessageID, uncounted: true}
	}
	return in.sendOutcome(err, attempt, now, msg.MessageID)
}

// releaseHeld runs when the sink's breaker found it answering again: the
// escalations and old-style digests held for it become due now and are
// flushed at once, on a goroutine of their own. A process that dies
// meanwhile leaves them to the next Flush.
func (in *Inbox) releaseHeld(time.Time) {
	if in.cfg.DB == nil || (in.cfg.Escalation == nil && in.cfg.Digest == nil) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := in.now() // the clock Flush compares with
	for _, table := range []string{"email_escalations", "email_digests"} {
		err := in.cfg.DB.WithContext(ctx).Exec(`UPDATE `+table+` SET next_attempt_at = ?, updated_at = ?
WHERE inbox = ? AND status = 'retry' AND next_attempt_at > ? AND starts_with(last_error, ?)`, now, now, in.cfg.Name, now, heldMark).Error
		if err != nil {
			in.log.WarnContext(ctx, "email: mails held for a sink not released; Flush sends them at their probe time", "inbox", in.cfg.Name, "table", table, "error", err)
			return
		}
	}
	fb := &in.breaker
	fb.again.Store(true)
	if !fb.releasing.CompareAndSwap(false, true) {
		return // the flush under way goes on with them
	}
	go func() {
		for {
			fb.again.Store(false)
			fctx, cancel := context.WithTimeout(context.Background(), in.cfg.Flush.ClaimTimeout)
			res, err := in.Flush(fctx, in.now())
			cancel()
			if err != nil {
				in.log.ErrorContext(fctx, "email: flush of the mails released failed; the next Flush sends them", "inbox", in.cfg.Name, "error", err)
			}
			in.log.InfoContext(fctx, "email: mails held for a sink released: it answers again", "inbox", in.cfg.Name,
				"sent", res.Sent, "retrying", res.Retrying, "failed", res.Failed)
			fb.releasing.Store(false)
			if !fb.again.Load() || !fb.releasing.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

// heldError is what mark stores of a held outcome's error.
func heldError(msg string) string {
	if strings.HasPrefix(msg, heldMark) {
		return msg
	}
	return heldMark + msg
}
