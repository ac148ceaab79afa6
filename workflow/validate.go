package workflow

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Validate checks conditions against the schema and returns nil, or a
// *ValidationError listing every problem with the field it is in
// ("conditions[1].operator"). It is Compile without keeping the result.
func (s *Schema) Validate(conds Conditions) error {
	_, err := s.Compile(conds)
	return err
}

// Compile checks conditions against the schema and compiles them into a
// Matcher: attribute lookups bound, times parsed, durations parsed, patterns
// compiled, in-lists hashed. It returns a *ValidationError listing every
// problem when the conditions are not valid; nothing is compiled then.
func (s *Schema) Compile(conds Conditions) (*Matcher, error) {
	var ps problems
	root := s.compileConditions("conditions", conds, &ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return &Matcher{schema: s, root: root, conds: conds}, nil
}

// compileConditions checks and compiles a rule's conditions under field,
// adding problems to ps. The result is meaningful only when ps stays empty.
func (s *Schema) compileConditions(field string, conds Conditions, ps *problems) *node {
	c := compiler{schema: s, ps: ps}
	root := c.group(field, conds, false, 0)
	if c.count > MaxConditions {
		ps.add(field, "has %d conditions, counting groups and the conditions inside them; at most %d are allowed", c.count, MaxConditions)
	}
	return root
}

type compiler struct {
	schema *Schema
	ps     *problems
	count  int
}

// group compiles a list of conditions that must all hold (any false) or of
// which one must hold (any true). The fields of its members are
// field[i].
func (c *compiler) group(field string, conds []Condition, any bool, depth int) *node {
	n := &node{field: field, any: any, kids: make([]*node, 0, len(conds))}
	for i := range conds {
		kid := c.condition(index(field, i), &conds[i], depth)
		if kid == nil {
			continue
		}
		n.costly = n.costly || kid.costly
		n.kids = append(n.kids, kid)
	}
	// Conditions that need no resolver run first: a rule that fails on the
	// event alone loads nothing. The order does not change the result.
	slices.SortStableFunc(n.kids, func(a, b *node) int {
		switch {
		case a.costly == b.costly:
			return 0
		case a.costly:
			return 1
		}
		return -1
	})
	return n
}

func (c *compiler) condition(field string, cond *Condition, depth int) *node {
	c.count++
	isTest := cond.Attribute != "" || cond.Operator != "" || cond.Value != nil
	switch {
	case cond.AnyOf != nil && cond.AllOf != nil:
		c.ps.add(field, "has both any_of and all_of; a group is one or the other: nest one inside the other")
		return nil
	case (cond.AnyOf != nil || cond.AllOf != nil) && isTest:
		c.ps.add(field, "is both a test (attribute, operator, value) and a group (any_of or all_of); split it into two conditions")
		return nil
	case cond.AnyOf != nil || cond.AllOf != nil:
		name, members, any := "any_of", cond.AnyOf, true
		if cond.AllOf != nil {
			name, members, any = "all_of", cond.AllOf, false
		}
		sub := field + "." + name
		if len(members) == 0 {
			c.ps.add(sub, "is empty; a group needs at least one condition")
			return nil
		}
		if depth+1 > MaxGroupDepth {
			c.ps.add(sub, "nests groups %d deep; at most %d levels are allowed", depth+1, MaxGroupDepth)
			return nil
		}
		g := c.group(sub, members, any, depth+1)
		g.field = field
		return g
	}
	l := c.test(field, cond)
	if l == nil {
		return nil
	}
	return &node{field: field, leaf: l, costly: l.attr.resolved()}
}

// test checks and compiles one {attribute, operator, value}.
func (c *compiler) test(field string, cond *Condition) *leaf {
	s := c.schema
	before := len(*c.ps)
	var attr *attribute
	if cond.Attribute == "" {
		c.ps.add(field+".attribute", "required: name the attribute to test, such as action, extra.<path> or subject.<field>")
	} else {
		var msg string
		if attr, msg = s.lookupAttr(cond.Attribute); attr == nil {
			c.ps.add(field+".attribute", "%s", msg)
		}
	}
	op := cond.Operator
	switch {
	case op == "":
		c.ps.add(field+".operator", "required; expected one of %s", joinOperators(operatorOrder[:]))
		return nil
	case !op.known():
		names := make([]string, len(operatorOrder))
		for i, o := range operatorOrder {
			names[i] = string(o)
		}
		c.ps.add(field+".operator", "unknown operator %q%s; expected one of %s", op, didYouMean(string(op), names), joinOperators(operatorOrder[:]))
		return nil
	}
	vfield := field + ".value"
	if !op.takesValue() && cond.Value != nil {
		c.ps.add(vfield, "%s takes no value; remove it (got %s)", op, describe(cond.Value))
	}
	if op.takesValue() && cond.Value == nil && attr == nil {
		c.ps.add(vfield, "required: %s compares the attribute with a value", op)
	}
	if attr == nil {
		return nil
	}
	if !op.appliesTo(attr.typ) {
		c.ps.add(field+".operator", "%s does not apply to %s, which is %s; expected one of %s", op, attr.name, attr.typ.article(), joinOperators(OperatorsFor(attr.typ)))
		return nil
	}
	l := &leaf{attr: attr, op: op}
	if op.takesValue() {
		if cond.Value == nil {
			c.ps.add(vfield, "required: %s compares %s with %s", op, attr.name, operandHint(op, attr.typ))
			return nil
		}
		c.operand(vfield, l, cond.Value)
	}
	if len(*c.ps) > before {
		return nil
	}
	return l
}

// operandHint says what value op needs for an attribute of type t.
func operandHint(op Operator, t Type) string {
	switch op {
	case OpIn, OpNotIn:
		return fmt.Sprintf("a list of 1 to %d values, each %s", MaxListLength, kindHint(t.Kind()))
	case OpStartsWith, OpContains:
		if !t.IsList() {
			return "a string"
		}
	case OpMatches:
		return fmt.Sprintf("an RE2 regular expression of at most %d bytes", MaxPatternLength)
	case OpOlderThan, OpNewerThan:
		return `a duration such as "365d", "8760h" or "2w"`
	}
	return kindHint(t.Kind())
}

func kindHint(k Type) string {
	switch k {
	case Time:
		return `an RFC 3339 time ("2022-01-01T00:00:00Z") or a date ("2022-01-01")`
	case Bool:
		return "true or false"
	}
	return k.article()
}

// operand checks and compiles a test's value into l.
func (c *compiler) operand(field string, l *leaf, raw any) {
	attr, op := l.attr, l.op
	mismatch := func(f string, got any) {
		c.ps.add(f, "%s is %s, so %s needs %s; got %s", attr.name, attr.typ.article(), op, operandHint(op, attr.typ), describe(got))
	}
	scalar := func(f string, raw any, k Type) (value, bool) {
		v := convert(raw, k)
		if !v.present || v.bad != "" {
			mismatch(f, raw)
			return v, false
		}
		if k == String && len(v.s) > MaxStringLength {
			c.ps.add(f, "is %d bytes; at most %d are allowed", len(v.s), MaxStringLength)
			return v, false
		}
		return v, true
	}
	switch op {
	case OpEq, OpNe, OpLt, OpLte, OpGt, OpGte, OpChangedFrom, OpChangedTo:
		if v, ok := scalar(field, raw, attr.typ.Kind()); ok {
			l.operand = v
			c.checkAction(field, attr, v)
		}
	case OpContains:
		if attr.typ.IsList() {
			l.operand, _ = scalar(field, raw, attr.typ.Kind())
		} else {
			l.operand, _ = scalar(field, raw, String)
		}
	case OpStartsWith:
		l.operand, _ = scalar(field, raw, String)
	case OpIn, OpNotIn:
		elems, ok := asList(deref(raw))
		if !ok {
			mismatch(field, raw)
			return
		}
		if len(elems) == 0 || len(elems) > MaxListLength {
			c.ps.add(field, "has %d values; %s needs 1 to %d", len(elems), op, MaxListLength)
			return
		}
		k := attr.typ.Kind()
		l.list = make([]value, 0, len(elems))
		for i, e := range elems {
			f := index(field, i)
			v, ok := scalar(f, e, k)
			if !ok {
				continue
			}
			c.checkAction(f, attr, v)
			l.list = append(l.list, v)
		}
		if k == String {
			l.set = make(map[string]struct{}, len(l.list))
			for _, v := range l.list {
				l.set[v.s] = struct{}{}
			}
		} else {
			l.nset = make(map[float64]struct{}, len(l.list))
			for _, v := range l.list {
				l.nset[v.n] = struct{}{}
			}
		}
	case OpMatches:
		pattern, ok := deref(raw).(string)
		if !ok {
			mismatch(field, raw)
			return
		}
		if len(pattern) > MaxPatternLength {
			c.ps.add(field, "the pattern is %d bytes; at most %d are allowed", len(pattern), MaxPatternLength)
			return
		}
		re, err := compilePattern(pattern)
		if err != nil {
			c.ps.add(field, "%s is not a valid RE2 regular expression: %s", quote(pattern), strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			return
		}
		l.re = re
		l.operand = value{present: true, typ: String, s: pattern}
	case OpOlderThan, OpNewerThan:
		text, ok := deref(raw).(string)
		if !ok {
			mismatch(field, raw)
			return
		}
		d, err := ParseDuration(text)
		if err != nil {
			c.ps.add(field, "%v", err)
			return
		}
		l.dur, l.durText = d, text
	}
}

// checkAction refuses a value for the action attribute that the domain does
// not support: such a condition could never hold.
func (c *compiler) checkAction(field string, attr *attribute, v value) {
	if attr.src != srcAction || !v.present {
		return
	}
	d := c.schema.domain
	if d.Supports(v.s) {
		return
	}
	actions := d.Actions()
	slices.Sort(actions)
	c.ps.add(field, "%q is not an action of domain %s%s; expected one of %s", v.s, d.Name(), didYouMean(v.s, actions), strings.Join(actions, ", "))
}

// leaf is a compiled test.
type leaf struct {
	attr    *attribute
	op      Operator
	operand value               // the value compared with, for most operators
	list    []value             // in, not_in
	set     map[string]struct{} // in, not_in on strings
	nset    map[float64]struct{}
	re      *pattern      // matches
	dur     time.Duration // older_than, newer_than
	durText string
}

// node is a compiled condition: a test (leaf) or a group.
type node struct {
	field  string // "conditions[2]", or "conditions" for the root
	leaf   *leaf
	any    bool    // a group holds when any kid does (any_of), else all (all_of)
	kids   []*node // the group's members, those needing no resolver first
	costly bool    // reads a resolver, here or below
}
