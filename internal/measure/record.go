package measure

import (
	"strconv"

	"github.com/tidingsdev/tidings/activity"
)

// Call is one recording as the figures make it: a subject, an action, an
// actor, a record and a small extra.
type Call struct {
	Subject int64
	Action  string
	Actor   activity.Ref
	Record  activity.Ref
	Extra   activity.Extra
}

// Options returns the call as RecordEvent options.
func (c Call) Options(extra ...activity.Option) []activity.Option {
	return append([]activity.Option{activity.Actor(c.Actor), activity.Record(c.Record), c.Extra}, extra...)
}

// The issues the recording figures write to: one per worker (workers beyond
// them share), away from the feed's subjects.
const (
	RecordSubjectBase = 1101
	RecordSubjects    = 64
)

// RecordCall is the i-th recording of worker w: the worker's issue, a user
// actor and a comment record that vary, and a small extra.
func RecordCall(w, i int) Call {
	u := 1 + (w*7919+i)%FixtureUsers
	c := 1 + (w*104729+i*31)%FixtureComments
	return Call{
		Subject: int64(RecordSubjectBase + w%RecordSubjects),
		Action:  "comment_added",
		Actor:   activity.Ref{Type: "users", ID: strconv.Itoa(u), Label: "User " + strconv.Itoa(u)},
		Record:  activity.Ref{Type: "comments", ID: strconv.Itoa(c), Label: "Comment " + strconv.Itoa(c)},
		Extra:   activity.Extra{"chars": 120 + i%50, "lang": "en"},
	}
}
