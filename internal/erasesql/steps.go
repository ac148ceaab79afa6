package erasesql

import (
	"context"
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

// Run erases p with steps: it refuses a nil db (activity.ErrNilDB) and
// an invalid p (p.Validate) before any statement, then runs steps on db
// (the pool or the caller's transaction, joined) in order and counts the
// rows each changed; the first error stops it, named by pkg (the eraser's
// package), p and the step's table.
func Run(ctx context.Context, db *gorm.DB, pkg string, p activity.Person, steps []Step) (activity.Erased, error) {
	if db == nil {
		return nil, fmt.Errorf("%s: erase: %w", pkg, activity.ErrNilDB)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	db = db.Session(&gorm.Session{NewDB: true, Context: ctx})
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
