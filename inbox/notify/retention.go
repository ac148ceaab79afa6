package notify

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/prune"
)

// PruneAllTenants deletes the notifications of every tenant read before
// readBefore and the unread ones created before unreadBefore (a zero time
// skips either), in batches of batch rows (0: 5000), each its own
// statement: no long lock, and a stopped run resumes. It returns how many
// it deleted. It is the retention job's (package retention), for a process
// that serves every tenant: it ignores the context's tenant, and under
// row-level security it needs a role exempt from it.
func PruneAllTenants(ctx context.Context, db *gorm.DB, readBefore, unreadBefore time.Time, batch int) (int64, error) {
	var total int64
	if !readBefore.IsZero() {
		n, err := prune.Rows(ctx, db, batch, "notifications", "read_at < ?", readBefore)
		total += n
		if err != nil {
			return total, err
		}
	}
	if !unreadBefore.IsZero() {
		n, err := prune.Rows(ctx, db, batch, "notifications", "read_at IS NULL AND created_at < ?", unreadBefore)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
