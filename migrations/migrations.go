// Package migrations holds the library's SQL migrations, embedded in the
// binary, and applies them (and an app's own) with pressly/goose v3.
//
// Apply the library's migrations before a domain's events table:
//
//	sqlDB, _ := gormDB.DB()
//	if err := migrations.Up(ctx, sqlDB); err != nil { ... }
//
// Migrating is safe when several processes start at once: each run holds a
// PostgreSQL session advisory lock (one per version table) while it works,
// and the others wait for it, then find nothing left to do.
//
// The library keeps its own version table, tidings_migrations, so it never
// collides with the app's goose_db_version. An app's own migrations (its
// tables and the events tables rendered by activity.MigrationSQL or
// cmd/tidings-migration) run through New with the app's embed.FS.
//
// # Row-level security
//
// The library's tables that hold tenants' rows (every one with a tenant_id
// column, listed by TenantTables) can be put under PostgreSQL row-level
// security keyed on the tidings.tenant session setting, the one
// activity.SetTenant sets and activity.DomainConfig.RowLevelSecurity keys
// a domain's events table on. It is optional and not one of the numbered
// migrations: an app that wants it writes RowLevelSecuritySQL into a
// migration of its own, after the library's (cmd/tidings-migration
// -library-rls writes it as a goose file). Untenanted apps, and tenanted
// apps content with the library's own filters, need none of it.
//
// The policies mirror the library's own tenant filters
// (inbox.TenantCondition): a session whose tidings.tenant names tenant T
// sees, changes and inserts only rows whose tenant_id is T; a session
// without the setting only untenanted rows (tenant_id NULL, or empty where
// the column is part of a key). Security is forced, so the tables' owner
// is held to it too; only superusers and BYPASSRLS roles are not.
//
// Child tables without a tenant_id of their own (email_digest_items, the
// items of a digest) follow their parent row: a session sees a child row
// when it sees its parent.
//
// The operator's tables, OperatorTables (the erasure log tidings_erasures,
// the dead letters inbox_dead_letters and the deliveries in flight
// inbox_pending), hold every tenant's rows, or rows no tenant owns, that
// only the processes serving every tenant use: they are under row-level
// security with no policy, so a role held to it sees and writes none of
// their rows, whatever tenant it names. The remaining tables hold no
// tenant's data and stay open to the app's role: workflow_versions (a
// counter per domain, bumped by every rule change), projections and
// projection_applied (a projection's position), inbox_backfills and
// inbox_suppressions (addresses no mail may go to, whoever's).
//
// So with it, the app's request handlers connect as a role that is
// neither, and run each request's transaction with activity.SetTenant
// (a statement outside it sees untenanted rows only); the processes that
// serve every tenant (the inbox relay and worker, the sweepers, retention,
// privacy erasure, which writes the erasure log, and exports across
// tenants, migrations) connect as a role with BYPASSRLS, or as the tables'
// superuser owner. An erasure still reaches one tenant's rows only (the
// library's filters), unless the app's person ids are global
// (privacy.Config.PersonsAcrossTenants).
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/crc64"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// FS is the library's migrations, for users who drive goose themselves.
var FS fs.FS = files

// VersionTable is the library's goose version table.
const VersionTable = "tidings_migrations"

// Migrator applies one set of migrations with its own version table.
type Migrator struct {
	p *goose.Provider
}

// New returns a Migrator for the goose SQL files at the top of fsys,
// recording versions in table. The lock that serialises concurrent runs is
// derived from table, so the library's and an app's migrations do not wait
// on each other.
func New(db *sql.DB, fsys fs.FS, table string) (*Migrator, error) {
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(crc64.Checksum([]byte("tidings:"+table), crc64.MakeTable(crc64.ECMA))>>1)),
		lock.WithLockTimeout(1, 600), // try each second, up to 10 minutes
	)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithTableName(table),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return nil, fmt.Errorf("migrations (%s): %w", table, err)
	}
	return &Migrator{p: p}, nil
}

// Library returns the Migrator of the library's own migrations.
func Library(db *sql.DB) (*Migrator, error) { return New(db, files, VersionTable) }

// Up applies every pending migration.
func (m *Migrator) Up(ctx context.Context) error {
	_, err := m.p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrations up: %w", err)
	}
	return nil
}

// DownTo rolls back migrations until version is the newest applied (0
// rolls back everything).
func (m *Migrator) DownTo(ctx context.Context, version int64) error {
	_, err := m.p.DownTo(ctx, version)
	if err != nil {
		return fmt.Errorf("migrations down to %d: %w", version, err)
	}
	return nil
}

// Version returns the newest applied version (0 when none is).
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	return m.p.GetDBVersion(ctx)
}

// Provider exposes the underlying goose provider (status, single steps).
func (m *Migrator) Provider() *goose.Provider { return m.p }

// Up applies the library's pending migrations to db.
func Up(ctx context.Context, db *sql.DB) error {
	m, err := Library(db)
	if err != nil {
		return err
	}
	return m.Up(ctx)
}

// Down rolls back all of the library's migrations.
func Down(ctx context.Context, db *sql.DB) error {
	m, err := Library(db)
	if err != nil {
		return err
	}
	return m.DownTo(ctx, 0)
}
