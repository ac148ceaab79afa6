package inbox

import (
	"encoding/json"
	"testing"
)

// A backfill's jobs say so in their payload, and the worker then looks for
// no inbox_pending row when they finish: the completer once kept every
// backfill job's key for seconds and sent them all in each flush, memory
// and work growing with the backfill.
func TestBackfillJobsHaveNoPendingRowToDelete(t *testing.T) {
	ev := json.RawMessage(`{"id":17}`)
	for _, tc := range []struct {
		raw      string
		backfill bool
	}{
		{string(encodePayload(payload{Domain: "issue", EventID: 17, Action: "comment_added", Backfill: true, Event: ev})), true},
		{string(encodePayload(payload{Domain: "issue", EventID: 17, Action: "comment_added", Event: ev})), false},
		{"issue 17 comment_added some-later-flag backfill\n" + string(ev), true},
		{"issue 17 comment_added some-later-flag\n" + string(ev), false},
	} {
		p, err := decodePayload([]byte(tc.raw))
		if err != nil {
			t.Fatalf("%q: %v", tc.raw, err)
		}
		if p.Backfill != tc.backfill || p.Action != "comment_added" || p.Domain != "issue" || p.EventID != 17 || string(p.Event) != string(ev) {
			t.Errorf("%q decoded as %+v, want backfill %v", tc.raw, p, tc.backfill)
		}
	}

	c := newCompleter(nil, nil, 0)
	done := completion{c: c}
	backfilled := payload{Domain: "issue", EventID: 17, Action: "comment_added", Backfill: true}
	relayed := payload{Domain: "issue", EventID: 18, Action: "comment_added"}
	done.add("warehouse", backfilled, true)  // delivered
	done.add("warehouse", backfilled, false) // a dead letter
	done.add("warehouse", relayed, true)
	if len(c.keys) != 1 || c.keys[0].eventID != 18 {
		t.Errorf("pending rows to delete: %+v, want only the relayed job's (event 18)", c.keys)
	}
	if len(c.delivered) != 2 {
		t.Errorf("delivered jobs whose dead letters are resolved: %+v, want both delivered ones", c.delivered)
	}
}
