package inbox_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// The event an inbox gets is the event as stored, whether the relay carried
// it in the job or the worker loaded it (a big event, or MaxEventBytes -1).
func TestDeliveredEventIsTheStoredEvent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBytes int
		extra    int  // bytes of padding in extra
		carried  bool // whether the job must carry the event
	}{
		{"carried", 0, 10, true},
		{"too big to carry", 0, 20 << 10, false},
		{"never carried", -1, 10, false},
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
			startWorker(t, inbox.Config{Inboxes: []inbox.Inbox{c}, Relay: inbox.RelayConfig{MaxEventBytes: tc.maxBytes}})
			_, issueID := newIssue(t)
			ctx := activity.WithMetadata(context.Background(), activity.Metadata{RequestID: "r-1", IP: "10.0.0.7", UserAgent: "test", Source: "web"})
			pad := make([]byte, tc.extra)
			for i := range pad {
				pad[i] = 'x'
			}
			res, err := issues.RecordEvent(ctx, testDB, issueID, "comment_added",
				activity.Actor(activity.Ref{Type: "users", ID: "1", Label: "Ana <ana@example.com>"}),
				activity.Record(activity.Ref{Type: "comments", ID: "9", Label: "It \"fails\""}),
				activity.Extra(map[string]any{"body": "é ✓", "pad": string(pad)}))
			if err != nil {
				t.Fatal(err)
			}
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
			insp := asynq.NewInspector(redis)
			defer insp.Close()
			info, err := insp.GetTaskInfo(inbox.DefaultQueue, inbox.TaskID("fidelity", res.Event.Ref()))
			if err != nil {
				t.Fatal(err)
			}
			if carried := strings.Contains(string(info.Payload), "\n{"); carried != tc.carried {
				t.Errorf("job payload carries the event: %v, want %v (%d bytes)", carried, tc.carried, len(info.Payload))
			}
			if ip, _ := netip.ParseAddr(deref(ev.IP)); ip.String() != "10.0.0.7" {
				t.Errorf("IP %v", ev.IP)
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
