package workflow

import (
	"fmt"
	"strconv"

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
