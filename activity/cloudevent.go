package activity

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// CloudEvent is an event in the CloudEvents 1.0 JSON format
// (https://github.com/cloudevents/spec, JSON event format): the shape
// webhooks and exports send to systems outside the app.
//
//	{"specversion": "1.0", "id": "17", "source": "/tidings/tracker",
//	 "type": "issue.comment_added", "subject": "42",
//	 "time": "2026-11-27T16:54:16.123456Z", "datacontenttype": "application/json",
//	 "data": { ...the event's JSON form (Event)... },
//	 "actor": "users:3", "correlationid": "r-1", "causationid": "issue#12"}
//
// id is the event's ID (unique per source: one database), type is
// "<domain>.<action>", subject the subject's key, time when it occurred.
// The extensions actor ("type:id"), correlationid and causationid
// ("domain#id") carry who and why; absent ones are left out.
type CloudEvent struct {
	SpecVersion     string `json:"specversion"`
	ID              string `json:"id"`
	Source          string `json:"source"`
	Type            string `json:"type"`
	Subject         string `json:"subject,omitempty"`
	Time            string `json:"time"`
	DataContentType string `json:"datacontenttype"`
	Data            Event  `json:"data"`

	Actor         string `json:"actor"`
	CorrelationID string `json:"correlationid,omitempty"`
	CausationID   string `json:"causationid,omitempty"`
}

// CloudEventsSpecVersion is the CloudEvents version CloudEvent follows.
const CloudEventsSpecVersion = "1.0"

// CloudEventsContentType is the media type of a CloudEvent sent as an
// HTTP body in structured mode.
const CloudEventsContentType = "application/cloudevents+json"

// NewCloudEvent wraps ev as a CloudEvent from source, a URI reference
// naming the app ("/tidings/tracker", "https://tracker.example.com").
func NewCloudEvent(ev Event, source string) (CloudEvent, error) {
	if err := checkSource(source); err != nil {
		return CloudEvent{}, err
	}
	if ev.ID <= 0 || ev.Domain == "" || ev.Action == "" {
		return CloudEvent{}, fmt.Errorf("activity: cloud event: the event needs an ID, a domain and an action; got %s", ev)
	}
	ce := CloudEvent{
		SpecVersion: CloudEventsSpecVersion, ID: strconv.FormatInt(ev.ID, 10), Source: source,
		Type: ev.Domain + "." + ev.Action, Subject: ev.SubjectID,
		Time: ev.OccurredAt.UTC().Format(time.RFC3339Nano), DataContentType: "application/json",
		Data: ev, Actor: ev.ActorType + ":" + ev.ActorID,
	}
	if ev.CorrelationID != nil {
		ce.CorrelationID = *ev.CorrelationID
	}
	if c, ok := ev.Cause(); ok {
		ce.CausationID = c.String()
	}
	if len(ce.Data.Extra) == 0 {
		ce.Data.Extra = json.RawMessage("{}")
	}
	return ce, nil
}

// MarshalCloudEvent encodes ev as a CloudEvents 1.0 JSON document.
func MarshalCloudEvent(ev Event, source string) ([]byte, error) {
	ce, err := NewCloudEvent(ev, source)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ce)
}

func checkSource(source string) error {
	if source == "" {
		return &OptionError{Option: "CloudEvent source", Reason: "is empty; use a URI reference naming the app, like /tidings/tracker"}
	}
	if len(source) > 2048 {
		return &OptionError{Option: "CloudEvent source", Reason: "is longer than 2048 bytes"}
	}
	if _, err := url.Parse(source); err != nil {
		return &OptionError{Option: "CloudEvent source", Reason: fmt.Sprintf("%.80q is not a URI reference: %v", source, err)}
	}
	return nil
}
