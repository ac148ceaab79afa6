package inbox

import (
	"context"
	"log/slog"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// Delivery is one attempt at handing one event to one inbox.
type Delivery struct {
	// Inbox is the receiving inbox's name.
	Inbox string
	// Event is the committed event, loaded from PostgreSQL when the
	// attempt started.
	Event activity.Event
	// Domain is the event's domain (nil outside a worker, as in
	// inboxtest.Process): an inbox that orders the events of a subject
	// reads the earlier ones through it.
	Domain *activity.Domain
	// Tenant is the event's tenant (Event.TenantID): "" for an untenanted
	// domain. The job's context carries it too (activity.WithTenant), so
	// the inbox's reads are scoped to it and the events it records inherit
	// it (activity.Cause.Tenant); an inbox that stores anything per event
	// (notifications, digests, threads, run logs) stores it with the tenant.
	Tenant string
	// Attempt counts from 1; MaxAttempts is Policy.MaxRetry + 1. The
	// attempt with Attempt == MaxAttempts is the last: if it fails, the
	// job becomes a dead letter.
	Attempt, MaxAttempts int
	// TaskID and Queue name the asynq task ("" outside a worker).
	TaskID, Queue string
	// DB is the worker's database handle, for the ledger and reads.
	DB *gorm.DB
	// Ledger records which effects happened; the helpers below use it.
	Ledger *Ledger
	// Logger carries the inbox, event and attempt as attributes.
	Logger *slog.Logger

	suppressed bool              // see Suppress
	sendHooks  []SendHook        // see OnSend
	answered   func(sink string) // see Answered
}

// Answered tells the worker that sink answered this attempt, for an inbox
// that delivers to several sinks and names them in its errors
// (UnreachableError, MisconfiguredError) rather than by a Sink method, as
// webhook subscriptions do: the worker reports each attempt's error to the
// sink it names, but a success names none. Answered closes sink's breaker
// and clears a misconfiguration it recorded, as a success of an inbox with
// a Sink does. Outside a worker (or with the breakers disabled) it does
// nothing.
func (d *Delivery) Answered(sink string) {
	if d.answered != nil && sink != "" {
		d.answered(sink)
	}
}

// SendHook wraps one external send made through Delivery.Send (an email
// to one recipient, a Slack post): it returns the context the send runs
// under and a function called with the send's error. Middleware adds one
// with OnSend; package observe makes a span per send with it.
type SendHook func(ctx context.Context, recipient string) (context.Context, func(error))

// OnSend adds h around every send this attempt makes through Send; sends
// skipped because the ledger says they happened are not wrapped. Call it
// from Middleware, before next.
func (d *Delivery) OnSend(h SendHook) { d.sendHooks = append(d.sendHooks, h) }

// Key returns the ledger key of this delivery's effect for recipient ("" for
// an effect per event).
func (d *Delivery) Key(recipient string) Key {
	return Key{Inbox: d.Inbox, Event: d.Event.Ref(), Recipient: recipient}
}

// LastAttempt reports whether a failure now makes the job a dead letter.
func (d *Delivery) LastAttempt() bool { return d.Attempt >= d.MaxAttempts }

// Once runs fn in a transaction on db (a savepoint when db is one) that
// records the delivery to recipient, unless it was recorded before: the
// effects fn writes through tx happen exactly once. See Ledger.Once.
func (d *Delivery) Once(ctx context.Context, db *gorm.DB, recipient string, fn func(tx *gorm.DB) error) (bool, error) {
	return d.Ledger.Once(ctx, db, d.Key(recipient), fn)
}

// OnceEach is Once for many recipients in one transaction: fn gets the
// recipients not recorded before. It returns them.
func (d *Delivery) OnceEach(ctx context.Context, db *gorm.DB, recipients []string, fn func(tx *gorm.DB, fresh []string) error) ([]string, error) {
	keys := make([]Key, len(recipients))
	for i, r := range recipients {
		keys[i] = d.Key(r)
	}
	var names []string
	done, err := d.Ledger.OnceEach(ctx, db, keys, func(tx *gorm.DB, fresh []Key) error {
		names = make([]string, len(fresh))
		for i, k := range fresh {
			names[i] = k.Recipient
		}
		return fn(tx, names)
	})
	if len(done) == 0 {
		return nil, err
	}
	return names, err
}

// Send applies an external effect for recipient at least once and, short
// of a crash between sending and recording, at most once: it skips a
// recipient already sent to. See Ledger.Send.
func (d *Delivery) Send(ctx context.Context, recipient string, send func(ctx context.Context) error) (bool, error) {
	if len(d.sendHooks) > 0 {
		inner := send
		send = func(ctx context.Context) error {
			ends := make([]func(error), len(d.sendHooks))
			for i, h := range d.sendHooks {
				ctx, ends[i] = h(ctx, recipient)
			}
			err := inner(ctx)
			for i := len(ends) - 1; i >= 0; i-- {
				ends[i](err)
			}
			return err
		}
	}
	return d.Ledger.Send(ctx, d.DB, d.Key(recipient), send)
}
