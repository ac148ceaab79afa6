package inbox

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/prune"
)

// PruneDeliveriesAllTenants deletes the deliveries-ledger rows of every
// tenant created before t, except claims in flight, in batches of batch
// rows (0: 5000), each its own statement: no long lock, and a stopped run
// resumes. It is Ledger.PruneAllTenants for large tables; keep ledger rows
// longer than dead letters (see Ledger.PruneAllTenants). It is the
// retention job's (package retention): it ignores the context's tenant,
// and under row-level security it needs a role exempt from it.
func PruneDeliveriesAllTenants(ctx context.Context, db *gorm.DB, before time.Time, batch int) (int64, error) {
	if db == nil {
		return 0, errNilDB
	}
	return prune.Rows(ctx, db, batch, "inbox_deliveries", "created_at < ? AND status <> 'sending'", before)
}

// PruneDeadLetters deletes the dead letters that failed before t, re-driven
// or not, in batches. Dead letters are an operator's table (see package
// migrations, Row-level security): no tenant owns one.
func PruneDeadLetters(ctx context.Context, db *gorm.DB, before time.Time, batch int) (int64, error) {
	if db == nil {
		return 0, errNilDB
	}
	return prune.Rows(ctx, db, batch, "inbox_dead_letters", "failed_at < ?", before)
}
