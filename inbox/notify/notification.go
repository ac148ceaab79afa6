package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// Notification is one row of the notifications table: one event, for one
// recipient, with the event's display fields copied so a page renders and
// groups without loading events.
type Notification struct {
	ID        int64
	Recipient string
	// Seq is the notification's position in its recipient's stream in
	// its tenant (each (Tenant, Recipient) is numbered from 1): numbers
	// commit in order per stream (see Since), so a live stream resumes
	// after the last Seq it sent.
	Seq        int64
	Event      activity.EventRef
	Inbox      string // the notify inbox that created it
	Action     string
	SubjectID  string
	Actor      activity.Ref
	Record     *activity.Ref
	OccurredAt time.Time  // when the event happened
	CreatedAt  time.Time  // when the notification was created
	SeenAt     *time.Time // set by MarkSeen (the badge was shown)
	ReadAt     *time.Time // set by MarkRead and MarkAllRead
	ArchivedAt *time.Time // set by Archive: out of the list and the counts
	// Tenant is the event's tenant ("" for an untenanted domain): every
	// read and change is scoped to the context's (see inbox.TenantOf).
	Tenant string

	// A collapsed notification (the recipient batches in-app
	// notifications) stands for ItemCount events of one (subject, action)
	// within its window: Actors are their distinct actors, newest first
	// (at most maxActors), and Actor, Event and OccurredAt the newest.
	// CollapseUntil is the window's end, nil for one event's notification.
	ItemCount     int
	Actors        []activity.Ref
	CollapseUntil *time.Time
}

// Others is how many more actors than the first did the notification's
// action: "Ana and <Others> others commented".
func (n Notification) Others() int {
	if len(n.Actors) <= 1 {
		return 0
	}
	return len(n.Actors) - 1
}

// Archived reports whether the notification was archived.
func (n Notification) Archived() bool { return n.ArchivedAt != nil }

// Unread reports whether the notification has not been read.
func (n Notification) Unread() bool { return n.ReadAt == nil }

const columns = `id, recipient, seq, domain, event_id, inbox, action, subject_id, actor_type, actor_id, actor_label,
record_type, record_id, record_label, occurred_at, created_at, seen_at, read_at, archived_at,
item_count, coalesce(actors, 'null'::jsonb)::text, collapse_until, coalesce(tenant_id, '')`

// scope is the condition that keeps a statement to ctx's tenant, and its
// arguments: only that tenant's notifications, or only untenanted ones.
func scope(ctx context.Context) (string, []any) { return inbox.TenantCondition(ctx, "") }

// headScope is scope for notification_heads, whose tenant_id is part of
// its key (empty for an untenanted stream).
func headScope(ctx context.Context) (string, []any) { return inbox.TenantKeyCondition(ctx, "") }

type scanner interface{ Scan(dest ...any) error }

func scanNotification(s scanner, n *Notification) error {
	var recType, recID, recLabel *string
	var actors string
	err := s.Scan(&n.ID, &n.Recipient, &n.Seq, &n.Event.Domain, &n.Event.ID, &n.Inbox, &n.Action, &n.SubjectID,
		&n.Actor.Type, &n.Actor.ID, &n.Actor.Label, &recType, &recID, &recLabel,
		&n.OccurredAt, &n.CreatedAt, &n.SeenAt, &n.ReadAt, &n.ArchivedAt,
		&n.ItemCount, &actors, &n.CollapseUntil, &n.Tenant)
	if err != nil {
		return err
	}
	if actors != "null" {
		if err := json.Unmarshal([]byte(actors), &n.Actors); err != nil {
			return fmt.Errorf("notify: actors of notification %d: %w", n.ID, err)
		}
	}
	if recType != nil && recID != nil {
		n.Record = &activity.Ref{Type: *recType, ID: *recID}
		if recLabel != nil {
			n.Record.Label = *recLabel
		}
	}
	return nil
}

// nullTenant is the tenant_id of a row: NULL for an untenanted event.
func nullTenant(t string) any {
	if t == "" {
		return nil
	}
	return t
}
