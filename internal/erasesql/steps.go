package erasesql

import (
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// Step is one statement of an eraser, which erases in Table.
type Step struct {
	Table string
	SQL   string
	Args  []any
}

// Run runs steps on db in order and counts the rows each changed; the
// first error stops it, named by pkg (the eraser's package), p and the
// step's table.
func Run(db *gorm.DB, pkg string, p activity.Person, steps []Step) (activity.Erased, error) {
	out := activity.Erased{}
	for _, s := range steps {
		res := db.Exec(s.SQL, s.Args...)
		if res.Error != nil {
			return out, fmt.Errorf("%s: erase %s from %s: %w", pkg, p.Ref(), s.Table, res.Error)
		}
		out.Add(s.Table, res.RowsAffected)
	}
	return out, nil
}
