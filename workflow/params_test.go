package workflow

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParamSchemaValidate(t *testing.T) {
	s := ParamSchema{
		"message": {Type: String, Required: true, Doc: "the comment to post"},
		"labels":  {Type: ListOf(String)},
		"delay":   {Type: Number},
		"notify":  {Type: Bool},
		"due":     {Type: Time},
	}
	if err := s.Validate("actions[0].params", map[string]any{
		"message": "This issue is stale, open a new one",
		"labels":  []string{"stale"},
		"delay":   3,
		"notify":  true,
		"due":     "2025-01-01",
	}); err != nil {
		t.Fatalf("valid params: %v", err)
	}
	// The JSON form (as stored) is valid too.
	var fromJSON map[string]any
	if err := json.Unmarshal([]byte(`{"message":"hi","labels":["a","b"],"delay":1.5,"due":"2025-01-01T10:00:00Z"}`), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate("actions[0].params", fromJSON); err != nil {
		t.Fatalf("params from JSON: %v", err)
	}

	err := s.Validate("actions[0].params", map[string]any{
		"labels": []any{"ok", 3},
		"delay":  "soon",
		"notify": "yes",
		"due":    "tomorrow",
		"mesage": "typo",
		"color":  "red",
	})
	if !errors.Is(err, ErrInvalidRule) {
		t.Fatalf("err = %v, want ErrInvalidRule", err)
	}
	var ve *ValidationError
	errors.As(err, &ve)
	want := []Problem{
		{"actions[0].params.delay", `must be a number; got "soon" (a string)`},
		{"actions[0].params.due", `must be an RFC 3339 time ("2022-01-01T00:00:00Z") or a date ("2022-01-01"); got "tomorrow" (a string)`},
		{"actions[0].params.labels", `must be a list of values, each a string; element 1: 3 (a number), not a string`},
		{"actions[0].params.message", "required: a string"},
		{"actions[0].params.notify", `must be true or false; got "yes" (a string)`},
		{"actions[0].params.color", `unknown parameter "color"; expected one of delay, due, labels, message, notify`},
		{"actions[0].params.mesage", `unknown parameter "mesage" (did you mean "message"?); expected one of delay, due, labels, message, notify`},
	}
	if len(ve.Problems) != len(want) {
		t.Fatalf("problems:\n%v\nwant\n%v", ve.Problems, want)
	}
	for i := range want {
		if ve.Problems[i] != want[i] {
			t.Errorf("problem %d\n got %v\nwant %v", i, ve.Problems[i], want[i])
		}
	}

	for _, empty := range []any{nil, "", "  "} {
		err := s.Validate("actions[1].params", map[string]any{"message": empty})
		if err == nil {
			t.Errorf("message %q accepted", empty)
			continue
		}
		if got := err.Error(); got != "workflow: invalid rule: actions[1].params.message: required: a string" &&
			got != "workflow: invalid rule: actions[1].params.message: required: must not be empty" {
			t.Errorf("message %q: %v", empty, got)
		}
	}
	if err := (ParamSchema{}).Validate("actions[0].params", map[string]any{"x": 1}); err == nil ||
		err.Error() != `workflow: invalid rule: actions[0].params.x: unknown parameter "x"; this action takes no parameters` {
		t.Errorf("no params: %v", err)
	}
	if err := (ParamSchema{"x": {Type: ChangeOf(String)}}).Validate("p", nil); err == nil {
		t.Error("a change parameter type was accepted")
	}
}
