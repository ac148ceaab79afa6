package email

import (
	"context"
	"errors"

	"github.com/tidingsdev/tidings/inbox"
)

// Periodic is the inbox's work on a schedule (inbox.Periodic): with
// Escalation, sending the due escalations; with Digest, the digests left
// in the old email_digests tables. tidings.NewClient schedules it every
// FlushPolicy.Every on its worker, so an app using the entry point calls
// neither Flush nor RunFlush. It returns false in the other modes: the
// default sends each mail from its job, and Batching's (and Digest's)
// windows are flushed by the batch scheduler and sweep (Batcher).
func (in *Inbox) Periodic() (inbox.PeriodicTask, bool) {
	if in.cfg.Escalation == nil && in.cfg.Digest == nil {
		return inbox.PeriodicTask{}, false
	}
	return inbox.PeriodicTask{Every: in.cfg.Flush.Every, Run: in.runPeriodic}, true
}

// runPeriodic is one tick of Periodic: Flush without the batch windows,
// logged as RunFlush logs.
func (in *Inbox) runPeriodic(ctx context.Context) error {
	res, err := in.flush(ctx, in.now(), false)
	if res != (FlushResult{}) {
		in.log.InfoContext(ctx, "email: flushed", "inbox", in.cfg.Name, "sent", res.Sent, "dropped", res.Dropped, "retrying", res.Retrying, "failed", res.Failed)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

var _ inbox.Periodic = (*Inbox)(nil)
