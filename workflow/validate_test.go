package workflow

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// problemsOf compiles conds and returns the problems, failing the test if
// there are none or the error is not a *ValidationError.
func problemsOf(t *testing.T, s *Schema, conds ...Condition) []Problem {
	t.Helper()
	m, err := s.Compile(conds)
	if err == nil {
		t.Fatalf("compile %+v: no error; want a validation error", conds)
	}
	if m != nil {
		t.Errorf("compile returned a matcher along with an error")
	}
	if !errors.Is(err, ErrInvalidRule) {
		t.Errorf("errors.Is(err, ErrInvalidRule) = false for %v", err)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T is not a *ValidationError: %v", err, err)
	}
	return ve.Problems
}

// wantProblem checks that exactly one problem is reported, at field, with a
// message containing each of parts.
func wantProblem(t *testing.T, ps []Problem, field string, parts ...string) {
	t.Helper()
	if len(ps) != 1 {
		t.Fatalf("got %d problems, want 1: %v", len(ps), ps)
	}
	if ps[0].Field != field {
		t.Errorf("field = %q, want %q (message %q)", ps[0].Field, field, ps[0].Message)
	}
	for _, p := range parts {
		if !strings.Contains(ps[0].Message, p) {
			t.Errorf("message %q does not contain %q", ps[0].Message, p)
		}
	}
}

func TestValidateUnknownOperator(t *testing.T) {
	f := newFixture(t)
	ps := problemsOf(t, f.schema,
		Cond("action", OpEq, "comment_added"),
		Cond("subject.created_at", "greater", "2022-01-01"),
	)
	wantProblem(t, ps, "conditions[1].operator")
	want := `unknown operator "greater"; expected one of eq, ne, lt, lte, gt, gte, in, not_in, contains, starts_with, matches, exists, not_exists, older_than, newer_than, changed_from, changed_to`
	if ps[0].Message != want {
		t.Errorf("message\n got %q\nwant %q", ps[0].Message, want)
	}
	if got := ps[0].String(); got != "conditions[1].operator: "+want {
		t.Errorf("String() = %q", got)
	}
}

func TestValidateOperatorTypoSuggests(t *testing.T) {
	f := newFixture(t)
	ps := problemsOf(t, f.schema, Cond("subject.title", "start_with", "x"))
	wantProblem(t, ps, "conditions[0].operator", `unknown operator "start_with" (did you mean "starts_with"?)`)
}

func TestValidateUnknownAttributeSuggests(t *testing.T) {
	f := newFixture(t)
	ps := problemsOf(t, f.schema, Cond("subject.created", OpLt, "2022-01-01"))
	wantProblem(t, ps, "conditions[0].attribute",
		`unknown attribute "subject.created" (did you mean "subject.created_at"?)`,
		"Subject.Fields", "expected one of action, actor,")
	ps = problemsOf(t, f.schema, Cond("extra.bdy", OpEq, "x"))
	wantProblem(t, ps, "conditions[0].attribute", `(did you mean "extra.body"?)`, "declared in the issue schema's Extra")
	ps = problemsOf(t, f.schema, Cond("xyzzy_plugh_thud", OpExists, nil))
	wantProblem(t, ps, "conditions[0].attribute", `unknown attribute "xyzzy_plugh_thud"; expected one of`)
}

func TestValidateTypeMismatch(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name  string
		cond  Condition
		field string
		parts []string
	}{
		{"time lt banana", Cond("subject.created_at", OpLt, "banana"), "conditions[0].value",
			[]string{`subject.created_at is a time, so lt needs an RFC 3339 time ("2022-01-01T00:00:00Z") or a date ("2022-01-01"); got "banana" (a string)`}},
		{"time eq number", Cond("occurred_at", OpEq, 12), "conditions[0].value", []string{"got 12 (a number)"}},
		{"lt on bool", Cond("subject.closed", OpLt, true), "conditions[0].operator",
			[]string{"lt does not apply to subject.closed, which is a bool; expected one of eq, ne, exists, not_exists"}},
		{"bool eq string", Cond("extra.urgent", OpEq, "yes"), "conditions[0].value", []string{"needs true or false", `got "yes" (a string)`}},
		{"number eq string", Cond("extra.count", OpEq, "42"), "conditions[0].value", []string{"extra.count is a number", `got "42" (a string)`}},
		{"string eq number", Cond("extra.body", OpEq, 42), "conditions[0].value", []string{"needs a string", "got 42 (a number)"}},
		{"in element", Cond("extra.count", OpIn, []any{1, "two", 3}), "conditions[0].value[1]", []string{`got "two" (a string)`}},
		{"in not a list", Cond("extra.count", OpIn, 1), "conditions[0].value", []string{"needs a list of 1 to 256 values, each a number"}},
		{"in empty", Cond("extra.body", OpIn, []string{}), "conditions[0].value", []string{"has 0 values; in needs 1 to 256"}},
		{"in on time", Cond("occurred_at", OpIn, []string{"2022-01-01"}), "conditions[0].operator", []string{"in does not apply to occurred_at, which is a time"}},
		{"contains on number", Cond("extra.count", OpContains, 1), "conditions[0].operator", []string{"contains does not apply"}},
		{"list contains number", Cond("subject.labels", OpContains, 1), "conditions[0].value", []string{"subject.labels is a list of string, so contains needs a string"}},
		{"eq on list", Cond("subject.labels", OpEq, "bug"), "conditions[0].operator", []string{"expected one of contains, exists, not_exists"}},
		{"older_than on string", Cond("extra.body", OpOlderThan, "1d"), "conditions[0].operator", []string{"older_than does not apply to extra.body, which is a string"}},
		{"older_than bad duration", Cond("subject.created_at", OpOlderThan, "a year"), "conditions[0].value", []string{`"a year" is not a duration`}},
		{"older_than number", Cond("subject.created_at", OpOlderThan, 365), "conditions[0].value", []string{`needs a duration such as "365d"`}},
		{"older_than Go duration", Cond("subject.created_at", OpOlderThan, time.Hour), "conditions[0].value", []string{"got 3600000000000 (a number)"}},
		{"changed_to on string", Cond("extra.body", OpChangedTo, "x"), "conditions[0].operator", []string{"changed_to does not apply to extra.body, which is a string"}},
		{"eq on change", Cond("extra.status", OpEq, "closed"), "conditions[0].operator", []string{"expected one of exists, not_exists, changed_from, changed_to"}},
		{"changed_to number", Cond("extra.status", OpChangedTo, 1), "conditions[0].value", []string{"extra.status is a change of string, so changed_to needs a string"}},
		{"matches bad regex", Cond("extra.body", OpMatches, "a(b"), "conditions[0].value", []string{`"a(b" is not a valid RE2 regular expression: missing closing ): `}},
		{"matches backreference", Cond("extra.body", OpMatches, `(a)\1`), "conditions[0].value", []string{"not a valid RE2 regular expression"}},
		{"matches too long", Cond("extra.body", OpMatches, strings.Repeat("a", MaxPatternLength+1)), "conditions[0].value", []string{"the pattern is 257 bytes; at most 256"}},
		{"matches number", Cond("extra.body", OpMatches, 1), "conditions[0].value", []string{"needs an RE2 regular expression"}},
		{"value missing", Cond("subject.created_at", OpLt, nil), "conditions[0].value", []string{"required: lt compares subject.created_at with an RFC 3339 time"}},
		{"value on exists", Cond("subject.closed_at", OpExists, true), "conditions[0].value", []string{"exists takes no value; remove it (got true (a bool))"}},
		{"long string", Cond("extra.body", OpEq, strings.Repeat("x", MaxStringLength+1)), "conditions[0].value", []string{"is 1025 bytes; at most 1024"}},
		{"unknown action", Cond("action", OpEq, "comment_add"), "conditions[0].value", []string{`"comment_add" is not an action of domain issue (did you mean "comment_added"?)`}},
		{"unknown action in list", Cond("action", OpIn, []string{"closed", "reopened"}), "conditions[0].value[1]", []string{`"reopened" is not an action of domain issue`}},
		{"attribute missing", Condition{Operator: OpEq, Value: "x"}, "conditions[0].attribute", []string{"required"}},
		{"operator missing", Condition{Attribute: "action"}, "conditions[0].operator", []string{"required; expected one of eq, ne"}},
		{"group and test", Condition{Attribute: "action", Operator: OpExists, AnyOf: []Condition{Cond("action", OpExists, nil)}}, "conditions[0]", []string{"both a test"}},
		{"any_of and all_of", Condition{AnyOf: []Condition{Cond("action", OpExists, nil)}, AllOf: []Condition{Cond("action", OpExists, nil)}}, "conditions[0]", []string{"both any_of and all_of"}},
		{"empty group", Condition{AnyOf: []Condition{}}, "conditions[0].any_of", []string{"is empty"}},
		{"nested problem", AnyOf(Cond("action", OpExists, nil), AllOf(Cond("subject.closed", OpGt, true))), "conditions[0].any_of[1].all_of[0].operator", []string{"gt does not apply"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := problemsOf(t, f.schema, c.cond)
			wantProblem(t, ps, c.field, c.parts...)
		})
	}
}

func TestValidateCollectsAllProblems(t *testing.T) {
	f := newFixture(t)
	err := f.schema.Validate(Conditions{
		Cond("action", OpEq, "comment_added"),      // fine
		Cond("subject.created_at", "greater", "x"), // unknown operator
		Cond("subject.titel", OpEq, "x"),           // unknown attribute
		Cond("extra.body", OpMatches, "("),         // bad regex
		Cond("subject.created_at", OpLt, nil),      // missing value
		Cond("subject.created_at", OpLt, "banana"), // type mismatch
		AnyOf(Cond("extra.count", OpGt, "ten"), Cond("nope", OpExists, nil)),
	})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
	}
	want := []string{
		"conditions[1].operator",
		"conditions[2].attribute",
		"conditions[3].value",
		"conditions[4].value",
		"conditions[5].value",
		"conditions[6].any_of[0].value",
		"conditions[6].any_of[1].attribute",
	}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Errorf("problem fields\n got %v\nwant %v", fields, want)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "workflow: invalid rule: 7 problems:\nconditions[1].operator: unknown operator \"greater\"") {
		t.Errorf("Error() = %q", msg)
	}
}

func TestValidateUnknownAttributeAndOperatorBoth(t *testing.T) {
	f := newFixture(t)
	ps := problemsOf(t, f.schema, Cond("nope", "greater", 1))
	if len(ps) != 2 || ps[0].Field != "conditions[0].attribute" || ps[1].Field != "conditions[0].operator" {
		t.Errorf("problems = %v, want attribute then operator", ps)
	}
}

func TestValidateLimits(t *testing.T) {
	f := newFixture(t)
	many := make(Conditions, MaxConditions+1)
	for i := range many {
		many[i] = Cond("action", OpExists, nil)
	}
	ps := problemsOf(t, f.schema, many...)
	wantProblem(t, ps, "conditions", "has 65 conditions", "at most 64")

	deep := Cond("action", OpExists, nil)
	for range MaxGroupDepth + 1 {
		deep = AnyOf(deep)
	}
	ps = problemsOf(t, f.schema, deep)
	wantProblem(t, ps, "conditions[0].any_of[0].any_of[0].any_of[0].any_of[0].any_of", "nests groups 5 deep; at most 4")

	ok := Cond("action", OpExists, nil)
	for range MaxGroupDepth {
		ok = AnyOf(ok)
	}
	if err := f.schema.Validate(Conditions{ok}); err != nil {
		t.Errorf("groups %d deep: %v", MaxGroupDepth, err)
	}

	long := make([]string, MaxListLength+1)
	for i := range long {
		long[i] = "x"
	}
	ps = problemsOf(t, f.schema, Cond("extra.body", OpIn, long))
	wantProblem(t, ps, "conditions[0].value", "has 257 values")
}

func TestValidateAcceptsGoAndJSONValues(t *testing.T) {
	f := newFixture(t)
	type myString string
	valid := Conditions{
		Cond("subject.created_at", OpLt, "2022-01-01"),
		Cond("subject.created_at", OpLt, "2022-01-01T10:00:00+02:00"),
		Cond("subject.created_at", OpLt, date("2022-01-01")),
		Cond("extra.count", OpGt, 3),
		Cond("extra.count", OpGt, int8(3)),
		Cond("extra.count", OpGt, uint64(3)),
		Cond("extra.count", OpGt, float32(2.5)),
		Cond("extra.count", OpIn, []int{1, 2}),
		Cond("extra.count", OpIn, []any{1.0, 2.0}),
		Cond("extra.body", OpEq, myString("x")),
		Cond("extra.body", OpNotIn, []string{"a", "b"}),
		Cond("extra.body", OpContains, ""),
		Cond("extra.urgent", OpNe, false),
		Cond("subject.labels", OpContains, "bug"),
		Cond("subject.closed_at", OpNotExists, nil),
		Cond("subject.created_at", OpNewerThan, "1w2d3h4m5s"),
		Cond("extra.status", OpChangedTo, "closed"),
		Cond("extra.status.from", OpEq, "open"),
		Cond("record.body", OpMatches, `(?i)^still\b`),
		Cond("record.type", OpEq, "comments"),
		Cond("action", OpIn, []string{"comment_added", "closed"}),
		Cond("depth", OpLt, 3),
	}
	if err := f.schema.Validate(valid); err != nil {
		t.Fatal(err)
	}
	if err := f.schema.Validate(nil); err != nil {
		t.Fatalf("no conditions: %v", err)
	}
}
