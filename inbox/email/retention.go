package email

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/prune"
)

// PruneAllTenants deletes every email inbox's finished digests (sent,
// dropped or failed, with their items) and escalations of every tenant
// last updated before t, in batches of batch rows (0: 5000), each its own
// statement. It is Inbox.PruneAllTenants across inboxes, for a retention
// job that holds no Inbox (package retention): it ignores the context's
// tenant, and under row-level security it needs a role exempt from it.
func PruneAllTenants(ctx context.Context, db *gorm.DB, before time.Time, batch int) (int64, error) {
	var total int64
	for _, table := range []string{"email_digests", "email_escalations"} {
		n, err := prune.Rows(ctx, db, batch, table, "status IN ('sent', 'dropped', 'failed') AND updated_at < ?", before)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
