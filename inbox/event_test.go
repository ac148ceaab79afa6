package inbox_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// The event an inbox gets is the event as stored, loaded when the job runs:
// a job carries references only (its payload is the header line), and a
// job of an older version that carried a copy of the event (stale: edited
// or erased since) gets the stored event too.
func TestDeliveredEventIsTheStoredEvent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		legacy bool // enqueued by hand as an older version did, with a stale copy
	}{
		{"reference", false},
		{"older job carrying a stale copy", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reset(t)
			var mu sync.Mutex
			got := map[int64]activity.Event{}
			c := newCollector("fidelity", inbox.Everything)
			c.fn = func(_ context.Context, d *inbox.Delivery) error {
				mu.Lock()
				got[d.Event.ID] = d.Event
				mu.Unlock()
				return nil
			}
			cfg := inbox.Config{Inboxes: []inbox.Inbox{c}, DisableRelay: tc.legacy}
			_, issueID := newIssue(t)
			ctx := activity.WithMetadata(context.Background(), activity.Metadata{RequestID: "r-1", IP: "10.0.0.7", UserAgent: "test", Source: "web"})
			res, err := issues.RecordEvent(ctx, testDB, issueID, "comment_added",
				activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "Ana <ana@example.com>"}),
				activity.Record(activity.Ref{Type: "comments", ID: "9", Label: "It \"fails\""}),
				activity.Extra(map[string]any{"body": "é ✓"}))
			if err != nil {
				t.Fatal(err)
			}
			insp := asynq.NewInspector(redis)
			defer insp.Close()
			if tc.legacy {
				stale := res.Event
				stale.ActorLabel, stale.Extra = "Stale Copy", json.RawMessage(`{"body":"before the erasure"}`)
				body, err := json.Marshal(stale)
				if err != nil {
					t.Fatal(err)
				}
				client := asynq.NewClient(redis)
				defer client.Close()
				payload := "issue " + strconv.FormatInt(res.Event.ID, 10) + " comment_added\n" + string(body)
				if _, err := client.Enqueue(asynq.NewTask(inbox.TaskType("fidelity"), []byte(payload)), asynq.TaskID(inbox.TaskID("fidelity", res.Event.Ref())),
					asynq.Queue(inbox.DefaultQueue), asynq.Retention(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			startWorker(t, cfg)
			waitFor(t, 10*time.Second, "the delivery", func() bool { return c.count(res.Event.ID) == 1 }, c.changed)
			stored, err := issues.Event(context.Background(), testDB, res.Event.ID)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			ev := got[res.Event.ID]
			mu.Unlock()
			if !sameEvent(ev, stored) {
				t.Errorf("delivered %+v\nstored    %+v", ev, stored)
			}
			if ip, _ := netip.ParseAddr(deref(ev.IP)); ip.String() != "10.0.0.7" {
				t.Errorf("IP %v", ev.IP)
			}
			if tc.legacy {
				return
			}
			info, err := insp.GetTaskInfo(inbox.DefaultQueue, inbox.TaskID("fidelity", res.Event.Ref()))
			if err != nil {
				t.Fatal(err)
			}
			if want := "issue " + strconv.FormatInt(res.Event.ID, 10) + " comment_added"; string(info.Payload) != want {
				t.Errorf("job payload %q, want the references alone: %q", info.Payload, want)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// sameEvent compares events field by field, times by instant and extra by
// its JSON value.
func sameEvent(a, b activity.Event) bool {
	for _, p := range []struct{ x, y *time.Time }{{&a.OccurredAt, &b.OccurredAt}, {&a.CreatedAt, &b.CreatedAt}, {&a.UpdatedAt, &b.UpdatedAt}} {
		if !p.x.Equal(*p.y) {
			return false
		}
		*p.x, *p.y = time.Time{}, time.Time{}
	}
	var ea, eb any
	if json.Unmarshal(a.Extra, &ea) != nil || json.Unmarshal(b.Extra, &eb) != nil || !reflect.DeepEqual(ea, eb) {
		return false
	}
	a.Extra, b.Extra = nil, nil
	return reflect.DeepEqual(a, b)
}
