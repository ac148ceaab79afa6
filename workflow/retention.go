package workflow

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/prune"
)

// PruneRunLogAllTenants deletes the runs of every tenant that started
// before t with their action runs, except runs still running or failed
// (see Rules.PruneRuns, its one tenant's form), in batches of batch runs
// (0: 5000), each its own statement: no long lock, and a stopped run
// resumes. It returns how many runs it deleted. It is the retention job's
// (package retention), for a process that serves every tenant: it ignores
// the context's tenant, and under row-level security it needs a role
// exempt from it.
func PruneRunLogAllTenants(ctx context.Context, db *gorm.DB, before time.Time, batch int) (int64, error) {
	n, err := prune.Batches(ctx, batch, func(ctx context.Context, limit int) (int64, error) {
		var n int64
		err := db.WithContext(ctx).Raw(`WITH gone AS (
    DELETE FROM workflow_runs WHERE id = ANY (ARRAY(
        SELECT id FROM workflow_runs WHERE started_at < ? AND status IN ('no_match', 'done', 'stopped') LIMIT ?))
    RETURNING domain, event_id, rule_id
), actions AS (
    DELETE FROM workflow_action_runs a USING gone g
     WHERE a.domain = g.domain AND a.event_id = g.event_id AND a.rule_id = g.rule_id
    RETURNING 1
)
SELECT count(*) FROM gone`, before, limit).Scan(&n).Error
		return n, err
	})
	if err != nil {
		return n, fmt.Errorf("workflow: prune run log: %w", err)
	}
	return n, nil
}
