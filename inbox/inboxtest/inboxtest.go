package inboxtest

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// NewDelivery returns the Delivery the worker would hand in for ev: the
// first of its policy's attempts, the database and a ledger on it, a
// logger that discards. Change Attempt to test retries.
func NewDelivery(db *gorm.DB, in inbox.Inbox, ev activity.Event) *inbox.Delivery {
	p := inbox.PolicyOf(in)
	return &inbox.Delivery{
		Inbox: in.Name(), Event: ev, Tenant: ev.TenantID, Attempt: 1, MaxAttempts: p.MaxRetry + 1,
		TaskID: inbox.TaskID(in.Name(), ev.Ref()), Queue: p.Queue,
		DB: db, Ledger: inbox.NewLedger(inbox.LedgerConfig{}),
		Logger: slog.New(slog.DiscardHandler),
	}
}

// Process runs in on ev now, in this goroutine, the way the worker runs a
// job: with activity.WithCause(ev) on the context (so events in records
// carry ev as their cause) and the ledger on db. It returns Process's
// error. It fails the test if in does not accept ev's action: the worker
// would never have called it.
func Process(t testing.TB, db *gorm.DB, in inbox.Inbox, ev activity.Event) error {
	t.Helper()
	return ProcessDelivery(t, in, NewDelivery(db, in, ev))
}

// ProcessDelivery is Process with a Delivery of your own (see NewDelivery).
func ProcessDelivery(t testing.TB, in inbox.Inbox, d *inbox.Delivery) error {
	t.Helper()
	if !in.Accepts(d.Event.Domain, d.Event.Action) {
		t.Fatalf("inboxtest: inbox %s does not accept %s %s; the worker would not have run it", in.Name(), d.Event.Domain, d.Event.Action)
	}
	ctx := activity.WithCause(t.Context(), activity.CauseOf(d.Event))
	if d.Event.TenantID != "" {
		ctx = activity.WithTenant(ctx, d.Event.TenantID)
	}
	return in.Process(ctx, d)
}

// Relay drains the outbox into asynq once for inboxes (and domains, whose
// events it carries), without a worker, and returns how many outbox rows
// it handled. The jobs wait in Redis for AssertEnqueued.
func Relay(t testing.TB, db *gorm.DB, redis asynq.RedisConnOpt, domains []*activity.Domain, inboxes ...inbox.Inbox) int {
	t.Helper()
	r, err := inbox.NewRelay(inbox.RelayConfig{DB: db, Redis: redis, Inboxes: inboxes, Domains: domains, DisableListen: true})
	if err != nil {
		t.Fatalf("inboxtest: %v", err)
	}
	defer r.Close()
	n, err := r.Drain(context.WithoutCancel(t.Context()))
	if err != nil {
		t.Fatalf("inboxtest: relay: %v", err)
	}
	return n
}

// AssertEnqueued fails the test unless a job delivering ev to in exists in
// in's queue, in any state (pending, running, retrying, done and retained,
// archived). It returns the job.
func AssertEnqueued(t testing.TB, redis asynq.RedisConnOpt, in inbox.Inbox, ev activity.EventRef) *asynq.TaskInfo {
	t.Helper()
	info, err := taskInfo(redis, in, ev)
	if err != nil {
		t.Fatalf("inboxtest: no job delivers %s to inbox %s (task %s in queue %s): %v", ev, in.Name(), inbox.TaskID(in.Name(), ev), inbox.PolicyOf(in).Queue, err)
	}
	return info
}

// AssertNotEnqueued fails the test if a job delivering ev to in exists.
func AssertNotEnqueued(t testing.TB, redis asynq.RedisConnOpt, in inbox.Inbox, ev activity.EventRef) {
	t.Helper()
	info, err := taskInfo(redis, in, ev)
	if err == nil {
		t.Fatalf("inboxtest: a job delivers %s to inbox %s (state %s); want none", ev, in.Name(), info.State)
	}
	if !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatalf("inboxtest: %v", err)
	}
}

func taskInfo(redis asynq.RedisConnOpt, in inbox.Inbox, ev activity.EventRef) (*asynq.TaskInfo, error) {
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	return insp.GetTaskInfo(inbox.PolicyOf(in).Queue, inbox.TaskID(in.Name(), ev))
}
