package inbox

import (
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

// ParseTaskID splits a task ID made by TaskID.
func ParseTaskID(id string) (inbox string, ev activity.EventRef, err error) {
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

// payload is a job's body: which event, its action (for logs and dead
// letters), and usually the event itself, loaded by the relay with its
// batch; without it, the worker loads the event when the job runs.
type payload struct {
	Domain  string          `json:"d"`
	EventID int64           `json:"e"`
	Action  string          `json:"a,omitempty"`
	Event   json.RawMessage `json:"ev,omitempty"`
}

func (p payload) ref() activity.EventRef { return activity.EventRef{Domain: p.Domain, ID: p.EventID} }

func encodePayload(p payload) []byte {
	b, _ := json.Marshal(p) // strings and an int: cannot fail
	return b
}

func decodePayload(b []byte) (payload, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("inbox: job payload %.80q is not a tidings payload: %w", b, err)
	}
	if p.Domain == "" || p.EventID <= 0 {
		return p, fmt.Errorf("inbox: job payload %.80q names no event", b)
	}
	return p, nil
}
