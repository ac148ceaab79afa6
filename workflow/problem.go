package workflow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidRule is returned (inside a *ValidationError) for a rule that
// cannot be saved: test with errors.Is, read the problems with errors.As.
var ErrInvalidRule = errors.New("workflow: invalid rule")

// Problem is one thing wrong with a rule, pointing at the field:
// {Field: "conditions[1].operator", Message: `unknown operator "greater"; expected one of eq, ne, ...`}.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Field + ": " + p.Message }

// ValidationError lists every problem found in a rule, not just the first,
// in the order of the rule's fields. errors.Is(err, ErrInvalidRule) holds
// for it.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	switch len(e.Problems) {
	case 0:
		return "workflow: invalid rule"
	case 1:
		return "workflow: invalid rule: " + e.Problems[0].String()
	}
	var b strings.Builder
	b.WriteString("workflow: invalid rule: ")
	b.WriteString(strconv.Itoa(len(e.Problems)))
	b.WriteString(" problems:")
	for _, p := range e.Problems {
		b.WriteString("\n")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidRule) hold.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidRule }

// problems collects problems while a rule is checked.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err returns the collected problems as a *ValidationError, or nil.
func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// index formats a list field: index("conditions", 2) is "conditions[2]".
func index(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }
