package activity

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var personalKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// maxPersonalPathKeys caps the depth of a personal path.
const maxPersonalPathKeys = 8

func (d *Domain) declarePersonalPaths(paths []string) error {
	seen := map[string]bool{}
	for i, p := range paths {
		field := fmt.Sprintf("PersonalPaths[%d]", i)
		keys := strings.Split(p, ".")
		if p == "" || len(keys) > maxPersonalPathKeys {
			return &DomainError{Domain: d.name, Field: field, Reason: fmt.Sprintf("%q is not a path: use 1-%d keys joined by dots, like \"email\" or \"author.name\"", p, maxPersonalPathKeys)}
		}
		for _, k := range keys {
			if !personalKeyRE.MatchString(k) {
				return &DomainError{Domain: d.name, Field: field, Reason: fmt.Sprintf("%q has the key %q: keys are 1-64 letters, digits, '_' or '-', joined by dots", p, k)}
			}
		}
		if seen[p] {
			return &DomainError{Domain: d.name, Field: field, Reason: fmt.Sprintf("%q is declared twice", p)}
		}
		seen[p] = true
		d.personal = append(d.personal, keys)
	}
	return nil
}

// PersonalPaths returns the declared personal paths of extra, dotted.
func (d *Domain) PersonalPaths() []string {
	out := make([]string, len(d.personal))
	for i, keys := range d.personal {
		out[i] = strings.Join(keys, ".")
	}
	return out
}

// personalPathsLiteral renders the personal paths as one PostgreSQL text[][]
// literal's elements, for #- (delete path) and #>> (read path). Keys are
// validated ([A-Za-z0-9_-]), so they need no quoting; they are still passed
// as parameters, never spliced into SQL.
func (d *Domain) personalPathArrays() []string {
	out := make([]string, 0, len(d.personal))
	for _, keys := range d.personal {
		out = append(out, "{"+strings.Join(keys, ",")+"}")
	}
	return slices.Clip(out)
}
