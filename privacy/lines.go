package privacy

import (
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/notify"
)

// Line kinds of an export (the "type" of each JSON line).
const (
	LinePerson       = "person"       // first line: whose data, in which tenant, when
	LineEvent        = "event"        // an event, with the person's role in it
	LineNotification = "notification" // one of the person's notifications
	LinePreference   = "preference"   // one of the person's notification preferences
	LineDelivery     = "delivery"     // one of the person's delivery choices (immediate, or a batching schedule)
	LineDevice       = "device"       // one of the person's addresses outside the app (device.Address)
	LinePart         = "part"         // a line of an app's Part
	LineEnd          = "end"          // last line: counts; an export without it is incomplete
)

// Line is one JSON line of an export. Every shape in it has snake_case
// names.
type Line struct {
	Type         string                  `json:"type"`
	Person       *PersonLine             `json:"person,omitempty"`
	ExportedAt   *time.Time              `json:"exported_at,omitempty"`
	Role         string                  `json:"role,omitempty"`
	Event        *activity.Event         `json:"event,omitempty"`
	Notification *NotificationLine       `json:"notification,omitempty"`
	Preference   *inbox.StoredPreference `json:"preference,omitempty"`
	Delivery     *inbox.StoredChoice     `json:"delivery,omitempty"`
	Device       *device.Address         `json:"device,omitempty"`
	Part         string                  `json:"part,omitempty"`
	Data         any                     `json:"data,omitempty"`
	Counts       map[string]int64        `json:"counts,omitempty"`
}

// PersonLine is the person of an export's first line.
type PersonLine struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	// Label is how the person's newest event named them (as its actor, else
	// as its record), when one did; empty otherwise.
	Label string `json:"label,omitempty"`
	// Tenant is the tenant the person is an identity of; empty for
	// untenanted domains, and under AcrossTenants.
	Tenant string `json:"tenant,omitempty"`
	// AcrossTenants is true when the export holds the person's rows of
	// every tenant (Config.PersonsAcrossTenants).
	AcrossTenants bool `json:"across_tenants,omitempty"`
}

// RefLine is an actor or a record in an export's notification.
type RefLine struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Label string `json:"label,omitempty"`
}

// NotificationLine is one of the person's in-app notifications, as an
// export shows it (see notify.Notification for the fields): the labels of
// anyone else (actors, records) are activity.ErasedLabel.
type NotificationLine struct {
	ID            int64      `json:"id"`
	Recipient     string     `json:"recipient"`
	Tenant        string     `json:"tenant,omitempty"`
	Seq           int64      `json:"seq"`
	Domain        string     `json:"domain"`
	EventID       int64      `json:"event_id"`
	Inbox         string     `json:"inbox"`
	Action        string     `json:"action"`
	SubjectID     string     `json:"subject_id"`
	Actor         RefLine    `json:"actor"`
	Record        *RefLine   `json:"record,omitempty"`
	OccurredAt    time.Time  `json:"occurred_at"`
	CreatedAt     time.Time  `json:"created_at"`
	SeenAt        *time.Time `json:"seen_at,omitempty"`
	ReadAt        *time.Time `json:"read_at,omitempty"`
	ArchivedAt    *time.Time `json:"archived_at,omitempty"`
	ItemCount     int        `json:"item_count,omitempty"`
	Actors        []RefLine  `json:"actors,omitempty"`
	CollapseUntil *time.Time `json:"collapse_until,omitempty"`
}

// refFor returns r as p may see it: its label kept when r is p or a named
// system actor, activity.ErasedLabel otherwise (as erasure masks it).
func refFor(r activity.Ref, p activity.Person) RefLine {
	out := RefLine{Type: r.Type, ID: r.ID, Label: r.Label}
	if out.Label != "" && !(r.Type == p.Type && r.ID == p.ID) && r.Type != activity.SystemActorType {
		out.Label = activity.ErasedLabel
	}
	return out
}

// notificationFor returns n as p's export shows it.
func notificationFor(n notify.Notification, p activity.Person) NotificationLine {
	out := NotificationLine{
		ID: n.ID, Recipient: n.Recipient, Tenant: n.Tenant, Seq: n.Seq, Domain: n.Event.Domain, EventID: n.Event.ID,
		Inbox: n.Inbox, Action: n.Action, SubjectID: n.SubjectID, Actor: refFor(n.Actor, p),
		OccurredAt: n.OccurredAt, CreatedAt: n.CreatedAt, SeenAt: n.SeenAt, ReadAt: n.ReadAt, ArchivedAt: n.ArchivedAt,
		ItemCount: n.ItemCount, CollapseUntil: n.CollapseUntil,
	}
	if n.Record != nil {
		r := refFor(*n.Record, p)
		out.Record = &r
	}
	for _, a := range n.Actors {
		out.Actors = append(out.Actors, refFor(a, p))
	}
	return out
}
