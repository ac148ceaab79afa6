// Package prune deletes old rows in small batches: each batch is one
// statement that commits on its own, so no lock is held long, the table's
// other writers are never stalled, and a stopped run resumes where it
// stopped (the condition selects what is left). Table owners (inbox,
// inbox/notify, inbox/email, workflow) use it for their retention.
package prune

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// DefaultBatch is the batch size used when 0 is given.
const DefaultBatch = 5000

// Batches runs delete with the batch size until a batch removes fewer
// rows, and returns the rows removed. delete runs one statement and
// returns how many rows it removed.
func Batches(ctx context.Context, batch int, delete func(ctx context.Context, limit int) (int64, error)) (int64, error) {
	if batch <= 0 {
		batch = DefaultBatch
	}
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := delete(ctx, batch)
		total += n
		if err != nil {
			return total, err
		}
		if n < int64(batch) {
			return total, nil
		}
	}
}

// Rows deletes table's rows matching where (with args) in batches. table
// and where are the caller's constants, never user input.
func Rows(ctx context.Context, db *gorm.DB, batch int, table, where string, args ...any) (int64, error) {
	stmt := `DELETE FROM ` + table + ` WHERE ctid = ANY (ARRAY(SELECT ctid FROM ` + table + ` WHERE ` + where + ` LIMIT ?))`
	n, err := Batches(ctx, batch, func(ctx context.Context, limit int) (int64, error) {
		res := db.WithContext(ctx).Exec(stmt, append(append([]any{}, args...), limit)...)
		return res.RowsAffected, res.Error
	})
	if err != nil {
		return n, fmt.Errorf("prune %s: %w", table, err)
	}
	return n, nil
}
