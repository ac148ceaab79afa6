package activity

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event is one row of a domain's events table: something that happened to a
// subject, done by an actor, optionally about a record.
//
// Its JSON form (encoding/json) is documented by its field tags: snake_case
// names matching the table's columns, "domain" added, absent optional
// fields left out, extra as the JSON object it is, times in RFC 3339:
//
//	{"id": 17, "domain": "issue", "subject_id": "42", "action": "comment_added",
//	 "actor_type": "users", "actor_id": "3", "actor_label": "Ana",
//	 "record_type": "comments", "record_id": "9", "record_label": "Looks good",
//	 "extra": {"length": 10}, "occurred_at": "2026-11-27T16:54:16.123456Z",
//	 "created_at": "...", "updated_at": "...", "repeats": 0,
//	 "request_id": "r-1", "correlation_id": "r-1", "depth": 0, "source": "web",
//	 "tags": {"ticket": "SUP-12"}}
//
// Inbox jobs carry it, webhooks and exports build on it (CloudEvent). The
// form of earlier versions, Go field names ("SubjectID"), still decodes.
//
// Event IDs are unique across every domain of a database: all events tables
// draw them from one sequence (activity_event_id_seq), so an ID alone names an
// event; Domain is carried along so readers know which table it lives in.
type Event struct {
	ID        int64  `gorm:"column:id" json:"id"`
	Domain    string `gorm:"-" json:"domain"`
	SubjectID string `gorm:"column:subject_id" json:"subject_id"` // the subject's key, as text ("42" or a UUID)
	Action    string `gorm:"column:action" json:"action"`

	ActorType  string `gorm:"column:actor_type" json:"actor_type"`
	ActorID    string `gorm:"column:actor_id" json:"actor_id"`
	ActorLabel string `gorm:"column:actor_label" json:"actor_label"` // display snapshot taken when recorded

	RecordType  *string `gorm:"column:record_type" json:"record_type,omitempty"`
	RecordID    *string `gorm:"column:record_id" json:"record_id,omitempty"`
	RecordLabel *string `gorm:"column:record_label" json:"record_label,omitempty"`

	Extra json.RawMessage `gorm:"column:extra" json:"extra"` // a JSON object, "{}" when empty

	OccurredAt time.Time `gorm:"column:occurred_at" json:"occurred_at"` // moves forward on a throttled repeat
	CreatedAt  time.Time `gorm:"column:created_at" json:"created_at"`
	UpdatedAt  time.Time `gorm:"column:updated_at" json:"updated_at"`
	Repeats    int       `gorm:"column:repeats" json:"repeats"` // throttled repeats folded into this event

	RequestID       *string `gorm:"column:request_id" json:"request_id,omitempty"`
	CorrelationID   *string `gorm:"column:correlation_id" json:"correlation_id,omitempty"`
	CausationDomain *string `gorm:"column:causation_domain" json:"causation_domain,omitempty"`
	CausationID     *int64  `gorm:"column:causation_id" json:"causation_id,omitempty"` // the event whose handling recorded this one
	Depth           int     `gorm:"column:depth" json:"depth"`                         // length of the causation chain; 0 for a user's act
	Source          *string `gorm:"column:source" json:"source,omitempty"`             // web, api, console, job, ...
	IP              *string `gorm:"column:ip" json:"ip,omitempty"`
	UserAgent       *string `gorm:"column:user_agent" json:"user_agent,omitempty"`
	TraceParent     *string `gorm:"column:trace_parent" json:"trace_parent,omitempty"` // W3C traceparent of the recording span, when traced

	// Tags are the app's free-form labels taken from the context's
	// Metadata when the event was recorded (a ticket, an operator).
	Tags map[string]string `gorm:"column:tags" json:"tags,omitempty"`

	// RetractedAt, RetractedBy ("users:3") and RetractionReason are set
	// when the event was retracted (Domain.Retract): it stays in the table,
	// and feeds and history skip it unless asked for retracted events.
	RetractedAt      *time.Time `gorm:"column:retracted_at" json:"retracted_at,omitempty"`
	RetractedBy      *string    `gorm:"column:retracted_by" json:"retracted_by,omitempty"`
	RetractionReason *string    `gorm:"column:retraction_reason" json:"retraction_reason,omitempty"`

	// TenantID is the event's tenant key as text, for a tenanted domain
	// (DomainConfig.Tenant); "" otherwise.
	TenantID string `gorm:"column:tenant_id" json:"tenant_id,omitempty"`
}

// Retracted reports whether the event was retracted.
func (e Event) Retracted() bool { return e.RetractedAt != nil }

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
