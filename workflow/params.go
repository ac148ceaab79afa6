package workflow

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Param declares one parameter of an action: its type and whether a rule
// must give it.
type Param struct {
	Type     Type   `json:"type"`               // String, Number, Time, Bool or ListOf(kind)
	Required bool   `json:"required,omitempty"` // a required string must also not be empty
	Doc      string `json:"doc,omitempty"`      // shown by rule editors
	// Secret marks a string that is encrypted at rest (RulesConfig.Secrets)
	// and opened only when the action runs: a webhook's signing key.
	Secret bool `json:"secret,omitempty"`
}

// ParamSchema declares an action's parameters by name: what a rule's
// {"action": "reply", "params": {"message": "..."}} is checked against when
// the rule is saved.
type ParamSchema map[string]Param

// Validate checks params against the schema and returns nil or a
// *ValidationError listing every problem, each pointing at its field under
// field ("actions[0].params" gives "actions[0].params.message: required").
// Parameters the schema does not declare are refused, with a suggestion.
func (s ParamSchema) Validate(field string, params map[string]any) error {
	var ps problems
	s.check(field, params, &ps)
	return ps.err()
}

// check adds the problems of params to ps.
func (s ParamSchema) check(field string, params map[string]any, ps *problems) {
	names := make([]string, 0, len(s))
	for name := range s {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := s[name]
		f := field + "." + name
		if !p.Type.valid() || p.Type.IsChange() {
			ps.add(f, "the action declares an invalid parameter type (%v); use String, Number, Time, Bool or ListOf(kind)", p.Type)
			continue
		}
		raw, given := params[name]
		v := convert(raw, p.Type)
		switch {
		case !given || !v.present:
			if p.Required {
				ps.add(f, "required: %s", paramHint(p.Type))
			}
		case v.bad != "" && p.Type.IsList() && strings.HasPrefix(v.bad, "element "):
			ps.add(f, "must be %s; %s", paramHint(p.Type), v.bad)
		case v.bad != "":
			ps.add(f, "must be %s; got %s", paramHint(p.Type), describe(raw))
		case p.Required && p.Type == String && strings.TrimSpace(v.s) == "":
			ps.add(f, "required: must not be empty")
		}
	}
	extra := make([]string, 0)
	for name := range params {
		if _, ok := s[name]; !ok {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		msg := fmt.Sprintf("unknown parameter %q%s", name, didYouMean(name, names))
		if len(names) == 0 {
			msg += "; this action takes no parameters"
		} else {
			msg += "; expected one of " + strings.Join(names, ", ")
		}
		ps.add(field+"."+name, "%s", msg)
	}
}

// paramHint says what a parameter of type t must be.
func paramHint(t Type) string {
	if t.IsList() {
		return "a list of values, each " + kindHint(t.Kind())
	}
	return kindHint(t)
}

// Params are an action's parameters as a rule holds them: JSON values by
// name ({"message": "This issue is stale", "to": ["ana@example.com"]}).
// Rules checks them against the action's ParamSchema before saving, so an
// action's Run can read them with the typed getters below.
type Params map[string]any

// String returns the string parameter name, or "" when it is absent.
func (p Params) String(name string) string {
	v := convert(p[name], String)
	return v.s
}

// Strings returns the list-of-strings parameter name, or nil.
func (p Params) Strings(name string) []string {
	v := convert(p[name], ListOf(String))
	if !v.present || v.bad != "" {
		return nil
	}
	out := make([]string, len(v.list))
	for i, e := range v.list {
		out[i] = e.s
	}
	return out
}

// Number returns the number parameter name, or 0.
func (p Params) Number(name string) float64 {
	v := convert(p[name], Number)
	return v.n
}

// Bool returns the bool parameter name, or false.
func (p Params) Bool(name string) bool {
	v := convert(p[name], Bool)
	return v.b
}

// Time returns the time parameter name, or the zero time.
func (p Params) Time(name string) time.Time {
	v := convert(p[name], Time)
	return v.t
}

// Has reports whether the parameter name is set (and not null).
func (p Params) Has(name string) bool { return deref(p[name]) != nil }
