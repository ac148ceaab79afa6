package inbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidingsdev/tidings/activity"
)

// TaskTypePrefix starts the asynq task type of every inbox job:
// "tidings:" + the inbox's name.
const TaskTypePrefix = "tidings:"

// TaskType returns the asynq task type of inbox's jobs.
func TaskType(inbox string) string { return TaskTypePrefix + inbox }

// TaskID returns the asynq task ID of the job delivering ev to inbox:
// "inbox:domain:event_id". asynq refuses a second task with an ID that
// exists in the queue (pending, scheduled, retrying, archived, or completed
// and still retained), which is how a re-enqueue is deduplicated.
func TaskID(inbox string, ev activity.EventRef) string {
	return inbox + ":" + ev.Domain + ":" + strconv.FormatInt(ev.ID, 10)
}

// ParseTaskID splits a task ID made by TaskID (or AppTaskID: the app is
// dropped).
func ParseTaskID(id string) (inbox string, ev activity.EventRef, err error) {
	id = stripApp(id) // AppTaskID's "app/" prefix
	i := strings.IndexByte(id, ':')
	j := strings.LastIndexByte(id, ':')
	if i <= 0 || j <= i+1 {
		return "", ev, fmt.Errorf("inbox: task ID %q is not inbox:domain:event_id", id)
	}
	n, err := strconv.ParseInt(id[j+1:], 10, 64)
	if err != nil || n <= 0 {
		return "", ev, fmt.Errorf("inbox: task ID %q does not end with an event id", id)
	}
	return id[:i], activity.EventRef{Domain: id[i+1 : j], ID: n}, nil
}

// payload is a job's body: one header line naming the event and its
// action ("issue 17 comment_added": domains and actions are identifiers,
// so a space separates them). It is all a job carries: references, never
// the event, so Redis (where asynq keeps completed jobs for
// RelayConfig.Retention, retrying and archived ones for days) holds no
// label, IP, user agent or extra that an erasure would have to reach. The
// worker loads the event from PostgreSQL when the job runs.
//
// A job enqueued by an older version may carry the event after a newline,
// as JSON: it still decodes (Event), and the worker ignores the copy and
// loads the stored event (erased since, perhaps). Only the bench's
// baseline (internal/carryevents) still makes and uses such payloads.
//
// A job handed over by a Backfiller says so with a fourth word in its
// header ("issue 17 comment_added backfill"): no inbox_pending row tracks
// it in the queue, so the completer has none to delete when it finishes
// (the worker inserts one only while an attempt runs, for erasures: see
// trackBackfill). (A worker of an
// older version reads the word as part of the action, which only a dead
// letter's Action shows, and looks for a row that is not there.) Other
// words after the action are ignored, for flags of later versions.
type payload struct {
	Domain   string
	EventID  int64
	Action   string
	Backfill bool            // handed over by a Backfiller: untracked by inbox_pending
	Event    json.RawMessage // an older version's (or the bench baseline's) copy of the event
}

// backfillFlag is the header word of a backfill's jobs.
const backfillFlag = "backfill"

func (p payload) ref() activity.EventRef { return activity.EventRef{Domain: p.Domain, ID: p.EventID} }

func encodePayload(p payload) []byte {
	b := make([]byte, 0, len(p.Domain)+len(p.Action)+22+len(p.Event))
	b = append(b, p.Domain...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, p.EventID, 10)
	b = append(b, ' ')
	b = append(b, p.Action...)
	if p.Backfill {
		b = append(append(b, ' '), backfillFlag...)
	}
	if len(p.Event) > 0 {
		b = append(append(b, '\n'), p.Event...)
	}
	return b
}

func decodePayload(b []byte) (payload, error) {
	var p payload
	head, ev, _ := bytes.Cut(b, []byte{'\n'})
	domain, rest, ok1 := strings.Cut(string(head), " ")
	id, action, ok2 := strings.Cut(rest, " ")
	n, err := strconv.ParseInt(id, 10, 64)
	if !ok1 || !ok2 || err != nil || domain == "" || n <= 0 {
		return p, fmt.Errorf("inbox: job payload %.80q is not a tidings payload (domain event_id action)", b)
	}
	action, flags, _ := strings.Cut(action, " ")
	for flags != "" {
		var f string
		f, flags, _ = strings.Cut(flags, " ")
		p.Backfill = p.Backfill || f == backfillFlag
	}
	p.Domain, p.EventID, p.Action = domain, n, action
	if len(ev) > 0 {
		p.Event = ev
	}
	return p, nil
}
