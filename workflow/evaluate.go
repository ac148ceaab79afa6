package workflow

import (
	"context"
	"errors"
	"strings"
)

// Matcher is a rule's compiled conditions, made by Schema.Compile: every
// attribute bound, every time, duration and pattern parsed once. It is
// immutable and safe for concurrent use.
type Matcher struct {
	schema *Schema
	root   *node
	conds  Conditions
}

// Conditions returns the conditions the matcher was compiled from.
func (m *Matcher) Conditions() Conditions { return m.conds }

// NeedsResolver reports whether some condition reads subject.<field> or
// record.<field>, so evaluating may call a resolver.
func (m *Matcher) NeedsResolver() bool { return m.root.costly }

// Evaluation is the outcome of evaluating a rule's conditions against an event.
type Evaluation struct {
	Matched bool
	m       *Matcher
	f       *Facts
}

// errForeignFacts is returned when a Facts made by one schema is evaluated
// by a matcher compiled by another.
var errForeignFacts = errors.New("workflow: the facts were made by another schema than the matcher's: use the matcher's schema's NewFacts")

// Evaluate decides whether the conditions hold for the event of f. All
// conditions of a list must hold; one of an any_of group must. Evaluation
// stops as soon as the outcome is known, and conditions that need no
// resolver are checked first, so resolvers are called only when a condition
// that reads them is still needed.
//
// A condition about an absent value (a missing extra path, an event without
// a record, a null field, an object the resolver no longer finds) does not
// hold, whatever its operator, except not_exists. Nor does one about a value
// of the wrong type (a resolver returning a number for a time field); the
// explanation says so.
//
// The error is non-nil only when the facts could not be read: a resolver
// failed (a *ResolveError) or the event's extra is not JSON.
func (m *Matcher) Evaluate(ctx context.Context, f *Facts) (Evaluation, error) {
	if f.schema != m.schema {
		return Evaluation{}, errForeignFacts
	}
	ok, err := eval(ctx, f, m.root)
	if err != nil {
		return Evaluation{}, err
	}
	return Evaluation{Matched: ok, m: m, f: f}, nil
}

func eval(ctx context.Context, f *Facts, n *node) (bool, error) {
	if l := n.leaf; l != nil {
		v, err := f.get(ctx, l.attr)
		if err != nil {
			return false, err
		}
		return l.holds(v, f), nil
	}
	for _, k := range n.kids {
		ok, err := eval(ctx, f, k)
		if err != nil {
			return false, err
		}
		if ok == n.any {
			return ok, nil
		}
	}
	return !n.any, nil
}

// holds applies the test to a value read from the facts.
func (l *leaf) holds(v *value, f *Facts) bool {
	switch l.op {
	case OpExists:
		return v.present
	case OpNotExists:
		return !v.present
	}
	if !v.present || v.bad != "" {
		return false
	}
	o := &l.operand
	switch l.op {
	case OpEq:
		return v.equal(o)
	case OpNe:
		return !v.equal(o)
	case OpLt:
		return v.compare(o) < 0
	case OpLte:
		return v.compare(o) <= 0
	case OpGt:
		return v.compare(o) > 0
	case OpGte:
		return v.compare(o) >= 0
	case OpIn:
		return l.in(v)
	case OpNotIn:
		return !l.in(v)
	case OpContains:
		if v.typ.IsList() {
			for i := range v.list {
				if v.list[i].equal(o) {
					return true
				}
			}
			return false
		}
		return strings.Contains(v.s, o.s)
	case OpStartsWith:
		return strings.HasPrefix(v.s, o.s)
	case OpMatches:
		return l.re.MatchString(v.s)
	case OpOlderThan:
		return v.t.Before(f.ev.OccurredAt.Add(-l.dur))
	case OpNewerThan:
		return v.t.After(f.ev.OccurredAt.Add(-l.dur))
	case OpChangedFrom:
		return v.from.present && v.from.equal(o) && !(v.to.present && v.to.equal(o))
	case OpChangedTo:
		return v.to.present && v.to.equal(o) && !(v.from.present && v.from.equal(o))
	}
	return false
}

func (l *leaf) in(v *value) bool {
	if l.set != nil {
		_, ok := l.set[v.s]
		return ok
	}
	_, ok := l.nset[v.n]
	return ok
}

// Explanation says why the conditions held or not, for the run log and dry
// runs, naming conditions by their field:
//
//	conditions[0]: subject.created_at (2023-05-01) is not lt 2022-01-01
//
// When they did not hold, it names the condition that decided (for an
// any_of group, why each member failed); when they held, why each one did.
// It reads the result's Facts, so, like the Facts, it is not safe to call
// while another goroutine evaluates with them.
func (r Evaluation) Explanation() string {
	if r.m == nil {
		return ""
	}
	if len(r.m.root.kids) == 0 {
		return "no conditions: every event matches"
	}
	var b strings.Builder
	explain(&b, r.f, r.m.root)
	return b.String()
}

// explain writes why n held or not and returns whether it held. It
// re-walks the evaluation: every value it reads was read (and kept) by
// Evaluate, so it calls no resolver.
func explain(b *strings.Builder, f *Facts, n *node) bool {
	ctx := context.Background()
	if l := n.leaf; l != nil {
		v, err := f.get(ctx, l.attr)
		if err != nil {
			b.WriteString(n.field + ": " + err.Error())
			return false
		}
		held := l.holds(v, f)
		l.explain(b, n.field, v, held, f)
		return held
	}
	quiet := func(k *node) bool {
		ok, err := eval(ctx, f, k)
		return ok && err == nil
	}
	// The member that decided, in evaluation order.
	for _, k := range n.kids {
		if quiet(k) == n.any {
			return explain(b, f, k)
		}
	}
	// No member decided: all held (all_of), or none did (any_of). Show
	// each, in the rule's order.
	kids := make([]*node, len(n.kids))
	copy(kids, n.kids)
	sortByField(kids)
	if n.any {
		b.WriteString(n.field + ": no condition of any_of holds (")
	}
	for i, k := range kids {
		if i > 0 {
			b.WriteString("; ")
		}
		explain(b, f, k)
	}
	if n.any {
		b.WriteString(")")
	}
	return !n.any
}

// sortByField restores the rule's order of a group's members, which
// evaluation reorders (cheap first). Fields end in [i] with one parent.
func sortByField(kids []*node) {
	pos := func(n *node) int {
		s := n.field
		i := strings.LastIndexByte(s, '[')
		p := 0
		for _, c := range s[i+1 : len(s)-1] {
			p = p*10 + int(c-'0')
		}
		return p
	}
	for i := 1; i < len(kids); i++ {
		for j := i; j > 0 && pos(kids[j]) < pos(kids[j-1]); j-- {
			kids[j], kids[j-1] = kids[j-1], kids[j]
		}
	}
}

// explain writes one test's outcome.
func (l *leaf) explain(b *strings.Builder, field string, v *value, held bool, f *Facts) {
	b.WriteString(field)
	b.WriteString(": ")
	b.WriteString(l.attr.name)
	switch {
	case l.op == OpExists || l.op == OpNotExists:
		if v.present {
			b.WriteString(" (" + v.String() + ") exists")
		} else {
			b.WriteString(" is absent")
		}
		return
	case !v.present:
		b.WriteString(" is absent, so it is not " + string(l.op) + " " + l.operandString(f))
		return
	case v.bad != "":
		b.WriteString(" has " + v.bad + ", so it is not " + string(l.op) + " " + l.operandString(f))
		return
	}
	b.WriteString(" (" + v.String() + ") ")
	var yes, no string
	switch l.op {
	case OpContains:
		yes, no = "contains", "does not contain"
	case OpStartsWith:
		yes, no = "starts with", "does not start with"
	case OpMatches:
		yes, no = "matches", "does not match"
	case OpChangedFrom:
		yes, no = "changed from", "did not change from"
	case OpChangedTo:
		yes, no = "changed to", "did not change to"
	default:
		yes, no = "is "+string(l.op), "is not "+string(l.op)
	}
	if held {
		b.WriteString(yes)
	} else {
		b.WriteString(no)
	}
	b.WriteString(" " + l.operandString(f))
}

// operandString shows what a test compared with.
func (l *leaf) operandString(f *Facts) string {
	switch l.op {
	case OpIn, OpNotIn:
		return value{present: true, typ: ListOf(l.attr.typ.Kind()), list: l.list}.String()
	case OpOlderThan:
		return l.durText + " (before " + formatTime(f.ev.OccurredAt.Add(-l.dur)) + ")"
	case OpNewerThan:
		return l.durText + " (after " + formatTime(f.ev.OccurredAt.Add(-l.dur)) + ")"
	case OpMatches:
		return "/" + l.re.String() + "/"
	}
	return l.operand.String()
}
