// Package activitytest helps an app's tests assert on the events its code
// recorded:
//
//	ev := activitytest.AssertRecorded(t, db, issues, activitytest.Match{
//		Subject: issue.ID, Action: "label_added", Actor: &ana,
//		Extra: map[string]any{"name": "bug"},
//	})
//	activitytest.AssertNotRecorded(t, db, issues, activitytest.Match{Subject: issue.ID, Action: "comment_deleted"})
//
// It reads through the public activity API, so it sees what a feed sees:
// committed events, or the uncommitted ones of the transaction passed as db.
package activitytest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// Match describes the events to look for. Zero fields match anything.
type Match struct {
	Subject any    // the subject's key
	Action  string // one supported action
	Actor   any    // anything activity.Actor accepts
	Record  any    // anything activity.Record accepts
	// Extra must be a subset of the event's extra (compared as JSON values).
	Extra map[string]any
	// Since keeps events that occurred at or after it.
	Since time.Time
}

func (m Match) String() string {
	var parts []string
	if m.Subject != nil {
		parts = append(parts, fmt.Sprintf("subject %v", m.Subject))
	}
	if m.Action != "" {
		parts = append(parts, "action "+m.Action)
	}
	if m.Actor != nil {
		parts = append(parts, fmt.Sprintf("actor %v", activity.Actor(m.Actor)))
	}
	if m.Record != nil {
		parts = append(parts, fmt.Sprintf("record %v", activity.Record(m.Record)))
	}
	if m.Extra != nil {
		b, _ := json.Marshal(m.Extra)
		parts = append(parts, "extra ⊇ "+string(b))
	}
	if len(parts) == 0 {
		return "any event"
	}
	return strings.Join(parts, ", ")
}

// Events returns the events matching m, oldest first.
func Events(t testing.TB, db *gorm.DB, d *activity.Domain, m Match) []activity.Event {
	t.Helper()
	q := activity.HistoryQuery{Subject: m.Subject, Actor: m.Actor, Record: m.Record, Since: m.Since}
	if m.Action != "" {
		q.Actions = []string{m.Action}
	}
	var out []activity.Event
	for e, err := range d.Replay(context.Background(), db, q, 0) {
		if err != nil {
			t.Fatalf("activitytest: reading %s events (%s): %v", d.Name(), m, err)
		}
		if extraContains(e, m.Extra) {
			out = append(out, e)
		}
	}
	return out
}

// AssertRecorded fails the test unless exactly one event matches m, and
// returns it.
func AssertRecorded(t testing.TB, db *gorm.DB, d *activity.Domain, m Match) activity.Event {
	t.Helper()
	got := Events(t, db, d, m)
	switch len(got) {
	case 1:
		return got[0]
	case 0:
		t.Fatalf("activitytest: no %s event matches %s; recorded for that subject: %s", d.Name(), m, summary(t, db, d, m.Subject))
	default:
		t.Fatalf("activitytest: %d %s events match %s, want exactly one: %v", len(got), d.Name(), m, got)
	}
	return activity.Event{}
}

// AssertNotRecorded fails the test if any event matches m.
func AssertNotRecorded(t testing.TB, db *gorm.DB, d *activity.Domain, m Match) {
	t.Helper()
	if got := Events(t, db, d, m); len(got) > 0 {
		t.Fatalf("activitytest: want no %s event matching %s, found %d: %v", d.Name(), m, len(got), got)
	}
}

// AssertCount fails the test unless exactly n events match m.
func AssertCount(t testing.TB, db *gorm.DB, d *activity.Domain, m Match, n int) []activity.Event {
	t.Helper()
	got := Events(t, db, d, m)
	if len(got) != n {
		t.Fatalf("activitytest: %d %s events match %s, want %d: %v", len(got), d.Name(), m, n, got)
	}
	return got
}

func extraContains(e activity.Event, want map[string]any) bool {
	if len(want) == 0 {
		return true
	}
	have := e.ExtraMap()
	for k, v := range want {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		var norm any
		_ = json.Unmarshal(b, &norm)
		if !reflect.DeepEqual(have[k], norm) {
			return false
		}
	}
	return true
}

func summary(t testing.TB, db *gorm.DB, d *activity.Domain, subject any) string {
	if subject == nil {
		return "(no subject given)"
	}
	var lines []string
	for e, err := range d.Replay(context.Background(), db, activity.HistoryQuery{Subject: subject}, 0) {
		if err != nil {
			return err.Error()
		}
		lines = append(lines, fmt.Sprintf("%s by %s:%s %s", e.Action, e.ActorType, e.ActorID, e.Extra))
		if len(lines) == 20 {
			lines = append(lines, "...")
			break
		}
	}
	if len(lines) == 0 {
		return "none"
	}
	return strings.Join(lines, "; ")
}
