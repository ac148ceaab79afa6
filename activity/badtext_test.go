package activity_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// TestRecordEventRefusesTextPostgresCannotStore: every input PostgreSQL
// would refuse with a raw SQLSTATE (NUL bytes, invalid UTF-8, times out of
// range) or store silently altered (invalid UTF-8 in extra) is refused
// before any write, with a typed error, and the caller's transaction is not
// aborted: it records the next event and commits.
func TestRecordEventRefusesTextPostgresCannotStore(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	actor := activity.Actor(&u)
	bad := string([]byte{0xff, 0xfe})
	type rec = activity.Ref
	cases := []struct {
		name     string
		opts     []activity.Option
		sentinel error
		contains string
	}{
		{"NUL in an extra string", []activity.Option{actor, activity.Extra{"body": "a\x00b"}}, activity.ErrInvalidExtra, `NUL character (\u0000)`},
		{"NUL in an extra key", []activity.Option{actor, activity.Extra{"k\x00": 1}}, activity.ErrInvalidExtra, "NUL character"},
		{"raw \\u0000 in extra", []activity.Option{actor, activity.ExtraOf(json.RawMessage(`{"a":"x\u0000"}`))}, activity.ErrInvalidExtra, "NUL character"},
		{"invalid UTF-8 in an extra string", []activity.Option{actor, activity.Extra{"body": "caf" + bad}}, activity.ErrInvalidExtra, "not valid UTF-8"},
		{"invalid UTF-8 in an extra key", []activity.Option{actor, activity.Extra{bad: 1}}, activity.ErrInvalidExtra, "not valid UTF-8"},
		{"invalid UTF-8 in raw extra", []activity.Option{actor, activity.ExtraOf(json.RawMessage("{\"a\":\"" + bad + "\"}"))}, activity.ErrInvalidExtra, "not valid UTF-8"},
		{"NUL in actor id", []activity.Option{activity.Actor(rec{Type: "users", ID: "1\x00"})}, activity.ErrInvalidRef, "has an id that contains a NUL byte"},
		{"NUL in actor type", []activity.Option{activity.Actor(rec{Type: "users\x00", ID: "1"})}, activity.ErrInvalidRef, "not an identifier"},
		{"NUL in actor label", []activity.Option{activity.Actor(rec{Type: "users", ID: "1", Label: "Ana\x00"})}, activity.ErrInvalidRef, "has a label that contains a NUL byte"},
		{"invalid UTF-8 in actor label", []activity.Option{activity.Actor(rec{Type: "users", ID: "1", Label: "Ana" + bad})}, activity.ErrInvalidRef, "has a label that is not valid UTF-8"},
		{"invalid UTF-8 in actor id", []activity.Option{activity.Actor(rec{Type: "users", ID: bad})}, activity.ErrInvalidRef, "has an id that is not valid UTF-8"},
		{"invalid UTF-8 in a model's label", []activity.Option{activity.Actor(&User{ID: u.ID, Name: "Ana" + bad})}, activity.ErrInvalidRef, "label that is not valid UTF-8"},
		{"actor type with a quote", []activity.Option{activity.Actor(rec{Type: `users"; DROP TABLE users; --`, ID: "1"})}, activity.ErrInvalidRef, "not an identifier"},
		{"actor type with a space", []activity.Option{activity.Actor(rec{Type: "app users", ID: "1"})}, activity.ErrInvalidRef, "not an identifier"},
		{"NUL in record id", []activity.Option{actor, activity.Record(rec{Type: "comments", ID: "\x00"})}, activity.ErrInvalidRef, "record reference"},
		{"NUL in record type", []activity.Option{actor, activity.Record(rec{Type: "\x00", ID: "1"})}, activity.ErrInvalidRef, "not an identifier"},
		{"invalid UTF-8 in record label", []activity.Option{actor, activity.Record(rec{Type: "comments", ID: "1", Label: bad})}, activity.ErrInvalidRef, "not valid UTF-8"},
		{"NUL in request id", []activity.Option{actor, activity.Meta(activity.Metadata{RequestID: "r\x00"})}, activity.ErrInvalidOption, "Metadata.RequestID"},
		{"invalid UTF-8 in correlation id", []activity.Option{actor, activity.Meta(activity.Metadata{CorrelationID: bad})}, activity.ErrInvalidOption, "Metadata.CorrelationID"},
		{"NUL in user agent", []activity.Option{actor, activity.Meta(activity.Metadata{UserAgent: "curl\x00"})}, activity.ErrInvalidOption, "Metadata.UserAgent"},
		{"invalid UTF-8 in user agent", []activity.Option{actor, activity.Meta(activity.Metadata{UserAgent: bad})}, activity.ErrInvalidOption, "not valid UTF-8"},
		{"NUL in source", []activity.Option{actor, activity.Meta(activity.Metadata{Source: "web\x00"})}, activity.ErrInvalidOption, "Metadata.Source"},
		{"time after year 9999", []activity.Option{actor, activity.OccurredAt(time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC))}, activity.ErrInvalidOption, "from year 1 to year 9999"},
		{"time before year 1", []activity.Option{actor, activity.OccurredAt(time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC))}, activity.ErrInvalidOption, "out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx := testDB.Begin()
			defer tx.Rollback()
			_, err := issues.RecordEvent(ctx, tx, i.ID, "comment_added", tc.opts...)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want errors.Is %v", err, tc.sentinel)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("err = %q, want it to contain %q", err, tc.contains)
			}
			if strings.Contains(err.Error(), "SQLSTATE") {
				t.Errorf("err = %q quotes a SQLSTATE", err)
			}
			// The transaction was not aborted: it goes on recording.
			if _, err := issues.RecordEvent(ctx, tx, i.ID, "comment_added", actor); err != nil {
				t.Fatalf("the caller's transaction is unusable after the refusal: %v", err)
			}
			tx.Rollback()
			if ev, ob := counts(t, i.ID); ev != 0 || ob != 0 {
				t.Errorf("refused call wrote %d events, %d outbox rows", ev, ob)
			}
		})
	}

	t.Run("text that only looks bad is stored as given", func(t *testing.T) {
		tx := testDB.Begin()
		defer tx.Rollback()
		want := map[string]any{`lit`: `\u0000 and \ufffd as text`, "real": "caf\u00e9 \ufffd"}
		res, err := issues.RecordEvent(ctx, tx, i.ID, "comment_added", actor, activity.Extra(want))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(res.Event.Extra, &got); err != nil || got["lit"] != want["lit"] || got["real"] != want["real"] {
			t.Errorf("extra = %s (%v), want %v", res.Event.Extra, err, want)
		}
	})
}

// TestRecordEventMissingSubject: our own sentence, no PostgreSQL detail
// inside it, and the caller's transaction goes on.
func TestRecordEventMissingSubject(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	for _, throttle := range []time.Duration{0, time.Minute} {
		tx := testDB.Begin()
		_, err := issues.RecordEvent(ctx, tx, int64(1<<62), "comment_viewed", activity.Actor(&u), activity.ThrottleWithin(throttle))
		var se *activity.SubjectError
		if !errors.As(err, &se) || !errors.Is(err, activity.ErrInvalidSubject) {
			t.Fatalf("throttle %v: err = %v, want a *SubjectError", throttle, err)
		}
		want := "activity: subject 4611686018427387904 for domain issue does not exist in issues: no row has that id"
		if err.Error() != want {
			t.Errorf("throttle %v: err = %q, want %q", throttle, err, want)
		}
		if _, err := issues.RecordEvent(ctx, tx, i.ID, "comment_added", activity.Actor(&u)); err != nil {
			t.Fatalf("throttle %v: transaction unusable after the refusal: %v", throttle, err)
		}
		tx.Rollback()
	}
}

// TestThrottleIsolationErrorSaysItOnce: the refusal at REPEATABLE READ names
// the level, says its reason once, and leaves the transaction usable.
func TestThrottleIsolationErrorSaysItOnce(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	tx := testDB.Begin()
	defer tx.Rollback()
	if err := tx.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").Error; err != nil {
		t.Fatal(err)
	}
	_, err := issues.RecordEvent(ctx, tx, i.ID, "comment_viewed", activity.Actor(&u), activity.ThrottleWithin(time.Minute))
	var ie *activity.IsolationError
	if !errors.As(err, &ie) || ie.Level != "repeatable read" {
		t.Fatalf("err = %v, want an *IsolationError at repeatable read", err)
	}
	if n := strings.Count(err.Error(), "READ COMMITTED"); n != 1 {
		t.Errorf("err = %q names READ COMMITTED %d times, want once", err, n)
	}
	if !strings.Contains(err.Error(), "REPEATABLE READ") {
		t.Errorf("err = %q does not name the level", err)
	}
	if _, err := issues.RecordEvent(ctx, tx, i.ID, "comment_added", activity.Actor(&u)); err != nil {
		t.Fatalf("transaction unusable after the refusal: %v", err)
	}
}
