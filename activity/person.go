package activity

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Person names one person whose data is erased or exported (package
// privacy composes the calls): the reference an app uses for them as an
// actor or a record (Type "users", ID "3"), which is also their recipient
// key in inbox tables (notifications, preferences, digests), and the
// personal strings the app knows of them (name, email addresses, Slack user
// ID), to be found in copies and free text (error messages, run logs,
// snapshots).
type Person struct {
	Type string
	ID   string
	// Values are personal strings of the person, each at least
	// MinPersonValue characters. Erase adds what it finds in the person's
	// own events (labels, IP addresses, user agents, personal paths).
	Values []string
}

// MinPersonValue is the shortest personal string matched in free text:
// shorter ones ("Al") would mask unrelated words.
const MinPersonValue = 3

// Ref returns the person's reference (no label).
func (p Person) Ref() Ref { return Ref{Type: p.Type, ID: p.ID} }

// ErasedLabel replaces an erased person's labels in events and their
// copies, so feeds still render ("erased person added a comment").
const ErasedLabel = "erased person"

// Validate checks p: a reference with type and id, values that PostgreSQL
// text can hold and are long enough to match safely. Errors wrap
// ErrInvalidRef (*RefError) or ErrInvalidPerson.
func (p Person) Validate() error {
	if err := p.Ref().validate("person"); err != nil {
		return err
	}
	for i, v := range p.Values {
		if prob := textProblem(v); prob != "" {
			return &PersonError{Field: fmt.Sprintf("Values[%d]", i), Reason: prob}
		}
		if len([]rune(strings.TrimSpace(v))) < MinPersonValue {
			return &PersonError{Field: fmt.Sprintf("Values[%d]", i), Reason: fmt.Sprintf("%q is shorter than %d characters: it would mask unrelated text; leave it out", v, MinPersonValue)}
		}
	}
	return nil
}

// WithValues returns p with more values: those of at least MinPersonValue
// characters, without duplicates (ignoring case), in order.
func (p Person) WithValues(vals ...string) Person {
	out := slices.Clone(p.Values)
	seen := make(map[string]bool, len(out)+len(vals))
	for _, v := range out {
		seen[strings.ToLower(v)] = true
	}
	for _, v := range vals {
		v = strings.TrimSpace(v)
		if len([]rune(v)) < MinPersonValue || textProblem(v) != "" || seen[strings.ToLower(v)] {
			continue
		}
		seen[strings.ToLower(v)] = true
		out = append(out, v)
	}
	p.Values = out
	return p
}

// PersonError reports a Person that cannot be erased or exported.
// errors.Is(err, ErrInvalidPerson) holds for it.
type PersonError struct {
	Field  string
	Reason string
}

func (e *PersonError) Error() string { return "activity: person " + e.Field + " " + e.Reason }

func (e *PersonError) Is(target error) bool { return target == ErrInvalidPerson }

// Erased counts, per table, the rows an erasure masked or removed.
type Erased map[string]int64

// Add adds n rows of table (a zero n is kept, to show the table was
// looked at).
func (e Erased) Add(table string, n int64) { e[table] += n }

// Merge adds every count of o.
func (e Erased) Merge(o Erased) {
	for t, n := range o {
		e[t] += n
	}
}

// Patterns returns p.Values as lower-case LIKE patterns ('%ana lima%'),
// each also in its JSON-escaped form when that differs (to look into jsonb
// rendered as text), for a cheap first filter in SQL:
// lower(col) LIKE ANY(patterns). Matching rows are then masked by the
// library's functions (tidings_mask_text, tidings_mask_jsonb).
func (p Person) Patterns() []string {
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	var out []string
	for _, v := range p.Values {
		v = strings.ToLower(v)
		out = append(out, "%"+esc.Replace(v)+"%")
		if j, err := json.Marshal(v); err == nil {
			if s := string(j[1 : len(j)-1]); s != v {
				out = append(out, "%"+esc.Replace(s)+"%")
			}
		}
	}
	return out
}

// LowerValues returns p.Values in lower case, for exact matches of whole
// values (an address in a suppression list): lower(col) = ANY(...).
func (p Person) LowerValues() []string {
	out := make([]string, len(p.Values))
	for i, v := range p.Values {
		out[i] = strings.ToLower(v)
	}
	return out
}
