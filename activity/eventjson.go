package activity

import (
	"encoding/json"
	"time"
)

// eventJSON decodes both the documented JSON form of an Event and the form
// of earlier versions, which had no tags and used Go field names: a job
// enqueued or a digest snapshot stored before an upgrade still decodes.
// Names that only differ in case (id/ID, extra/Extra) match either way.
type eventJSON struct {
	eventAlias

	LegacySubjectID       *string    `json:"SubjectID"`
	LegacyActorType       *string    `json:"ActorType"`
	LegacyActorID         *string    `json:"ActorID"`
	LegacyActorLabel      *string    `json:"ActorLabel"`
	LegacyRecordType      *string    `json:"RecordType"`
	LegacyRecordID        *string    `json:"RecordID"`
	LegacyRecordLabel     *string    `json:"RecordLabel"`
	LegacyOccurredAt      *time.Time `json:"OccurredAt"`
	LegacyCreatedAt       *time.Time `json:"CreatedAt"`
	LegacyUpdatedAt       *time.Time `json:"UpdatedAt"`
	LegacyRequestID       *string    `json:"RequestID"`
	LegacyCorrelationID   *string    `json:"CorrelationID"`
	LegacyCausationDomain *string    `json:"CausationDomain"`
	LegacyCausationID     *int64     `json:"CausationID"`
	LegacyUserAgent       *string    `json:"UserAgent"`
}

type eventAlias Event

// UnmarshalJSON decodes the documented JSON form, or the Go-field-name
// form of versions before it.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j eventJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = Event(j.eventAlias)
	str := func(dst *string, v *string) {
		if v != nil && *dst == "" {
			*dst = *v
		}
	}
	ptr := func(dst **string, v *string) {
		if v != nil && *dst == nil {
			*dst = v
		}
	}
	tm := func(dst *time.Time, v *time.Time) {
		if v != nil && dst.IsZero() {
			*dst = *v
		}
	}
	str(&e.SubjectID, j.LegacySubjectID)
	str(&e.ActorType, j.LegacyActorType)
	str(&e.ActorID, j.LegacyActorID)
	str(&e.ActorLabel, j.LegacyActorLabel)
	ptr(&e.RecordType, j.LegacyRecordType)
	ptr(&e.RecordID, j.LegacyRecordID)
	ptr(&e.RecordLabel, j.LegacyRecordLabel)
	tm(&e.OccurredAt, j.LegacyOccurredAt)
	tm(&e.CreatedAt, j.LegacyCreatedAt)
	tm(&e.UpdatedAt, j.LegacyUpdatedAt)
	ptr(&e.RequestID, j.LegacyRequestID)
	ptr(&e.CorrelationID, j.LegacyCorrelationID)
	ptr(&e.CausationDomain, j.LegacyCausationDomain)
	if j.LegacyCausationID != nil && e.CausationID == nil {
		e.CausationID = j.LegacyCausationID
	}
	ptr(&e.UserAgent, j.LegacyUserAgent)
	return nil
}
