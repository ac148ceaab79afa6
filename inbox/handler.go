package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
)

// handle is the asynq handler of every inbox job: it finds the inbox,
// loads the event, and runs the inbox's chain with the event as the cause
// of whatever the inbox records. What it returns to asynq is redacted (see
// jobError): asynq keeps it in Redis.
func (w *Worker) handle(ctx context.Context, t *asynq.Task) error {
	if id, ok := asynq.GetTaskID(ctx); ok {
		w.held.add(id)
		defer w.held.remove(id)
	}
	if h := w.cfg.Tasks[t.Type()]; h != nil {
		err := h.ProcessTask(ctx, t)
		if err != nil && !errors.Is(err, asynq.RevokeTask) {
			id, _ := asynq.GetTaskID(ctx)
			w.log.LogAttrs(ctx, slog.LevelError, "inbox: task failed", slog.String("type", t.Type()), slog.String("task_id", id), slog.Any("error", err))
		}
		return redactTask(t.Type(), err)
	}
	// An inbox's job may give up a wait when the worker stops (Stopping);
	// the tasks of Config.Tasks are not told.
	if ch := w.stopping.Load(); ch != nil {
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		ctx = withStopping(ctx, *ch, retried, maxRetry)
	}
	name := inboxOfType(t.Type())
	p, err := w.handleInbox(ctx, name, t)
	return redact(name, p.ref(), err)
}

func (w *Worker) handleInbox(ctx context.Context, name string, t *asynq.Task) (payload, error) {
	reg := w.inboxes[name]
	if reg == nil {
		err := &UnknownError{What: "inbox", Name: name, Have: w.names}
		w.stranger(ctx, "task type "+t.Type(), err)
		return payload{}, err
	}
	p, err := decodePayload(t.Payload())
	if err != nil {
		w.stranger(ctx, "payload of "+t.Type(), err)
		return payload{}, Permanent(err)
	}
	dom := w.domains[p.Domain]
	if dom == nil {
		err := &UnknownError{What: "domain", Name: p.Domain, Have: w.dnames}
		w.stranger(ctx, "domain "+p.Domain, err)
		return p, err
	}
	// The stored event, whatever the job carries: an older version's job
	// may carry a copy, from before an edit or an erasure. Only the bench's
	// baseline (internal/carryevents) uses the copy.
	var ev activity.Event
	if w.carry && len(p.Event) > 0 && json.Unmarshal(p.Event, &ev) == nil && ev.ID == p.EventID {
		ev.Domain = p.Domain
	} else {
		if p.Backfill {
			untrack, terr := w.trackBackfill(ctx, name, p, dom)
			if terr != nil {
				return p, terr
			}
			defer untrack()
		}
		retried, _ := asynq.GetRetryCount(ctx)
		ev, err = w.loader.load(ctx, p.ref(), p.Action, w.siblings(name, p), retried > 0)
	}
	if errors.Is(err, activity.ErrEventNotFound) {
		// Committed events are only ever deleted (a subject deleted with
		// ON DELETE CASCADE, a purge): nothing is left to deliver.
		w.log.LogAttrs(ctx, slog.LevelWarn, "inbox: event deleted before delivery; skipping",
			slog.String("inbox", name), slog.String("event", p.ref().String()))
		w.done.add(name, p, true)
		return p, nil
	}
	if err != nil {
		return p, err
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	id, _ := asynq.GetTaskID(ctx)
	queue, _ := asynq.GetQueueName(ctx)
	d := &Delivery{
		Inbox: name, Event: ev, Domain: dom, Tenant: ev.TenantID, Attempt: retried + 1, MaxAttempts: maxRetry + 1,
		TaskID: id, Queue: queue, DB: w.db, Ledger: w.ledger,
		Logger: w.log.With(slog.String("inbox", name), slog.String("event", ev.Ref().String()), slog.Int("attempt", retried+1)),
	}
	jctx := activity.WithCause(ctx, activity.CauseOf(ev))
	if ev.TenantID != "" {
		jctx = activity.WithTenant(jctx, ev.TenantID)
	}
	err = reg.process(jctx, d)
	if err == nil {
		w.done.add(name, p, true)
	}
	return p, err
}

// siblings counts the worker's other inboxes that take p's event: their
// first attempts may share its load (see loader). A backfill's job has
// none: it goes to one inbox.
func (w *Worker) siblings(name string, p payload) int {
	if p.Backfill {
		return 0
	}
	n := 0
	for other, r := range w.inboxes {
		if other != name && r.in.Accepts(p.Domain, p.Action) {
			n++
		}
	}
	return n
}

// handleError is asynq's ErrorHandler: a job that will not be retried
// (permanent, or out of retries) is recorded as a dead letter.
func (w *Worker) handleError(ctx context.Context, t *asynq.Task, err error) {
	if errors.Is(err, asynq.RevokeTask) {
		return
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if retried < maxRetry && !errors.Is(err, asynq.SkipRetry) {
		return
	}
	name := inboxOfType(t.Type())
	p, perr := decodePayload(t.Payload())
	if name == "" || perr != nil {
		return // not ours
	}
	id, _ := asynq.GetTaskID(ctx)
	queue, _ := asynq.GetQueueName(ctx)
	dl := DeadLetter{
		Inbox: name, Event: p.ref(), Action: p.Action, Queue: queue, TaskID: id,
		Attempts: retried + 1, LastError: fullError(err), FailedAt: w.now(),
	}
	// ctx may be done already (a timeout); the record must still be written.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := w.dead.record(rctx, dl); rerr != nil {
		w.log.LogAttrs(ctx, slog.LevelError, "inbox: could not record a dead letter; it is still in asynq's archive",
			slog.String("task_id", id), slog.Any("error", rerr), slog.String("job_error", fullError(err)))
		return
	}
	w.done.add(name, p, false)
}

// stranger says, once per queue and kind, that a job could not be handled.
func (w *Worker) stranger(ctx context.Context, kind string, err error) {
	queue, _ := asynq.GetQueueName(ctx)
	w.strangers.report(ctx, w.log, queue, kind, err)
}
