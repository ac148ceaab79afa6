package workflow

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewSchemaRefusesBadDeclarations(t *testing.T) {
	d := issueDomain(t)
	r := ResolverFunc(func(ctx context.Context, id string) (map[string]any, error) { return nil, nil })
	cases := []struct {
		name string
		cfg  SchemaConfig
		want string
	}{
		{"no domain", SchemaConfig{}, "Domain: is nil"},
		{"subject id", SchemaConfig{Domain: d, Subject: Object{Fields: Fields{"id": String}, Resolver: r}}, `Subject.Fields["id"]: is taken`},
		{"record type", SchemaConfig{Domain: d, Records: map[string]Object{"comments": {Fields: Fields{"type": String}, Resolver: r}}}, `Records["comments"].Fields["type"]: is taken`},
		{"no resolver", SchemaConfig{Domain: d, Subject: Object{Fields: Fields{"title": String}}}, "Subject.Resolver: is nil"},
		{"no record resolver", SchemaConfig{Domain: d, Records: map[string]Object{"comments": {Fields: Fields{"body": String}}}}, `Records["comments"].Resolver: is nil`},
		{"bad type", SchemaConfig{Domain: d, Extra: Fields{"x": Type(0)}}, `Extra["x"]: has an invalid type`},
		{"list of change", SchemaConfig{Domain: d, Extra: Fields{"x": ListOf(ChangeOf(String))}}, `Extra["x"]: has an invalid type`},
		{"bad name", SchemaConfig{Domain: d, Extra: Fields{"a..b": String}}, `Extra["a..b"]: is not a field name`},
		{"change on subject", SchemaConfig{Domain: d, Subject: Object{Fields: Fields{"status": ChangeOf(String)}, Resolver: r}}, "declare it in Extra"},
		{"conflicting record fields", SchemaConfig{Domain: d, Records: map[string]Object{
			"comments": {Fields: Fields{"body": String}, Resolver: r},
			"notes":    {Fields: Fields{"body": Number}, Resolver: r},
		}}, "one attribute has one type"},
		{"change part conflict", SchemaConfig{Domain: d, Extra: Fields{"status": ChangeOf(String), "status.to": Number}}, `Extra["status.to"]: is a number, but status is a change of string`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewSchema(c.cfg)
			if !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("err = %v, want ErrInvalidSchema", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestSchemaAttributes(t *testing.T) {
	f := newFixture(t)
	attrs := f.schema.Attributes()
	byName := map[string]Attribute{}
	for i, a := range attrs {
		if i > 0 && attrs[i-1].Name >= a.Name {
			t.Errorf("attributes not sorted: %s before %s", attrs[i-1].Name, a.Name)
		}
		byName[a.Name] = a
	}
	for name, want := range map[string]Type{
		"action": String, "occurred_at": Time, "depth": Number, "subject.created_at": Time,
		"record.body": String, "extra.status": ChangeOf(String), "extra.status.from": String, "extra.status.to": String,
		"subject.labels": ListOf(String),
	} {
		if byName[name].Type != want {
			t.Errorf("%s: type %v, want %v", name, byName[name].Type, want)
		}
	}
	if !byName["subject.created_at"].Resolved || byName["extra.body"].Resolved {
		t.Error("Resolved flags wrong")
	}
	b, err := json.Marshal(byName["subject.created_at"])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"subject.created_at","type":"time","operators":["eq","ne","lt","lte","gt","gte","exists","not_exists","older_than","newer_than"],"resolved":true}`; string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
}

func TestTypeNames(t *testing.T) {
	for _, typ := range []Type{String, Number, Time, Bool, ListOf(String), ListOf(Time), ChangeOf(Number)} {
		b, err := typ.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Type
		if err := back.UnmarshalText(b); err != nil || back != typ {
			t.Errorf("%v round-trips to %v (%v)", typ, back, err)
		}
	}
	if ListOf(Number).String() != "list of number" || ChangeOf(Bool).String() != "change of bool" {
		t.Error("names")
	}
	var typ Type
	if err := typ.UnmarshalText([]byte("date")); err == nil {
		t.Error(`"date" decoded`)
	}
	if _, err := Type(0).MarshalText(); err == nil {
		t.Error("invalid type encoded")
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"365d":       365 * 24 * time.Hour,
		"8760h":      8760 * time.Hour,
		"2w":         14 * 24 * time.Hour,
		"1d12h":      36 * time.Hour,
		"90m":        90 * time.Minute,
		"1.5h":       90 * time.Minute,
		"30s":        30 * time.Second,
		"1w2d3h4m5s": (9*24+3)*time.Hour + 4*time.Minute + 5*time.Second,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"":        "it is empty",
		"365":     "365 has no unit",
		"1y":      `unknown unit "y"`,
		"d":       `expected a number at "d"`,
		"0d":      "not positive",
		"-1d":     `expected a number at "-1d"`,
		"1..2h":   `"1..2h" is not a duration: "1..2" is not a number`,
		"100000w": "longer than 200 years",
		"1h 30m":  `expected a number at " 30m"`,
	} {
		_, err := ParseDuration(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseDuration(%q) error %v; want one containing %q", in, err, want)
		}
	}
}

// Conditions are stored as jsonb: what is saved, loaded and compiled again
// behaves the same as what was written in Go.
func TestConditionsJSONRoundTrip(t *testing.T) {
	f := newFixture(t)
	conds := Conditions{
		Cond("subject.created_at", OpLt, date("2022-01-01")),
		Cond("extra.count", OpIn, []int{3, 4}),
		Cond("extra.urgent", OpEq, false),
		Cond("subject.closed_at", OpNotExists, nil),
		AnyOf(Cond("extra.body", OpMatches, "^b"), AllOf(Cond("extra.count", OpGt, int64(1)), Cond("extra.status", OpChangedTo, "closed"))),
	}
	b, err := json.Marshal(conds)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"attribute":"subject.created_at","operator":"lt","value":"2022-01-01T00:00:00Z"},` +
		`{"attribute":"extra.count","operator":"in","value":[3,4]},` +
		`{"attribute":"extra.urgent","operator":"eq","value":false},` +
		`{"attribute":"subject.closed_at","operator":"not_exists"},` +
		`{"any_of":[{"attribute":"extra.body","operator":"matches","value":"^b"},{"all_of":[{"attribute":"extra.count","operator":"gt","value":1},{"attribute":"extra.status","operator":"changed_to","value":"closed"}]}]}]`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
	var back Conditions
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	m1, m2 := f.mustCompile(t, conds...), f.mustCompile(t, back...)
	for _, ev := range []map[string]any{
		{"count": 3, "urgent": false, "body": "bad"},
		{"count": 4, "urgent": false, "body": "x", "status": map[string]any{"from": "open", "to": "closed"}},
		{"count": 4, "urgent": true},
		{"count": 5, "urgent": false, "body": "bad"},
	} {
		for _, subject := range []string{"1", "2"} {
			facts := f.schema.NewFacts(event(subject, ev))
			r1, err1 := m1.Evaluate(context.Background(), facts)
			r2, err2 := m2.Evaluate(context.Background(), facts)
			if err1 != nil || err2 != nil || r1.Matched != r2.Matched || r1.Explanation() != r2.Explanation() {
				t.Errorf("subject %s extra %v: Go %v %q, JSON %v %q (%v %v)", subject, ev, r1.Matched, r1.Explanation(), r2.Matched, r2.Explanation(), err1, err2)
			}
		}
	}
	if b, _ := json.Marshal(Conditions(nil)); string(b) != "[]" {
		t.Errorf("nil conditions encode as %s, want []", b)
	}
}

// Resolvers may return gorm model fields as they are: pointers,
// sql.Null types, named types.
func TestResolverValueShapes(t *testing.T) {
	type status string
	created := date("2021-01-01")
	var nilTime *time.Time
	priority := 3
	objects := map[string]map[string]any{
		"1": {"created_at": &created, "title": status("open"), "priority": &priority, "closed_at": nilTime,
			"owner": sql.NullString{String: "ana", Valid: true}, "archived_at": sql.NullTime{}},
	}
	d := issueDomain(t)
	s, err := NewSchema(SchemaConfig{Domain: d, Subject: Object{
		Fields:   Fields{"created_at": Time, "title": String, "priority": Number, "closed_at": Time, "owner": String, "archived_at": Time},
		Resolver: newCountingResolver(objects),
	}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Compile(Conditions{
		Cond("subject.created_at", OpLt, "2022-01-01"),
		Cond("subject.title", OpEq, "open"),
		Cond("subject.priority", OpEq, 3),
		Cond("subject.closed_at", OpNotExists, nil),
		Cond("subject.owner", OpEq, "ana"),
		Cond("subject.archived_at", OpNotExists, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Evaluate(context.Background(), s.NewFacts(event("1", nil)))
	if err != nil || !res.Matched {
		t.Errorf("matched %v, err %v: %s", res.Matched, err, res.Explanation())
	}
}

// The flat change convention: the whole extra is {"from": ..., "to": ...}.
func TestFlatChange(t *testing.T) {
	s, err := NewSchema(SchemaConfig{Domain: issueDomain(t), Extra: Fields{"": ChangeOf(String)}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Compile(Conditions{Cond("extra", OpChangedTo, "closed"), Cond("extra.from", OpEq, "open")})
	if err != nil {
		t.Fatal(err)
	}
	for extra, want := range map[string]bool{
		`{"from":"open","to":"closed"}`:   true,
		`{"from":"closed","to":"closed"}`: false,
		`{"from":"open","to":"open"}`:     false,
		`{}`:                              false,
		``:                                false,
	} {
		ev := event("1", nil)
		ev.Extra = []byte(extra)
		res, err := m.Evaluate(context.Background(), s.NewFacts(ev))
		if err != nil || res.Matched != want {
			t.Errorf("extra %s: matched %v, err %v; want %v (%s)", extra, res.Matched, err, want, res.Explanation())
		}
	}
	ev := event("1", nil)
	ev.Extra = []byte(`{"from":"open","to":"closed"}`)
	res, _ := m.Evaluate(context.Background(), s.NewFacts(ev))
	if want := `conditions[0]: extra (from "open" to "closed") changed to "closed"; conditions[1]: extra.from ("open") is eq "open"`; res.Explanation() != want {
		t.Errorf("explanation\n got %s\nwant %s", res.Explanation(), want)
	}
	if _, err := NewSchema(SchemaConfig{Domain: issueDomain(t), Extra: Fields{"": String}}); !errors.Is(err, ErrInvalidSchema) || !strings.Contains(err.Error(), "may only be declared as a ChangeOf") {
		t.Errorf("empty path as a string: %v", err)
	}
	if _, err := NewSchema(SchemaConfig{Domain: issueDomain(t), Extra: Fields{"": ChangeOf(Type(9))}}); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("empty path as an invalid change: %v", err)
	}
}
