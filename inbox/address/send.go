package address

import (
	"context"
	"errors"
	"log/slog"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/device"
)

// send sends m to one address of sink and turns a failure into what the
// worker acts on (see Class): a refusal for good is inbox.Permanent (the
// ledger records the address as refused), an outage inbox.Unreachable
// of the sink, a rate limit inbox.RetryAfter.
func (in *Inbox[M]) send(ctx context.Context, db *gorm.DB, to device.Address, m M, sink string) error {
	if err := in.limits.waiting(sink); err != nil {
		return err
	}
	err := in.cfg.Sender.Send(ctx, to, m)
	if err == nil {
		in.report(sink, false)
		return nil
	}
	v := in.cfg.Sender.Classify(err)
	if v.Class == Unavailable && ctx.Err() != nil {
		return err // the attempt's deadline, not the sink
	}
	in.report(sink, v.Class == Unavailable)
	switch v.Class {
	case RateLimited:
		wait := v.RetryAfter
		if wait <= 0 {
			wait = defaultRateLimitWait // no (readable) Retry-After
		}
		in.limits.block(sink, wait, err)
		return inbox.RetryAfter(wait, err)
	case OptedOut:
		serr := inbox.Suppress(context.WithoutCancel(ctx), db, inbox.Suppression{Channel: in.cfg.Channel, Address: to.Address,
			Reason: inbox.ReasonUnsubscribe, Source: sink, Detail: err.Error()})
		if serr != nil {
			return errors.Join(err, serr) // retried: suppressed next time
		}
		return in.gone(ctx, db, to, sink, err)
	case Gone:
		return in.gone(ctx, db, to, sink, err)
	case Unauthorized:
		return inbox.Misconfigured(sink, v.Reason, err)
	case Rejected:
		return inbox.Permanent(err)
	}
	err = inbox.Unreachable(sink, err)
	if v.RetryAfter > 0 {
		return inbox.RetryAfter(v.RetryAfter, err)
	}
	return err
}

// gone removes an address its provider says no longer exists, in the
// context's tenant, and refuses the send for good.
func (in *Inbox[M]) gone(ctx context.Context, db *gorm.DB, to device.Address, sink string, cause error) error {
	n, err := device.Gone(context.WithoutCancel(ctx), db, to.Kind, to.Address)
	if err != nil {
		return errors.Join(cause, err) // retried: removed next time
	}
	in.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, in.cfg.Package+": "+string(to.Kind)+" address gone; removed", slog.String("inbox", in.cfg.Name),
		slog.String("recipient", to.Recipient), slog.String("sink", sink), slog.String("error", cause.Error()), slog.Int64("removed", n))
	return inbox.Permanent(cause)
}

// report tells the sink's breaker (with Config.SinkOf) whether it
// answered.
func (in *Inbox[M]) report(sink string, down bool) {
	if in.breakers != nil {
		in.breakers.report(sink, down)
	}
}

// held is the error of a send to sink while its breaker is open (with
// Config.SinkOf), nil when it may go.
func (in *Inbox[M]) held(sink string) error {
	if in.breakers == nil {
		return nil
	}
	return in.breakers.allow(sink)
}
