package workflow

import "strings"

// Operator is a condition's test, written in rules by its name ("lt").
type Operator string

// The operators. Which apply to an attribute depends on its Type; see
// OperatorsFor.
const (
	OpEq          Operator = "eq"           // equal (strings byte-wise, numbers, times as instants, bools)
	OpNe          Operator = "ne"           // not equal
	OpLt          Operator = "lt"           // less than: strings byte-wise, numbers, times (earlier)
	OpLte         Operator = "lte"          // less than or equal
	OpGt          Operator = "gt"           // greater than
	OpGte         Operator = "gte"          // greater than or equal
	OpIn          Operator = "in"           // one of a non-empty list of values (strings, numbers)
	OpNotIn       Operator = "not_in"       // none of a non-empty list of values
	OpContains    Operator = "contains"     // a string contains a substring; a list contains an element
	OpStartsWith  Operator = "starts_with"  // a string starts with a prefix
	OpMatches     Operator = "matches"      // a string matches an RE2 pattern of at most MaxPatternLength bytes
	OpExists      Operator = "exists"       // the attribute has a value (takes no value)
	OpNotExists   Operator = "not_exists"   // the attribute has no value (takes no value)
	OpOlderThan   Operator = "older_than"   // a time is more than a duration before the event occurred ("365d")
	OpNewerThan   Operator = "newer_than"   // a time is less than a duration before the event occurred
	OpChangedFrom Operator = "changed_from" // a change's from is the value and its to is not
	OpChangedTo   Operator = "changed_to"   // a change's to is the value and its from is not
)

// operatorOrder lists every operator in the order messages show them.
var operatorOrder = [...]Operator{
	OpEq, OpNe, OpLt, OpLte, OpGt, OpGte, OpIn, OpNotIn, OpContains, OpStartsWith,
	OpMatches, OpExists, OpNotExists, OpOlderThan, OpNewerThan, OpChangedFrom, OpChangedTo,
}

// Operators returns every operator, in a stable order.
func Operators() []Operator { return append([]Operator(nil), operatorOrder[:]...) }

// known reports whether op is one of the operators.
func (op Operator) known() bool {
	for _, o := range operatorOrder {
		if o == op {
			return true
		}
	}
	return false
}

// takesValue reports whether the operator needs a value (all but exists and
// not_exists).
func (op Operator) takesValue() bool { return op != OpExists && op != OpNotExists }

// appliesTo reports whether op can test an attribute of type t.
func (op Operator) appliesTo(t Type) bool {
	switch op {
	case OpExists, OpNotExists:
		return true
	}
	switch {
	case t.IsList():
		return op == OpContains
	case t.IsChange():
		return op == OpChangedFrom || op == OpChangedTo
	}
	switch op {
	case OpEq, OpNe:
		return true
	case OpLt, OpLte, OpGt, OpGte:
		return t != Bool
	case OpIn, OpNotIn:
		return t == String || t == Number
	case OpContains, OpStartsWith, OpMatches:
		return t == String
	case OpOlderThan, OpNewerThan:
		return t == Time
	}
	return false
}

// OperatorsFor returns the operators that apply to an attribute of type t,
// in a stable order: what a rule editor offers for it.
func OperatorsFor(t Type) []Operator {
	var ops []Operator
	for _, op := range operatorOrder {
		if op.appliesTo(t) {
			ops = append(ops, op)
		}
	}
	return ops
}

func joinOperators(ops []Operator) string {
	var b strings.Builder
	for i, op := range ops {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(op))
	}
	return b.String()
}
