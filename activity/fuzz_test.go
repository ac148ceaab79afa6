package activity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
)

// The modes of a FuzzRecordEvent input (bits of its mode argument).
const (
	fuzzMarshalled = 1 << iota // extra decoded into a map and passed as Extra, which encoding/json marshals
	fuzzBulk                   // recorded with RecordEvents, second of two entries
	fuzzInString               // extra is {"s":"<the bytes>"}: escapes and text, explored inside valid JSON
	fuzzAsNumber               // extra is {"n":<the bytes>}: number syntax and range
)

// sentinels are the errors RecordEvent and RecordEvents promise: any
// refusal is errors.Is one of them.
var sentinels = []error{
	activity.ErrUnknownAction, activity.ErrInvalidSubject, activity.ErrInvalidRef, activity.ErrNoActor,
	activity.ErrInvalidExtra, activity.ErrInvalidOption, activity.ErrCausationDepth, activity.ErrNilDB,
	activity.ErrNoPartition, activity.ErrThrottleIsolation,
}

// FuzzRecordEvent: whatever a caller passes as extra, ids, labels,
// metadata and time, RecordEvent (and RecordEvents) either refuses it with
// one of the package's typed errors, leaving the caller's transaction
// usable, or stores an event that reads back and marshals to the JSON of
// what was recorded.
//
// "The same JSON" is compared decoded, as what jsonb and PostgreSQL keep:
// extra's key order, whitespace, escapes and duplicate keys (the last wins,
// in jsonb and in encoding/json alike) are not kept, and numbers compare by
// value (jsonb writes 1e2 as 100, keeps 1.50's scale); the IP compares as an
// address (PostgreSQL writes ::102:304 as ::1.2.3.4); times compare at
// PostgreSQL's microseconds; the user agent is cut to 512 bytes, as
// Metadata documents. Everything else compares exactly.
//
// It runs on a database of its own. Its corpus (testdata/fuzz) holds the
// inputs that once got past validation; plain `go test` runs them, CI
// fuzzes for a bounded time (.ci/run).
func FuzzRecordEvent(f *testing.F) {
	db, subject := fuzzDB(f)
	subject0 := subject
	d := newIssueDomain(func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) })
	f.Add([]byte(`{"n":1,"s":"é"}`), uint8(0), subject, "comment_added", "users", "7", "Ana", "9", "Looks good",
		"r-1", "", "web", "192.0.2.1", "curl/8", "", "SUP-1", int64(1700000000), int64(123456789))
	f.Add([]byte(`{"a":[1.50,1e2,-0,{"b":null}],"a":true}`), uint8(fuzzMarshalled|fuzzBulk), subject, "comment_viewed", "app.users", "x", "",
		"", "", "", "c-1", "", "::ffff:1.2.3.4", "", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "", int64(0), int64(0))
	f.Add([]byte(`x\ud83d\ude00\u00e9\n\"`), uint8(fuzzInString), subject, "label_added", "users", "1", "", "", "", "", "", "", "", "", "", "", int64(0), int64(0))
	f.Add([]byte(`-12.5e+3`), uint8(fuzzAsNumber), subject, "label_added", "users", "1", "", "", "", "", "", "", "", "", "", "", int64(0), int64(0))
	f.Fuzz(func(t *testing.T, extra []byte, mode uint8, subject, action, actorType, actorID, actorLabel, recordID, recordLabel,
		requestID, correlationID, source, ip, userAgent, traceParent, ticket string, occurredSec, occurredNsec int64) {
		ctx := context.Background()
		switch {
		case mode&fuzzInString != 0:
			extra = append(append([]byte(`{"s":"`), extra...), `"}`...)
		case mode&fuzzAsNumber != 0:
			extra = append(append([]byte(`{"n":`), extra...), '}')
		}
		in := fuzzInput{good: subject0, extra: extra, marshalled: mode&fuzzMarshalled != 0, bulk: mode&fuzzBulk != 0, subject: subject, action: action,
			actor: activity.Ref{Type: actorType, ID: actorID, Label: actorLabel}, record: activity.Ref{Type: "comments", ID: recordID, Label: recordLabel},
			md: activity.Metadata{RequestID: requestID, CorrelationID: correlationID, Source: source, IP: ip, UserAgent: userAgent, TraceParent: traceParent}}
		if ticket != "" {
			in.md.Tags = map[string]string{"ticket": ticket}
		}
		if occurredSec != 0 || occurredNsec != 0 {
			in.occurredAt = time.Unix(occurredSec, occurredNsec)
		}
		if in.marshalled {
			var m map[string]any
			dec := json.NewDecoder(bytes.NewReader(extra))
			dec.UseNumber()
			if dec.Decode(&m) != nil || m == nil {
				t.Skip("not a JSON object encoding/json decodes")
			}
			in.extraValue = m
		}

		tx := db.Begin()
		defer tx.Rollback()
		ev, err := in.recordIn(ctx, d, tx)
		if err != nil {
			t.Logf("refused: %v", cut(err.Error(), 200))
			checkRefusal(t, in, err)
			// The transaction was not aborted: it records the next event.
			if _, err := d.RecordEvent(ctx, tx, in.good, "comment_added", activity.Actor(activity.System("fuzz"))); err != nil {
				t.Fatalf("the caller's transaction is unusable after %v: %v", in, err)
			}
			return
		}
		back, err := d.EventsByID(ctx, tx, []int64{ev.ID})
		if err != nil || back[ev.ID].ID != ev.ID {
			t.Fatalf("event %d does not read back: %v", ev.ID, err)
		}
		checkStored(t, in, d, ev, back[ev.ID])
		t.Logf("stored event %d", ev.ID)
	})
}

type fuzzInput struct {
	good             string // the key of an issue that exists
	extra            []byte
	extraValue       map[string]any // marshalled: what is passed as Extra
	marshalled, bulk bool
	subject, action  string
	actor, record    activity.Ref
	md               activity.Metadata
	occurredAt       time.Time
}

func (in fuzzInput) String() string {
	return fmt.Sprintf("input{extra %.200q marshalled %v bulk %v subject %q action %q actor %q %q %q record %q %q metadata %+q occurred %v}",
		in.extra, in.marshalled, in.bulk, in.subject, in.action, in.actor.Type, in.actor.ID, cut(in.actor.Label, 80),
		in.record.ID, cut(in.record.Label, 80), in.md, in.occurredAt)
}

// record records the input in tx: with RecordEvent, or as the second entry
// of a RecordEvents call (Meta on the call, the rest on the entry).
func (in fuzzInput) recordIn(ctx context.Context, d *activity.Domain, tx *gorm.DB) (activity.Event, error) {
	opts := []activity.Option{activity.Actor(in.actor)}
	if in.record.ID != "" {
		opts = append(opts, activity.Record(in.record))
	}
	if in.marshalled {
		opts = append(opts, activity.Extra(in.extraValue))
	} else {
		opts = append(opts, activity.ExtraOf(json.RawMessage(in.extra)))
	}
	if !in.occurredAt.IsZero() {
		opts = append(opts, activity.OccurredAt(in.occurredAt))
	}
	if !in.bulk {
		res, err := d.RecordEvent(ctx, tx, in.subject, in.action, append(opts, activity.Meta(in.md))...)
		return res.Event, err
	}
	first := activity.NewEvent{Subject: in.good, Action: "comment_added", Options: []activity.Option{activity.Actor(activity.System("fuzz"))}}
	res, err := d.RecordEvents(ctx, tx, []activity.NewEvent{first, {Subject: in.subject, Action: in.action, Options: opts}}, activity.Meta(in.md))
	if err != nil {
		return activity.Event{}, err
	}
	return res.Events[1], nil
}

// checkRefusal: a typed error, in our words; in a bulk call, a refused
// entry is named by its index, the call's metadata by none.
func checkRefusal(t *testing.T, in fuzzInput, err error) {
	t.Helper()
	typed := false
	for _, s := range sentinels {
		typed = typed || errors.Is(err, s)
	}
	if !typed {
		t.Fatalf("%v: untyped error %v", in, err)
	}
	if strings.Contains(err.Error(), "SQLSTATE") {
		t.Fatalf("%v: the error quotes a SQLSTATE: %v", in, err)
	}
	var be *activity.BulkError
	var oe *activity.OptionError
	callLevel := errors.As(err, &oe) && strings.HasPrefix(oe.Option, "Metadata")
	switch {
	case !in.bulk:
		if errors.As(err, &be) {
			t.Fatalf("%v: RecordEvent returned a BulkError: %v", in, err)
		}
	case callLevel:
		if errors.As(err, &be) {
			t.Fatalf("%v: the call's metadata was refused as entry %d: %v", in, be.Index, err)
		}
	case !errors.As(err, &be) || be.Index != 1:
		t.Fatalf("%v: RecordEvents refused the second entry without a BulkError at index 1: %v", in, err)
	}
}

// checkStored: the event as returned and as read back marshal to the same
// JSON, which holds what was recorded (with the normalisations
// FuzzRecordEvent lists), and the library's other forms of it work.
func checkStored(t *testing.T, in fuzzInput, d *activity.Domain, ev, back activity.Event) {
	t.Helper()
	got, err := json.Marshal(back)
	if err != nil {
		t.Fatalf("%v: json.Marshal of the stored event: %v", in, err)
	}
	if ret, err := json.Marshal(ev); err != nil || !bytes.Equal(ret, got) {
		t.Fatalf("%v: the event returned marshals to\n%s (%v)\nthe event read back to\n%s", in, ret, err, got)
	}
	var again activity.Event
	if err := json.Unmarshal(got, &again); err != nil {
		t.Fatalf("%v: the stored event's JSON does not decode: %v", in, err)
	}
	if _, err := activity.MarshalCloudEvent(back, "/fuzz"); err != nil {
		t.Fatalf("%v: MarshalCloudEvent: %v", in, err)
	}
	var extra json.RawMessage
	if err := back.DecodeExtra(&extra); err != nil {
		t.Fatalf("%v: DecodeExtra: %v", in, err)
	}

	var gotMap map[string]any
	decodeJSON(t, got, &gotMap)
	wantExtra := in.extra
	if in.marshalled {
		wantExtra, _ = json.Marshal(in.extraValue)
	}
	if !sameJSON(t, gotMap["extra"], wantExtra) {
		t.Errorf("%v: extra stored as %.200s", in, back.Extra)
	}
	n, _ := strconv.ParseInt(in.subject, 10, 64)
	want := map[string]any{
		"id": back.ID, "domain": "issue", "subject_id": strconv.FormatInt(n, 10), "action": d.Canonical(in.action),
		"actor_type": in.actor.Type, "actor_id": in.actor.ID, "actor_label": in.actor.Label, "repeats": 0, "depth": 0,
	}
	if in.record.ID != "" {
		want["record_type"], want["record_id"], want["record_label"] = in.record.Type, in.record.ID, in.record.Label
	}
	md := in.md
	if md.CorrelationID == "" {
		md.CorrelationID = md.RequestID
	}
	for k, v := range map[string]string{"request_id": md.RequestID, "correlation_id": md.CorrelationID, "source": md.Source,
		"user_agent": cut(md.UserAgent, 512), "trace_parent": md.TraceParent} {
		if v != "" {
			want[k] = v
		}
	}
	if in.bulk && md.CorrelationID == "" {
		want["correlation_id"] = gotMap["correlation_id"] // made up for the call: "bulk-" and 16 hex digits
		if s, _ := gotMap["correlation_id"].(string); !strings.HasPrefix(s, "bulk-") {
			t.Errorf("%v: correlation id %v, want one made up for the call", in, gotMap["correlation_id"])
		}
	}
	if md.IP != "" {
		a, _ := netip.ParseAddr(md.IP)
		b, err := netip.ParseAddr(*back.IP)
		if err != nil || a != b {
			t.Errorf("%v: ip %q stored as %q", in, md.IP, *back.IP)
		}
		want["ip"] = gotMap["ip"]
	}
	if md.Tags != nil {
		want["tags"] = md.Tags
	}
	at := in.occurredAt
	if at.IsZero() {
		at = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	}
	if d := at.Sub(back.OccurredAt); d < 0 || d >= time.Microsecond || !back.OccurredAt.Equal(ev.OccurredAt) {
		t.Errorf("%v: occurred at %v stored as %v", in, at, back.OccurredAt)
	}
	for _, k := range []string{"extra", "occurred_at", "created_at", "updated_at"} {
		delete(gotMap, k)
	}
	var wantMap map[string]any
	b, _ := json.Marshal(want)
	decodeJSON(t, b, &wantMap)
	if !equalJSON(gotMap, wantMap) {
		gb, _ := json.Marshal(gotMap)
		t.Errorf("%v: stored event\n%s\nwant\n%s", in, gb, b)
	}
}

// fuzzDB creates FuzzRecordEvent's database (a fuzz worker opens the one
// its coordinator created) and returns it with the key of its issue.
func fuzzDB(f *testing.F) (*gorm.DB, string) {
	const name = "tidings_test_activity_fuzz"
	issueUp, _ := activity.MigrationSQL(issues)
	db, err := pgtest.CreateForFuzz(context.Background(), name, appSchema, issueUp,
		"INSERT INTO users (name) VALUES ('Ana'); INSERT INTO issues (title) VALUES ('Fuzzed')")
	if err != nil {
		f.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		f.Cleanup(func() { _ = sqlDB.Close() })
	}
	return db, firstIssue(f, db)
}

// firstIssue returns the key of the fuzz database's issue.
func firstIssue(t testing.TB, db *gorm.DB) string {
	var id int64
	if err := db.Raw("SELECT min(id) FROM issues").Scan(&id).Error; err != nil || id == 0 {
		t.Fatalf("the fuzz database has no issue: %v", err)
	}
	return strconv.FormatInt(id, 10)
}

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %.200s: %v", b, err)
	}
}

// sameJSON reports whether got (a decoded value, or JSON text) holds the
// same JSON value as want: compared decoded, numbers by value.
func sameJSON(t *testing.T, got any, want []byte) bool {
	t.Helper()
	var g, w any
	switch x := got.(type) {
	case []byte:
		decodeJSON(t, x, &g)
	case json.RawMessage:
		decodeJSON(t, x, &g)
	default:
		g = x
	}
	decodeJSON(t, want, &w)
	return equalJSON(g, w)
}

// equalJSON compares two values decoded with UseNumber.
func equalJSON(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !equalJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && canonNumber(string(x)) == canonNumber(string(y))
	default:
		return a == b
	}
}

// canonNumber writes a JSON number as sign, significant digits and the
// power of ten of the first: 1e2, 100 and 100.00 are all "+1e2"; zero, of
// any sign or scale, is "0".
func canonNumber(s string) string {
	sign := "+"
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		exp, _ = strconv.ParseInt(strings.TrimPrefix(s[i+1:], "+"), 10, 64)
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	point := int64(len(intPart)) // digits[:point] are the integer part
	trimmed := strings.TrimLeft(digits, "0")
	point -= int64(len(digits) - len(trimmed))
	trimmed = strings.TrimRight(trimmed, "0")
	if trimmed == "" {
		return "0"
	}
	return sign + trimmed + "e" + strconv.FormatInt(point-1+exp, 10)
}

// cut cuts s to at most n bytes without splitting a UTF-8 sequence, as
// Metadata.UserAgent is cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
