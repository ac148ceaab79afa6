package activity

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event is one row of a domain's events table: something that happened to a
// subject, done by an actor, optionally about a record.
//
// Event IDs are unique across every domain of a database: all events tables
// draw them from one sequence (activity_event_id_seq), so an ID alone names an
// event; Domain is carried along so readers know which table it lives in.
type Event struct {
	ID        int64  `gorm:"column:id"`
	Domain    string `gorm:"-"`
	SubjectID string `gorm:"column:subject_id"` // the subject's key, as text ("42" or a UUID)
	Action    string `gorm:"column:action"`

	ActorType  string `gorm:"column:actor_type"`
	ActorID    string `gorm:"column:actor_id"`
	ActorLabel string `gorm:"column:actor_label"` // display snapshot taken when recorded

	RecordType  *string `gorm:"column:record_type"`
	RecordID    *string `gorm:"column:record_id"`
	RecordLabel *string `gorm:"column:record_label"`

	Extra json.RawMessage `gorm:"column:extra"` // a JSON object, "{}" when empty

	OccurredAt time.Time `gorm:"column:occurred_at"` // moves forward on a throttled repeat
	CreatedAt  time.Time `gorm:"column:created_at"`
	UpdatedAt  time.Time `gorm:"column:updated_at"`
	Repeats    int       `gorm:"column:repeats"` // throttled repeats folded into this event

	RequestID       *string `gorm:"column:request_id"`
	CorrelationID   *string `gorm:"column:correlation_id"`
	CausationDomain *string `gorm:"column:causation_domain"`
	CausationID     *int64  `gorm:"column:causation_id"` // the event whose handling recorded this one
	Depth           int     `gorm:"column:depth"`        // length of the causation chain; 0 for a user's act
	Source          *string `gorm:"column:source"`       // web, api, console, job, ...
	IP              *string `gorm:"column:ip"`
	UserAgent       *string `gorm:"column:user_agent"`
	TraceParent     *string `gorm:"column:trace_parent"` // W3C traceparent of the recording span, when traced
}

// Actor returns the reference of the event's actor.
func (e Event) Actor() Ref { return Ref{Type: e.ActorType, ID: e.ActorID, Label: e.ActorLabel} }

// Record returns the reference of the event's record, or nil when it has none.
func (e Event) Record() *Ref {
	if e.RecordType == nil || e.RecordID == nil {
		return nil
	}
	r := Ref{Type: *e.RecordType, ID: *e.RecordID}
	if e.RecordLabel != nil {
		r.Label = *e.RecordLabel
	}
	return &r
}

// Cause returns the event that caused this one, when it was recorded while
// another event was being handled (an inbox or workflow job).
func (e Event) Cause() (EventRef, bool) {
	if e.CausationID == nil || e.CausationDomain == nil {
		return EventRef{}, false
	}
	return EventRef{Domain: *e.CausationDomain, ID: *e.CausationID}, true
}

// Ref returns the event's own reference.
func (e Event) Ref() EventRef { return EventRef{Domain: e.Domain, ID: e.ID} }

// DecodeExtra unmarshals the event's extra JSON into v.
func (e Event) DecodeExtra(v any) error {
	if len(e.Extra) == 0 {
		return nil
	}
	if err := json.Unmarshal(e.Extra, v); err != nil {
		return fmt.Errorf("activity: decode extra of %s event %d: %w", e.Domain, e.ID, err)
	}
	return nil
}

// ExtraMap returns the event's extra as a map (empty, never nil, when absent).
func (e Event) ExtraMap() map[string]any {
	m := map[string]any{}
	_ = e.DecodeExtra(&m)
	return m
}

// String prints the event the way logs want it: issue#17 comment_added by users:3.
func (e Event) String() string {
	return fmt.Sprintf("%s#%d %s on %s by %s:%s", e.Domain, e.ID, e.Action, e.SubjectID, e.ActorType, e.ActorID)
}

// EventRef names one event: its domain and its ID.
type EventRef struct {
	Domain string
	ID     int64
}

func (r EventRef) String() string { return fmt.Sprintf("%s#%d", r.Domain, r.ID) }
