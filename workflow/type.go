package workflow

import (
	"fmt"
	"strings"
)

// Type is the declared type of an attribute or an action parameter. Every
// comparison is typed: a condition's operator and value are checked against
// its attribute's Type when the rule is saved, so a rule never discovers a
// type mismatch while it runs.
//
// The four kinds are String, Number (compared as float64), Time (compared as
// instants) and Bool. ListOf(kind) is a list of that kind (its operator is
// contains); ChangeOf(kind) is an extra path that records a change as
// {"from": old, "to": new} (its operators are changed_from and changed_to).
type Type uint8

// The kinds. A zero Type is invalid.
const (
	String Type = 1 + iota // a JSON string, compared byte-wise
	Number                 // a JSON number or any Go integer or float, compared as float64
	Time                   // an RFC 3339 string ("2022-01-01T00:00:00Z"), a date ("2022-01-01", UTC midnight) or a time.Time
	Bool                   // a JSON boolean
)

const (
	kindMask   Type = 0x0f
	listFlag   Type = 0x10
	changeFlag Type = 0x20
)

// ListOf returns the type of a list whose elements are of kind k, such as
// ListOf(String) for an issue's labels.
func ListOf(k Type) Type { return k | listFlag }

// ChangeOf returns the type of an extra path recording a change of a value
// of kind k as {"from": old, "to": new}. See the package documentation for
// the convention.
func ChangeOf(k Type) Type { return k | changeFlag }

// Kind returns the type's kind: for ListOf(String) and ChangeOf(String) it
// is String.
func (t Type) Kind() Type { return t & kindMask }

// IsList reports whether t is a ListOf type.
func (t Type) IsList() bool { return t&listFlag != 0 }

// IsChange reports whether t is a ChangeOf type.
func (t Type) IsChange() bool { return t&changeFlag != 0 }

// valid reports whether t is one of the four kinds, a list of one, or a
// change of one.
func (t Type) valid() bool {
	k := t.Kind()
	if k < String || k > Bool {
		return false
	}
	return t&^(kindMask|listFlag|changeFlag) == 0 && !(t.IsList() && t.IsChange())
}

var kindNames = [...]string{String: "string", Number: "number", Time: "time", Bool: "bool"}

// String returns the type's name: "string", "number", "time", "bool",
// "list of string", "change of string".
func (t Type) String() string {
	if !t.valid() {
		return fmt.Sprintf("invalid type %d", uint8(t))
	}
	name := kindNames[t.Kind()]
	switch {
	case t.IsList():
		return "list of " + name
	case t.IsChange():
		return "change of " + name
	}
	return name
}

// article returns the type's name with an indefinite article, for messages:
// "a time", "an ...", "a list of string".
func (t Type) article() string {
	return "a " + t.String()
}

// MarshalText encodes the type as its name, so schemas can be shown to a
// rule editor as JSON.
func (t Type) MarshalText() ([]byte, error) {
	if !t.valid() {
		return nil, fmt.Errorf("workflow: cannot encode invalid type %d", uint8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText decodes a type name as written by MarshalText.
func (t *Type) UnmarshalText(b []byte) error {
	s := string(b)
	var flag Type
	if rest, ok := strings.CutPrefix(s, "list of "); ok {
		flag, s = listFlag, rest
	} else if rest, ok := strings.CutPrefix(s, "change of "); ok {
		flag, s = changeFlag, rest
	}
	for k, name := range kindNames {
		if name != "" && name == s {
			*t = Type(k) | flag
			return nil
		}
	}
	return fmt.Errorf("workflow: unknown type %q; expected string, number, time, bool, \"list of <kind>\" or \"change of <kind>\"", string(b))
}
