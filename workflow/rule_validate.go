package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Validate checks a rule as Create and Update do, without saving it: the
// name, the domain, the scope, triggered_on, the conditions against the
// domain's Schema, each action's type against the Registry and its
// parameters against the action's ParamSchema and Check (so a webhook URL
// is looked up now). It returns nil or a *ValidationError listing every
// problem with the field it is in:
//
//	triggered_on: unknown action "coment_added" of domain issue (did you mean "comment_added"?); expected one of ...
//	conditions[1].operator: unknown operator "greater"; expected one of eq, ne, lt, ...
//	actions[0].params.url: "http://example.com/hook": only https URLs are allowed; got http
func (s *Rules) Validate(ctx context.Context, r Rule) error {
	_, err := s.check(ctx, r)
	return err
}

// check validates r and returns it normalised as it will be stored:
// conditions and parameters as their JSON decodes them, the scope kind
// filled in.
func (s *Rules) check(ctx context.Context, r Rule) (Rule, error) {
	var ps problems

	if strings.TrimSpace(r.Name) == "" {
		ps.add("name", "required: name the rule so people can find it in lists and run logs")
	} else if !utf8.ValidString(r.Name) || strings.ContainsRune(r.Name, 0) {
		ps.add("name", "holds invalid UTF-8 or a NUL byte; use plain text")
	} else if len(r.Name) > MaxNameLength {
		ps.add("name", "is %d bytes; at most %d are allowed", len(r.Name), MaxNameLength)
	}

	if len(r.Key) > 128 || !utf8.ValidString(r.Key) || strings.ContainsRune(r.Key, 0) {
		ps.add("key", "is %.40q: use up to 128 bytes of valid UTF-8 without NUL bytes (\"stale-issues\")", r.Key)
	}

	schema := s.schemas[r.Domain]
	switch {
	case r.Domain == "":
		ps.add("domain", "required; expected one of %s", strings.Join(s.domainNames, ", "))
	case schema == nil:
		ps.add("domain", "unknown domain %q%s; expected one of %s", r.Domain, didYouMean(r.Domain, s.domainNames), strings.Join(s.domainNames, ", "))
	}

	if r.Scope.Kind == "" {
		r.Scope.Kind = ScopeDomain
	}
	switch r.Scope.Kind {
	case ScopeDomain:
		if r.Scope.ID != "" {
			ps.add("scope.id", "must be empty for a domain scope, which watches every subject (got %s)", quote(r.Scope.ID))
		}
	case ScopeSubject:
		switch {
		case r.Scope.ID == "":
			ps.add("scope.id", "required: the key of the subject the rule watches")
		case schema != nil:
			if v, err := subjectValue(schema.Domain(), r.Scope.ID); err != nil {
				ps.add("scope.id", "%s is not a subject key of domain %s: %v", quote(r.Scope.ID), r.Domain, err)
			} else if ok, err := s.subjectExists(ctx, schema.Domain(), v); err != nil {
				return Rule{}, err
			} else if !ok {
				ps.add("scope.id", "no %s has the key %s: a rule cannot watch a subject that does not exist", r.Domain, quote(r.Scope.ID))
			}
		}
	case ScopeTenant:
		switch {
		case s.tenant == nil:
			ps.add("scope.kind", "tenant scopes need RulesConfig.Tenant, which tells an event's tenant; expected domain or subject")
		case r.Scope.ID == "":
			ps.add("scope.id", "required: the key of the tenant the rule watches")
		}
	default:
		ps.add("scope.kind", "unknown scope %q; expected one of domain, subject, tenant", r.Scope.Kind)
	}
	if len(r.Scope.ID) > 128 {
		ps.add("scope.id", "is %d bytes; at most 128 are allowed", len(r.Scope.ID))
	}

	if schema != nil {
		d := schema.Domain()
		actions := d.Actions()
		slices.Sort(actions)
		switch {
		case r.TriggeredOn == "":
			ps.add("triggered_on", "required: the action of domain %s the rule reacts to; expected one of %s", d.Name(), strings.Join(actions, ", "))
		case !d.Supports(r.TriggeredOn):
			ps.add("triggered_on", "unknown action %q of domain %s%s; expected one of %s", r.TriggeredOn, d.Name(), didYouMean(r.TriggeredOn, actions), strings.Join(actions, ", "))
		}
	}

	// What is checked is what is stored: the JSON form.
	var conds Conditions
	if err := roundTrip(r.Conditions, &conds); err != nil {
		ps.add("conditions", "cannot be stored as JSON: %v", err)
	} else {
		r.Conditions = conds
		if schema != nil {
			schema.compileConditions("conditions", conds, &ps)
		}
	}

	s.checkActions(ctx, &r, schema, &ps)
	if err := ps.err(); err != nil {
		return r, err
	}
	return r, nil
}

// checkActions checks r.Actions, normalising their parameters in place.
func (s *Rules) checkActions(ctx context.Context, r *Rule, schema *Schema, ps *problems) {
	names := s.registry.Names()
	switch {
	case len(r.Actions) == 0:
		ps.add("actions", "is empty: a rule needs at least one action; expected types: %s", strings.Join(names, ", "))
		return
	case len(r.Actions) > MaxActions:
		ps.add("actions", "has %d actions; at most %d are allowed", len(r.Actions), MaxActions)
		return
	}
	actions := make([]RuleAction, len(r.Actions))
	for i, ra := range r.Actions {
		field := index("actions", i)
		actions[i] = RuleAction{Type: ra.Type}
		a, ok := s.registry.Lookup(ra.Type)
		switch {
		case ra.Type == "":
			ps.add(field+".type", "required; expected one of %s", strings.Join(names, ", "))
			continue
		case !ok:
			ps.add(field+".type", "unknown action %q%s; expected one of %s", ra.Type, didYouMean(ra.Type, names), strings.Join(names, ", "))
			continue
		}
		var params Params
		b, err := json.Marshal(ra.Params)
		if err == nil && len(b) > MaxParamsBytes {
			ps.add(field+".params", "are %d bytes as JSON; at most %d are allowed", len(b), MaxParamsBytes)
			continue
		}
		if err == nil {
			err = json.Unmarshal(b, &params)
		}
		if err != nil {
			ps.add(field+".params", "cannot be stored as JSON: %v", err)
			continue
		}
		actions[i].Params = params
		before := len(*ps)
		a.Params.check(field+".params", params, ps)
		if len(*ps) > before || a.Check == nil || schema == nil {
			continue
		}
		for _, p := range a.Check(ctx, CheckContext{Domain: schema.Domain(), Rule: *r, Index: i, Params: params}) {
			f := field + ".params"
			if p.Field != "" {
				f += "." + p.Field
			}
			ps.add(f, "%s", p.Message)
		}
	}
	r.Actions = actions
}

// roundTrip sets dst to src as its JSON encoding decodes.
func roundTrip(src, dst any) error {
	b, err := json.Marshal(src)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("decoding its JSON: %w", err)
	}
	return nil
}
