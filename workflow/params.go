package workflow

import (
	"fmt"
	"slices"
	"strings"
)

// Param declares one parameter of an action: its type and whether a rule
// must give it.
type Param struct {
	Type     Type   `json:"type"`               // String, Number, Time, Bool or ListOf(kind)
	Required bool   `json:"required,omitempty"` // a required string must also not be empty
	Doc      string `json:"doc,omitempty"`      // shown by rule editors
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
