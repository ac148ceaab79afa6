package activity_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

type noteAdded struct {
	Body   string   `json:"body"`
	Words  int      `json:"words"`
	Labels []string `json:"labels,omitempty"`
	Import *struct {
		File string `json:"file"`
		Row  int    `json:"row"`
	} `json:"import,omitempty"`
}

func newNotes(t *testing.T, actions ...string) *activity.Domain {
	t.Helper()
	if len(actions) == 0 {
		actions = []string{"note_added", "note_deleted", "import_retracted"}
	}
	return activity.MustDomain(activity.DomainConfig{
		Name: "note", Subject: activity.Subject{Table: "issues"}, Actions: actions,
		Specs: map[string]activity.ActionSpec{
			"note_added": {Extra: noteAdded{}, Doc: "Someone added a note to an issue.", RecordedBy: []string{"web: POST /issues/{id}/notes", "CSV import"}},
		},
		Aliases: map[string]string{"note_posted": "note_added"},
		Now:     clock.Now,
	})
}

// notesTable creates the note domain's table for one test.
func notesTable(t *testing.T, d *activity.Domain) {
	t.Helper()
	up, down := activity.MigrationSQL(d)
	if err := testDB.Exec(down).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec(up).Error; err != nil {
		t.Fatal(err)
	}
}

func TestEventJSONForm(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	ctx = activity.WithMetadata(ctx, activity.Metadata{RequestID: "req-1", Source: "web", Tags: map[string]string{"ticket": "SUP-1"}})
	res, err := issues.RecordEvent(ctx, testDB, i.ID, "comment_added", activity.Actor(u), activity.Extra{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res.Event)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "domain", "subject_id", "action", "actor_type", "actor_id", "actor_label", "extra", "occurred_at", "correlation_id", "source", "tags"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON form lacks %q: %s", k, b)
		}
	}
	for _, k := range []string{"record_type", "causation_id", "retracted_at", "SubjectID"} {
		if _, ok := m[k]; ok {
			t.Errorf("JSON form has %q: %s", k, b)
		}
	}
	var back activity.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.SubjectID != res.Event.SubjectID || back.ActorID != res.Event.ActorID || !back.OccurredAt.Equal(res.Event.OccurredAt) || back.Tags["ticket"] != "SUP-1" {
		t.Errorf("round trip: %+v, want %+v", back, res.Event)
	}
	// The Go-field-name form of earlier versions (jobs in Redis, digest
	// snapshots) still decodes.
	legacy := `{"ID": 7, "Domain": "issue", "SubjectID": "42", "Action": "comment_added", "ActorType": "users", "ActorID": "3",
		"ActorLabel": "Ana", "RecordType": "comments", "RecordID": "9", "Extra": {"a": 1}, "OccurredAt": "2026-01-02T03:04:05Z",
		"CorrelationID": "c-1", "CausationDomain": "issue", "CausationID": 5, "Depth": 1, "UserAgent": "curl"}`
	var old activity.Event
	if err := json.Unmarshal([]byte(legacy), &old); err != nil {
		t.Fatal(err)
	}
	if old.ID != 7 || old.SubjectID != "42" || old.ActorType != "users" || old.Record() == nil || old.Record().ID != "9" ||
		old.OccurredAt.Year() != 2026 || *old.CorrelationID != "c-1" || *old.CausationID != 5 || old.Depth != 1 || *old.UserAgent != "curl" {
		t.Errorf("legacy decode: %+v", old)
	}
}

func TestTags(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	script := activity.WithTags(activity.WithMetadata(ctx, activity.Metadata{Source: "console"}),
		map[string]string{"ticket": "https://support.example.com/SUP-1234", "operator": "ana"})
	if _, err := issues.RecordEvent(script, testDB, i.ID, "label_added", activity.Actor(activity.System("console:ana"))); err != nil {
		t.Fatal(err)
	}
	if _, err := issues.RecordEvent(ctx, testDB, i.ID, "label_added", activity.Actor(u)); err != nil {
		t.Fatal(err)
	}
	// Throttled recording takes tags too.
	res, err := issues.RecordEvent(script, testDB, i.ID, "comment_viewed", activity.Actor(u), activity.ThrottleWithin(time.Minute))
	if err != nil || res.Event.Tags["operator"] != "ana" {
		t.Fatalf("throttled: %+v, %v", res.Event.Tags, err)
	}
	page, err := issues.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID, Tags: map[string]string{"operator": "ana"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 2 || page.Entries[1].Tags["ticket"] != "https://support.example.com/SUP-1234" || *page.Entries[1].Source != "console" {
		t.Fatalf("tag filter: %+v", page.Events())
	}
	for name, tags := range map[string]map[string]string{
		"bad key":   {"Ticket Id": "x"},
		"quote key": {`a"b`: "x"},
		"NUL":       {"ticket": "a\x00b"},
		"bad UTF-8": {"ticket": "\xff"},
		"huge":      {"ticket": strings.Repeat("x", activity.MaxTagValueBytes+1)},
	} {
		_, err := issues.RecordEvent(activity.WithTags(ctx, tags), testDB, i.ID, "label_added", activity.Actor(u))
		if !errors.Is(err, activity.ErrInvalidOption) {
			t.Errorf("%s: err = %v; want ErrInvalidOption", name, err)
		}
	}
}

func TestRetract(t *testing.T) {
	ctx := context.Background()
	notes := newNotes(t)
	notesTable(t, notes)
	u, i := fixture(t)
	_, other := fixture(t)
	imp := activity.WithMetadata(ctx, activity.Metadata{CorrelationID: "import-7", Source: "job"})
	for _, s := range []int64{i.ID, i.ID, other.ID} {
		if _, err := notes.RecordEvent(imp, testDB, s, "note_added", activity.Actor(u), activity.ExtraOf(noteAdded{Body: "x"})); err != nil {
			t.Fatal(err)
		}
	}
	keep, err := notes.RecordEvent(ctx, testDB, i.ID, "note_added", activity.Actor(u), activity.ExtraOf(noteAdded{Body: "kept"}))
	if err != nil {
		t.Fatal(err)
	}
	admin := activity.Ref{Type: "users", ID: "1", Label: "Admin"}
	res, err := notes.Retract(ctx, testDB, activity.Retraction{CorrelationID: "import-7", Reason: "wrong file uploaded", Action: "import_retracted", Actor: admin})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Retracted) != 3 || len(res.Recorded) != 2 {
		t.Fatalf("retracted %d, recorded %d; want 3 and 2", len(res.Retracted), len(res.Recorded))
	}
	for _, e := range res.Retracted {
		if !e.Retracted() || *e.RetractedBy != "users:1" || *e.RetractionReason != "wrong file uploaded" || !e.RetractedAt.Equal(clock.Now()) {
			t.Errorf("retracted event %+v", e)
		}
	}
	var pending, pendingRetractions int64
	var retractedIDs, recordedIDs []int64
	for _, e := range res.Retracted {
		retractedIDs = append(retractedIDs, e.ID)
	}
	for _, e := range res.Recorded {
		recordedIDs = append(recordedIDs, e.ID)
	}
	testDB.Raw(`SELECT count(*) FROM activity_outbox WHERE domain = 'note' AND event_id IN ?`, retractedIDs).Scan(&pending)
	testDB.Raw(`SELECT count(*) FROM activity_outbox WHERE domain = 'note' AND event_id IN ?`, recordedIDs).Scan(&pendingRetractions)
	if pending != 0 || pendingRetractions != 2 {
		t.Errorf("outbox: %d retracted events still pending (want 0), %d retraction events (want 2)", pending, pendingRetractions)
	}
	var x activity.RetractionExtra
	if err := res.Recorded[0].DecodeExtra(&x); err != nil || len(x.Retracted) != 2 || x.Reason != "wrong file uploaded" || x.CorrelationID != "import-7" {
		t.Errorf("retraction extra %+v, %v", x, err)
	}
	page, err := notes.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID, Actions: []string{"note_added"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 || page.Entries[0].ID != keep.Event.ID {
		t.Errorf("feed hides retracted: %v", page.Events())
	}
	page, _ = notes.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID, Actions: []string{"note_added"}, Retracted: activity.IncludeRetracted})
	if len(page.Entries) != 3 {
		t.Errorf("feed with retracted: %d entries, want 3", len(page.Entries))
	}
	page, _ = notes.Feed(ctx, testDB, activity.FeedQuery{Retracted: activity.OnlyRetracted})
	if len(page.Entries) != 3 {
		t.Errorf("only retracted: %d entries, want 3", len(page.Entries))
	}
	counts, _ := notes.CountByAction(ctx, testDB, activity.HistoryQuery{Subject: i.ID})
	if counts["note_added"] != 1 || counts["import_retracted"] != 1 {
		t.Errorf("counts %v", counts)
	}
	again, err := notes.Retract(ctx, testDB, activity.Retraction{CorrelationID: "import-7", Reason: "again", Action: "import_retracted", Actor: admin})
	if err != nil || len(again.Retracted) != 0 || len(again.Recorded) != 0 {
		t.Errorf("second retraction: %+v, %v", again, err)
	}
	for name, r := range map[string]activity.Retraction{
		"no selection":  {Reason: "x", Action: "import_retracted"},
		"no reason":     {CorrelationID: "c", Action: "import_retracted"},
		"bad action":    {CorrelationID: "c", Reason: "x", Action: "note_deleted"},
		"NUL in reason": {CorrelationID: "c", Reason: "a\x00", Action: "import_retracted"},
	} {
		r.Actor = admin
		if _, err := notes.Retract(ctx, testDB, r); !errors.Is(err, activity.ErrInvalidOption) {
			t.Errorf("%s: %v; want ErrInvalidOption", name, err)
		}
	}
}

func TestExtraShapeAndAliases(t *testing.T) {
	ctx := context.Background()
	notes := newNotes(t)
	notesTable(t, notes)
	u, i := fixture(t)
	for name, extra := range map[string]activity.Option{
		"unknown field": activity.Extra{"body": "x", "bogus": 1},
		"wrong type":    activity.Extra{"body": "x", "words": "many"},
	} {
		_, err := notes.RecordEvent(ctx, testDB, i.ID, "note_added", activity.Actor(u), extra)
		if !errors.Is(err, activity.ErrInvalidExtra) || !strings.Contains(err.Error(), "noteAdded") {
			t.Errorf("%s: %v; want ErrInvalidExtra naming the struct", name, err)
		}
	}
	if err := notes.CheckExtra("note_posted", activity.Extra{"body": "x"}); err != nil {
		t.Errorf("CheckExtra of a fitting extra, by an alias: %v", err)
	}
	if err := notes.CheckExtra("note_added", activity.Extra{"workflow_rule_id": 1}); !errors.Is(err, activity.ErrInvalidExtra) {
		t.Errorf("CheckExtra of a misfit: %v", err)
	}
	// An alias records the current name; old rows match filters on it.
	res, err := notes.RecordEvent(ctx, testDB, i.ID, "note_posted", activity.Actor(u), activity.Extra{"body": "x"})
	if err != nil || res.Event.Action != "note_added" {
		t.Fatalf("alias: %+v %v", res.Event.Action, err)
	}
	if err := testDB.Exec(`UPDATE note_events SET action = 'note_posted' WHERE id = ?`, res.Event.ID).Error; err != nil {
		t.Fatal(err)
	}
	page, err := notes.Feed(ctx, testDB, activity.FeedQuery{Subject: i.ID, Actions: []string{"note_added"}})
	if err != nil || len(page.Entries) != 1 || notes.Canonical(page.Entries[0].Action) != "note_added" {
		t.Fatalf("old row under its former name: %+v, %v", page.Events(), err)
	}
	if _, err := activity.NewDomain(activity.DomainConfig{Name: "note", Actions: []string{"a"}, Aliases: map[string]string{"b": "c"}}); !errors.Is(err, activity.ErrInvalidDomain) {
		t.Errorf("alias to an undeclared action: %v", err)
	}
	if _, err := activity.NewDomain(activity.DomainConfig{Name: "note", Actions: []string{"a"}, Specs: map[string]activity.ActionSpec{"a": {Extra: 3}}}); !errors.Is(err, activity.ErrInvalidDomain) {
		t.Errorf("non-struct extra: %v", err)
	}
}

// The catalog test an app writes: it fails when an action is added (or its
// extra changed) without regenerating the catalog.
func TestCatalogStale(t *testing.T) {
	dir := t.TempDir()
	notes := newNotes(t)
	if err := activity.WriteCatalog(dir, notes, issues); err != nil {
		t.Fatal(err)
	}
	if err := activity.CheckCatalog(dir, notes, issues); err != nil {
		t.Fatalf("fresh catalog: %v", err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, activity.CatalogMarkdownFile))
	for _, want := range []string{"### `note.note_added`", "| `import.row` | integer |  |", "| `labels` | array of string | yes |", "Formerly: `note_posted`", "- CSV import"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("catalog.md lacks %q:\n%s", want, md)
		}
	}
	grown := newNotes(t, "note_added", "note_deleted", "import_retracted", "note_pinned")
	err := activity.CheckCatalog(dir, grown, issues)
	var se *activity.StaleCatalogError
	if !errors.Is(err, activity.ErrStaleCatalog) || !errors.As(err, &se) || !strings.Contains(se.Change, "note.note_pinned is declared but not in the catalog") {
		t.Fatalf("added action: %v", err)
	}
}

var ceExtension = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

// validateCloudEvent checks a JSON document against the CloudEvents 1.0
// spec's rules for the JSON format: required attributes present and of
// their types, optional ones well-formed, extension names legal.
func validateCloudEvent(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("not a JSON object: %v", err)
	}
	for _, k := range []string{"id", "source", "specversion", "type"} {
		s, ok := m[k].(string)
		if !ok || s == "" {
			t.Errorf("required attribute %s missing or not a non-empty string: %v", k, m[k])
		}
	}
	if m["specversion"] != "1.0" {
		t.Errorf("specversion %v", m["specversion"])
	}
	if _, err := url.Parse(m["source"].(string)); err != nil {
		t.Errorf("source is not a URI-reference: %v", err)
	}
	if s, ok := m["time"].(string); !ok {
		t.Errorf("time missing")
	} else if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		t.Errorf("time is not RFC 3339: %v", err)
	}
	if s, ok := m["subject"]; ok {
		if _, ok := s.(string); !ok {
			t.Errorf("subject is not a string")
		}
	}
	known := map[string]bool{"id": true, "source": true, "specversion": true, "type": true, "datacontenttype": true, "dataschema": true, "subject": true, "time": true, "data": true, "data_base64": true}
	for k, v := range m {
		if known[k] {
			continue
		}
		if !ceExtension.MatchString(k) {
			t.Errorf("extension attribute name %q is not 1-20 of a-z0-9", k)
		}
		switch v.(type) {
		case string, bool, float64:
		default:
			t.Errorf("extension %s has a non-scalar value %v", k, v)
		}
	}
	return m
}

func TestCloudEvent(t *testing.T) {
	ctx := context.Background()
	u, i := fixture(t)
	cause := activity.Cause{Event: activity.EventRef{Domain: "issue", ID: 12}, CorrelationID: "req-9"}
	res, err := issues.RecordEvent(activity.WithCause(ctx, cause), testDB, i.ID, "comment_added", activity.Actor(u), activity.Extra{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := activity.MarshalCloudEvent(res.Event, "/tidings/tracker")
	if err != nil {
		t.Fatal(err)
	}
	m := validateCloudEvent(t, doc)
	if m["type"] != "issue.comment_added" || m["subject"] != fmtInt(i.ID) || m["id"] != fmtInt(res.Event.ID) ||
		m["actor"] != "users:"+fmtInt(u.ID) || m["correlationid"] != "req-9" || m["causationid"] != "issue#12" {
		t.Errorf("cloud event %s", doc)
	}
	data := m["data"].(map[string]any)
	if data["action"] != "comment_added" || data["extra"].(map[string]any)["n"] != float64(1) {
		t.Errorf("data %v", data)
	}
	if _, err := activity.MarshalCloudEvent(res.Event, ""); !errors.Is(err, activity.ErrInvalidOption) {
		t.Errorf("empty source: %v", err)
	}
}

// An events table made by the previous MigrationSQL (no tags or retraction
// columns) upgrades with UpgradeSQL; running it twice is harmless.
func TestUpgradeSQL(t *testing.T) {
	d := activity.MustDomain(activity.DomainConfig{Name: "legacy", Subject: activity.Subject{Table: "issues"}, Actions: []string{"a"}})
	up, down := activity.MigrationSQL(d)
	if err := testDB.Exec(down).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec(up).Error; err != nil {
		t.Fatal(err)
	}
	if err := testDB.Exec(`DROP INDEX legacy_events_tags; DROP INDEX legacy_events_retracted;
ALTER TABLE legacy_events DROP COLUMN tags, DROP COLUMN retracted_at, DROP COLUMN retracted_by, DROP COLUMN retraction_reason`).Error; err != nil {
		t.Fatal(err)
	}
	upg, _ := activity.UpgradeSQL(d)
	for range 2 {
		if err := testDB.Exec(upg).Error; err != nil {
			t.Fatal(err)
		}
	}
	u, i := fixture(t)
	ctx := activity.WithTags(context.Background(), map[string]string{"k": "v"})
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "a", activity.Actor(u)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RecordEvent(ctx, testDB, i.ID, "a", activity.Actor(u), activity.ThrottleWithin(time.Hour)); err != nil {
		t.Fatal(err)
	}
}
