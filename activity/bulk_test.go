package activity_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// TestRecordEventsBulk: one call records 1,000 events with their outbox rows,
// in the order given, all with one correlation id that finds them again.
func TestRecordEventsBulk(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	_, j := fixture(t)
	entries := make([]activity.NewEvent, 1000)
	for k := range entries {
		subj := i.ID
		if k%2 == 1 {
			subj = j.ID
		}
		entries[k] = activity.NewEvent{Subject: subj, Action: "comment_added",
			Options: []activity.Option{activity.Extra{"n": k}, activity.OccurredAt(time.Date(2025, 1, 1, 0, 0, k, 0, time.UTC))}}
	}
	tx := testDB.Begin()
	res, err := issues.RecordEvents(ctx, tx, entries, activity.Actor(&u))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 1000 || !strings.HasPrefix(res.CorrelationID, "bulk-") {
		t.Fatalf("got %d events, correlation %q", len(res.Events), res.CorrelationID)
	}
	for k, ev := range res.Events {
		if want := fmt.Sprintf(`{"n": %d}`, k); string(ev.Extra) != want || ev.Domain != "issue" || ev.ActorLabel != "Ana" {
			t.Fatalf("event %d = %s %s %q, want extra %s", k, ev.Domain, ev.Extra, ev.ActorLabel, want)
		}
		if ev.CorrelationID == nil || *ev.CorrelationID != res.CorrelationID {
			t.Fatalf("event %d correlation = %v, want %s", k, ev.CorrelationID, res.CorrelationID)
		}
	}
	ev1, ob1 := counts(t, i.ID)
	ev2, ob2 := counts(t, j.ID)
	if ev1+ev2 != 1000 || ob1+ob2 != 1000 {
		t.Errorf("stored %d events, %d outbox rows; want 1000 each", ev1+ev2, ob1+ob2)
	}
	page, err := issues.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID, CorrelationID: res.CorrelationID, Limit: 500})
	if err != nil || len(page.Entries) != 500 {
		t.Fatalf("feed by correlation id: %d events, %v; want 500", len(page.Entries), err)
	}

	t.Run("the context's correlation id wins", func(t *testing.T) {
		ctx := activity.WithMetadata(ctx, activity.Metadata{RequestID: "req-7", Source: "console"})
		tx := testDB.Begin()
		defer tx.Rollback()
		res, err := issues.RecordEvents(ctx, tx, entries[:2], activity.Actor(&u))
		if err != nil || res.CorrelationID != "req-7" || *res.Events[1].Source != "console" {
			t.Fatalf("res = %+v, %v", res, err)
		}
	})
}

// TestRecordEventsAllOrNothing: a bad entry, anywhere, is refused with its
// index before anything is written; a missing subject as well, without
// aborting the caller's transaction; throttling is refused.
func TestRecordEventsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	good := activity.NewEvent{Subject: i.ID, Action: "comment_added"}
	cases := []struct {
		name     string
		bad      activity.NewEvent
		opts     []activity.Option
		sentinel error
		contains string
	}{
		{"unknown action", activity.NewEvent{Subject: i.ID, Action: "coment_added"}, nil, activity.ErrUnknownAction, `entry 2: activity: unknown action "coment_added"`},
		{"NUL in extra", activity.NewEvent{Subject: i.ID, Action: "comment_added", Options: []activity.Option{activity.Extra{"a": "\x00"}}}, nil, activity.ErrInvalidExtra, "entry 2"},
		{"missing subject", activity.NewEvent{Subject: int64(1 << 61), Action: "comment_added"}, nil, activity.ErrInvalidSubject, "entry 2: activity: subject 2305843009213693952 for domain issue does not exist in issues"},
		{"meta on an entry", activity.NewEvent{Subject: i.ID, Action: "comment_added", Options: []activity.Option{activity.Meta(activity.Metadata{Source: "web"})}}, nil, activity.ErrInvalidOption, "pass Meta to the call"},
		{"throttle", good, []activity.Option{activity.ThrottleWithin(time.Minute)}, activity.ErrInvalidOption, "not supported by RecordEvents"},
		{"time out of range", activity.NewEvent{Subject: i.ID, Action: "comment_added", Options: []activity.Option{activity.OccurredAt(time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC))}}, nil, activity.ErrInvalidOption, "out of range"},
		// Extra jsonb would refuse in the statement (22P02, 22003), which
		// would abort the transaction and name no entry.
		{"lone surrogate in extra", activity.NewEvent{Subject: i.ID, Action: "comment_added", Options: []activity.Option{raw(`{"a":"\ud800"}`)}}, nil, activity.ErrInvalidExtra, "entry 2: activity: extra contains an unpaired UTF-16 surrogate"},
		{"low surrogate in extra", activity.NewEvent{Subject: i.ID, Action: "comment_added", Options: []activity.Option{raw(`{"a":"x\udc00"}`)}}, nil, activity.ErrInvalidExtra, "entry 2: activity: extra contains an unpaired"},
		{"number too large", activity.NewEvent{Subject: i.ID, Action: "comment_added", Options: []activity.Option{raw(`{"n":1e1000000}`)}}, nil, activity.ErrInvalidExtra, "entry 2: activity: extra has a number PostgreSQL cannot store"},
		{"number too small", activity.NewEvent{Subject: i.ID, Action: "comment_added", Options: []activity.Option{raw(`{"n":1e-1000000}`)}}, nil, activity.ErrInvalidExtra, "entry 2: activity: extra has a number PostgreSQL cannot store"},
		{"extra nested too deep", activity.NewEvent{Subject: i.ID, Action: "comment_added", Options: []activity.Option{activity.Extra{"a": nestedValue(10000)}}}, nil, activity.ErrInvalidExtra, "entry 2: activity: extra nests"},
		{"label over the limit", activity.NewEvent{Subject: i.ID, Action: "comment_added", Options: []activity.Option{activity.Record(activity.Ref{Type: "comments", ID: "1", Label: strings.Repeat("x", 1<<20)})}}, nil, activity.ErrInvalidRef, "entry 2: activity: record reference \"comments:1\" has a label of 1048576 bytes"},
		{"IPv6 zone, for the call", good, []activity.Option{activity.Meta(activity.Metadata{IP: "fe80::1%eth0"})}, activity.ErrInvalidOption, "has a zone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx := testDB.Begin()
			defer tx.Rollback()
			opts := append([]activity.Option{activity.Actor(&u)}, tc.opts...)
			_, err := issues.RecordEvents(ctx, tx, []activity.NewEvent{good, good, tc.bad, good}, opts...)
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.sentinel, tc.contains)
			}
			if strings.Contains(err.Error(), "SQLSTATE") {
				t.Errorf("err = %q quotes a SQLSTATE", err)
			}
			var be *activity.BulkError
			if tc.opts == nil && (!errors.As(err, &be) || be.Index != 2) {
				t.Errorf("err = %v, want a *BulkError at index 2", err)
			}
			if _, err := issues.RecordEvent(ctx, tx, i.ID, "comment_added", activity.Actor(&u)); err != nil {
				t.Fatalf("transaction unusable after the refusal: %v", err)
			}
			tx.Rollback()
			if ev, ob := counts(t, i.ID); ev != 0 || ob != 0 {
				t.Errorf("refused call wrote %d events, %d outbox rows", ev, ob)
			}
		})
	}

	t.Run("rolled back with the caller", func(t *testing.T) {
		tx := testDB.Begin()
		if _, err := issues.RecordEvents(ctx, tx, []activity.NewEvent{good, good}, activity.Actor(&u)); err != nil {
			t.Fatal(err)
		}
		tx.Rollback()
		if ev, ob := counts(t, i.ID); ev != 0 || ob != 0 {
			t.Errorf("rolled back call left %d events, %d outbox rows", ev, ob)
		}
	})

	t.Run("too many entries", func(t *testing.T) {
		_, err := issues.RecordEvents(ctx, testDB, make([]activity.NewEvent, activity.DefaultMaxBulk+1), activity.Actor(&u))
		if !errors.Is(err, activity.ErrInvalidOption) || !strings.Contains(err.Error(), "split the import") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("empty", func(t *testing.T) {
		res, err := issues.RecordEvents(ctx, testDB, nil, activity.Actor(&u))
		if err != nil || len(res.Events) != 0 {
			t.Fatalf("res = %+v, %v", res, err)
		}
	})
}

// TestRecordEventsUUIDSubjects: subjects travel as text and are cast to the
// domain's key type.
func TestRecordEventsUUIDSubjects(t *testing.T) {
	ctx := context.Background()
	id := "6f1c2a4e-8d2b-4b59-9a57-0c0de5e1a001"
	if err := testDB.Exec("INSERT INTO accounts (id, name) VALUES (?, 'Acme') ON CONFLICT DO NOTHING", id).Error; err != nil {
		t.Fatal(err)
	}
	res, err := accounts.RecordEvents(ctx, testDB, []activity.NewEvent{{Subject: id, Action: "renamed"}, {Subject: strings.ToUpper(id), Action: "renamed"}},
		activity.Actor(activity.System("import")))
	if err != nil || len(res.Events) != 2 || res.Events[1].SubjectID != id {
		t.Fatalf("res = %+v, %v", res, err)
	}
}
