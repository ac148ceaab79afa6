package slack

import (
	"context"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// awaitEarlier waits, until deadline at most, until this inbox has no earlier event
// of d's subject left to post: an event with a smaller ID that this inbox
// accepts still in the outbox, or whose delivery to this inbox is pending
// (inbox.PendingTable, written by the relay when it enqueued the job) and
// neither sent nor failed in the deliveries ledger. A reply whose job started before its parent's so waits for the
// parent instead of opening the thread; a predecessor that failed (its job
// retries later) or is still there at deadline is not waited for any
// longer, and order between them gives way.
//
// Without the pending table's rows (PendingConfig.Disable) or outside a
// worker (no Delivery.Domain) it returns at once, and only posts already
// in flight are ordered (ThreadLocker). Another route's event of the
// subject is waited for too: it only delays. Another tenant's never is: a
// subject is the tenant's (its issue 1 is not another tenant's issue 1),
// and one tenant's backlog must not hold up another's posts.
func awaitEarlier(ctx context.Context, d *inbox.Delivery, accepts inbox.Filter, deadline time.Time) error {
	if d.Domain == nil || d.DB == nil {
		return nil
	}
	// The outbox row (not relayed yet, or being relayed: the relay enqueues
	// before it commits) or, once relayed, the pending row: the relay swaps
	// one for the other in one transaction, so one of them is visible.
	ev := d.Event
	// The event's own tenant (NULL for none), in both tables: the outbox
	// keeps it as text, a tenanted domain's events table in its key type.
	var tenant any
	if ev.TenantID != "" {
		tenant = ev.TenantID
	}
	eventTenant := ""
	if d.Domain.Tenanted() {
		eventTenant = " AND e.tenant_id::text IS NOT DISTINCT FROM ?"
	}
	q := fmt.Sprintf(`SELECT o.action FROM %s o WHERE o.domain = ? AND o.subject_id = ? AND o.event_id < ? AND o.tenant_id IS NOT DISTINCT FROM ?
UNION ALL
SELECT '' WHERE EXISTS (SELECT 1 FROM %s p JOIN %s e ON e.id = p.event_id
 WHERE p.inbox = ? AND p.domain = ? AND p.event_id < ? AND e.subject_id::text = ?%s
   AND NOT EXISTS (SELECT 1 FROM inbox_deliveries l WHERE l.inbox = p.inbox AND l.domain = p.domain
                   AND l.event_id = p.event_id AND l.recipient = '' AND l.status <> 'sending'))`,
		activity.OutboxTable, inbox.PendingTable, d.Domain.Table(), eventTenant)
	args := []any{ev.Domain, ev.SubjectID, ev.ID, tenant, d.Inbox, ev.Domain, ev.ID, ev.SubjectID}
	if eventTenant != "" {
		args = append(args, tenant)
	}
	for poll := 10 * time.Millisecond; ; poll = min(2*poll, 100*time.Millisecond) {
		var actions []string
		if err := d.DB.WithContext(ctx).Raw(q, args...).Scan(&actions).Error; err != nil {
			return &APIError{Method: "chat.postMessage", Err: fmt.Errorf("slack: look for earlier events of %s: %w", ev, err)}
		}
		earlier := false
		for _, a := range actions {
			earlier = earlier || a == "" || accepts(ev.Domain, a)
		}
		left := time.Until(deadline)
		if !earlier || left <= 0 {
			return nil
		}
		t := time.NewTimer(min(poll, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return &APIError{Method: "chat.postMessage", Err: ctx.Err()}
		case <-inbox.Stopping(ctx):
			t.Stop()
			return inbox.Stopped("slack: waiting for earlier events of "+ev.String(), nil)
		case <-t.C:
		}
	}
}

// threadDeadlineKey carries the time by which a post must have its
// thread's turn: the inbox's wait for earlier events and the post's wait
// for its turn share one Config.ThreadWait, within the job's timeout.
type threadDeadlineKey struct{}

func withThreadDeadline(ctx context.Context, at time.Time) context.Context {
	return context.WithValue(ctx, threadDeadlineKey{}, at)
}

// threadWaitFor is how long a post may wait for its thread's turn: what is
// left of the inbox's deadline, else ThreadWait.
func (p *Poster) threadWaitFor(ctx context.Context) time.Duration {
	if at, ok := ctx.Value(threadDeadlineKey{}).(time.Time); ok {
		return max(time.Until(at), time.Millisecond)
	}
	return p.threadWait
}
