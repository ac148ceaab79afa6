package workflow

import "encoding/json"

// Condition is one entry of a rule's conditions. It is either a test,
//
//	{"attribute": "subject.created_at", "operator": "lt", "value": "2022-01-01"}
//
// or a group: {"any_of": [...]} holds when at least one of its conditions
// holds, {"all_of": [...]} when all of them do (useful inside any_of). A
// Condition has the JSON shape rules are stored in (jsonb).
//
// Value is what the operator compares against: a string, a number, a bool,
// a time (RFC 3339 string, "2006-01-02" date, or time.Time), a list for in
// and not_in, a duration string ("365d", "8760h") for older_than and
// newer_than, an RE2 pattern for matches, and nothing for exists and
// not_exists. Go callers may use any integer or float type and typed slices
// ([]string); they are checked as their JSON form would be.
type Condition struct {
	Attribute string      `json:"attribute,omitempty"`
	Operator  Operator    `json:"operator,omitempty"`
	Value     any         `json:"value,omitempty"`
	AnyOf     []Condition `json:"any_of,omitempty"`
	AllOf     []Condition `json:"all_of,omitempty"`
}

// Conditions is a rule's list of conditions, which must all hold. An empty
// list holds for every event.
type Conditions []Condition

// MarshalJSON encodes nil Conditions as [] rather than null, so a stored
// rule always has a list.
func (cs Conditions) MarshalJSON() ([]byte, error) {
	if cs == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]Condition(cs))
}

// Limits on a rule's conditions, checked when the rule is validated.
const (
	// MaxConditions caps the number of conditions in a rule, counting each
	// test and each group, at every depth.
	MaxConditions = 64
	// MaxGroupDepth caps the nesting of any_of and all_of groups.
	MaxGroupDepth = 4
	// MaxPatternLength caps a matches pattern, in bytes.
	MaxPatternLength = 256
	// MaxListLength caps the values of in and not_in.
	MaxListLength = 256
	// MaxStringLength caps a string value, in bytes.
	MaxStringLength = 1024
)

// Cond is shorthand for a test condition.
func Cond(attribute string, op Operator, value any) Condition {
	return Condition{Attribute: attribute, Operator: op, Value: value}
}

// AnyOf is shorthand for a group that holds when any of its conditions does.
func AnyOf(conds ...Condition) Condition { return Condition{AnyOf: conds} }

// AllOf is shorthand for a group that holds when all of its conditions do.
func AllOf(conds ...Condition) Condition { return Condition{AllOf: conds} }
