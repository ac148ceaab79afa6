package activity

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// query runs one of the domain's prebuilt statements (with $n placeholders)
// on the connection db stands for: the pool, or the caller's transaction
// when db is one. It goes to gorm's ConnPool directly rather than through
// Raw, which would rebuild the statement text on every call; recording is
// the hot path and its SQL is fixed at declaration. (gorm callbacks and
// loggers do not see these statements.)
func query(ctx context.Context, db *gorm.DB, stmt string, args []any) (*sql.Rows, error) {
	if db.Error != nil {
		return nil, db.Error
	}
	pool := db.Statement.ConnPool
	if pool == nil {
		return nil, fmt.Errorf("activity: the *gorm.DB has no connection pool (was it opened with gorm.Open?)")
	}
	return pool.QueryContext(ctx, stmt, args...)
}

// numbered rewrites the ? placeholders of a statement built here (which
// holds no other question marks) as $1, $2, ...
func numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
