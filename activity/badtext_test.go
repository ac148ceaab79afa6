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
		// jsonb refuses these with 22P02 (unpaired surrogates) or 22003
		// (numbers outside numeric's range); encoding/json lets them by.
		{"lone high surrogate in extra", []activity.Option{actor, raw(`{"a":"\ud800"}`)}, activity.ErrInvalidExtra, `unpaired UTF-16 surrogate escape (\ud800 not followed`},
		{"lone low surrogate in extra", []activity.Option{actor, raw(`{"a":"x\udc00"}`)}, activity.ErrInvalidExtra, `(\udc00 without a high surrogate`},
		{"high surrogate then a letter", []activity.Option{actor, raw(`{"a":"\uD800\u0041"}`)}, activity.ErrInvalidExtra, "unpaired UTF-16 surrogate"},
		{"two high surrogates", []activity.Option{actor, raw(`{"a":"\ud800\ud800\udc00"}`)}, activity.ErrInvalidExtra, "unpaired UTF-16 surrogate"},
		{"lone surrogate in a key", []activity.Option{actor, raw(`{"\udbff":1}`)}, activity.ErrInvalidExtra, "unpaired UTF-16 surrogate"},
		{"surrogate from a json.Marshaler", []activity.Option{actor, activity.Extra{"m": rawMarshaler(`"\ud800"`)}}, activity.ErrInvalidExtra, "unpaired UTF-16 surrogate"},
		{"number too large", []activity.Option{actor, raw(`{"n":1e1000000}`)}, activity.ErrInvalidExtra, "has a number PostgreSQL cannot store (1e1000000)"},
		{"number too small", []activity.Option{actor, raw(`{"n":1e-1000000}`)}, activity.ErrInvalidExtra, "numeric holds at most"},
		{"number with 131073 integer digits", []activity.Option{actor, raw(`{"n":[1e131072]}`)}, activity.ErrInvalidExtra, "PostgreSQL cannot store"},
		{"number with a scale of 16384", []activity.Option{actor, raw(`{"n":1.0e-16383}`)}, activity.ErrInvalidExtra, "PostgreSQL cannot store"},
		{"zero with a scale of 16384", []activity.Option{actor, raw(`{"n":-0e-16384}`)}, activity.ErrInvalidExtra, "PostgreSQL cannot store"},
		{"zero with a huge exponent", []activity.Option{actor, raw(`{"n":0e1073741823}`)}, activity.ErrInvalidExtra, "PostgreSQL cannot store"},
		{"number from json.Number", []activity.Option{actor, activity.Extra{"n": json.Number("2E+999999999999")}}, activity.ErrInvalidExtra, "PostgreSQL cannot store"},
		{"numbers written out over the limit", []activity.Option{actor, raw(`{"a":1e40000,"b":1e40000}`)}, activity.ErrInvalidExtra, "once PostgreSQL writes its numbers out in full"},
		{"extra nested too deep", []activity.Option{actor, raw(nested(activity.MaxExtraDepth + 1))}, activity.ErrInvalidExtra, "nests objects and arrays more than 100 deep"},
		{"extra nested past encoding/json's limit, from Go values", []activity.Option{actor, activity.Extra{"a": nestedValue(10000)}}, activity.ErrInvalidExtra, "MaxExtraDepth"},
		{"IPv6 zone", []activity.Option{actor, activity.Meta(activity.Metadata{IP: "fe80::1%eth0"})}, activity.ErrInvalidOption, `"fe80::1%eth0" has a zone (%eth0)`},
		{"actor label over the limit", []activity.Option{activity.Actor(rec{Type: "users", ID: "1", Label: strings.Repeat("a", activity.MaxLabelBytes+1)})}, activity.ErrInvalidRef, "has a label of 201 bytes, over the limit of 200 (MaxLabelBytes)"},
		{"record label of 1 MB", []activity.Option{actor, activity.Record(&rec{Type: "comments", ID: "1", Label: strings.Repeat("é", 1<<19)})}, activity.ErrInvalidRef, "has a label of 1048576 bytes"},
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

	t.Run("extra at PostgreSQL's limits is stored and reads back", func(t *testing.T) {
		tx := testDB.Begin()
		defer tx.Rollback()
		for _, ex := range []string{
			`{"n":[1e60000]}`, `{"n":1e-16383,"z":0e1073741822,"w":9.99e100}`, `{"s":"\ud83d\ude00 \uDBFF\uDFFF \uffff"}`,
			nested(activity.MaxExtraDepth),
		} {
			res, err := issues.RecordEvent(ctx, tx, i.ID, "comment_added", actor, raw(ex))
			if err != nil {
				t.Fatalf("%.60s: %v", ex, err)
			}
			if !sameJSON(t, res.Event.Extra, []byte(ex)) {
				t.Errorf("%.60s: stored %.60s", ex, res.Event.Extra)
			}
			if _, err := json.Marshal(res.Event); err != nil {
				t.Errorf("%.60s: json.Marshal(Event): %v", ex, err)
			}
		}
	})

	t.Run("a model's long label is cut, not refused", func(t *testing.T) {
		tx := testDB.Begin()
		defer tx.Rollback()
		long := strings.Repeat("é", activity.MaxLabelBytes) // 400 bytes
		res, err := issues.RecordEvent(ctx, tx, i.ID, "comment_added", activity.Actor(&User{ID: u.ID, Name: long}), activity.Record(Comment{ID: 1, Body: long}))
		if err != nil {
			t.Fatal(err)
		}
		want := long[:activity.MaxLabelBytes]
		if res.Event.ActorLabel != want || *res.Event.RecordLabel != want {
			t.Errorf("labels = %d, %d bytes; want both cut to %d", len(res.Event.ActorLabel), len(*res.Event.RecordLabel), len(want))
		}
	})

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

func raw(s string) activity.Option { return activity.ExtraOf(json.RawMessage(s)) }

// rawMarshaler is a json.Marshaler that writes its JSON as given.
type rawMarshaler string

func (m rawMarshaler) MarshalJSON() ([]byte, error) { return []byte(m), nil }

// nested returns an extra object nesting arrays depth levels deep in all
// (the object itself is level 1).
func nested(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + "}"
}

// nestedValue returns a Go value that encodes as arrays depth levels deep
// (encoding/json marshals it, though it would not decode it).
func nestedValue(depth int) any {
	var v any = []any{}
	for range depth - 1 {
		v = []any{v}
	}
	return v
}
