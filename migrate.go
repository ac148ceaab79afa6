package tidings

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/migrations"
)

// Migrate makes db ready for the domains, for apps that do not run goose
// migrations of their own: it applies the library's migrations (package
// migrations), then creates each domain's events table (its indexes, its
// throttle function and, for a partitioned domain, the partitions due now:
// activity.MigrationSQL) where it does not exist yet. It is idempotent and
// safe when several processes start at once: each step runs under an
// advisory lock, and a table that exists is left as it is (an events table
// of an older version needs activity.UpgradeSQL; cmd/tidings-migration
// writes it). Apps with goose migrations of their own write the table's
// migration with cmd/tidings-migration instead.
func Migrate(ctx context.Context, db *gorm.DB, domains ...*activity.Domain) error {
	if db == nil {
		return activity.ErrNilDB
	}
	sqlDB, err := db.DB()
	if err != nil {
		return fmt.Errorf("tidings: migrate: %w", err)
	}
	if err := migrations.Up(ctx, sqlDB); err != nil {
		return err
	}
	for i, d := range domains {
		if d == nil {
			return fmt.Errorf("tidings: migrate: domains[%d] is nil", i)
		}
		if err := ensureTable(ctx, db, d); err != nil {
			return err
		}
	}
	return nil
}

// ensureTable creates d's events table unless it exists, in one
// transaction holding an advisory lock on the table's name.
func ensureTable(ctx context.Context, db *gorm.DB, d *activity.Domain) error {
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtextextended('tidings: events table ' || ?, 0))", d.Table()).Error; err != nil {
			return err
		}
		var exists bool
		if err := tx.Raw("SELECT to_regclass(?) IS NOT NULL", d.Table()).Scan(&exists).Error; err != nil {
			return err
		}
		if exists {
			return nil
		}
		up, _ := activity.MigrationSQL(d)
		return tx.Exec(up).Error
	})
	if err != nil {
		return fmt.Errorf("tidings: create the events table of domain %s: %w", d.Name(), err)
	}
	return nil
}
