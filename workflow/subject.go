package workflow

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidingsdev/tidings/activity"
)

// subjectValue turns a subject key as events store it ("42") into what
// RecordEvent and feeds take for the domain's key type, checking it.
func subjectValue(d *activity.Domain, id string) (any, error) {
	var v any = id
	if d.Subject().KeyType == activity.KeyBigint {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a key of %s, whose keys are integers", id, d.Subject().Table)
		}
		v = n
	}
	if _, err := d.SubjectKey(v); err != nil {
		return nil, err
	}
	return v, nil
}

// subjectExists reports whether the subject with key v is a row of d's
// subject table (a rule scoped to it would otherwise never run). The table
// and key column come from the domain's declaration in code, quoted.
func (s *Rules) subjectExists(ctx context.Context, d *activity.Domain, v any) (bool, error) {
	sub := d.Subject()
	key := sub.Key
	if key == "" {
		key = "id"
	}
	var ok bool
	err := s.db.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM `+quoteIdent(sub.Table)+` WHERE `+quoteIdent(key)+` = ?)`, v).Scan(&ok).Error
	if err != nil {
		return false, fmt.Errorf("workflow: look up subject %v of %s: %w", v, d.Name(), err)
	}
	return ok, nil
}

// quoteIdent quotes a (possibly schema-qualified) identifier.
func quoteIdent(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
	}
	return strings.Join(parts, ".")
}
