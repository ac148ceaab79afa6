package crosstenant_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/redistest"
	"github.com/tidingsdev/tidings/internal/tenantfilter"
	"github.com/tidingsdev/tidings/migrations"
)

const redisDB = 15

var (
	// testDB is the superuser, whom row-level security never holds: the
	// relay, the batch flusher's claims and the workflow engine's rule
	// cache (processes that serve every tenant, which run with BYPASSRLS)
	// use it, and so do the checks (snapshot).
	testDB *gorm.DB
	// appDB is the handle of every call made with a tenant's context:
	// tenant A's attacks, tenant B's own calls, and the inboxes' jobs
	// (their context carries the event's tenant). In the as-app-role run
	// it is the app's role, held to the row-level security policies, each
	// of its statements and transactions run with tidings.tenant set to
	// the tenant of its context (see tenantPool); in the as-superuser run
	// it is testDB, and the library's filters alone keep the tenants apart.
	appDB    *gorm.DB
	redisOpt asynq.RedisClientOpt

	// tickets is the tenanted domain: organisations 1 (A) and 2 (B) both
	// have issues 1 and 2 (the subject table is shared, so the ids are
	// the same), and the same people (users:7 and users:8) act in both.
	tickets = activity.MustDomain(activity.DomainConfig{
		Name:             "ticket",
		Subject:          activity.Subject{Table: "issues"},
		Tenant:           activity.KeyBigint,
		RowLevelSecurity: true,
		Actions:          []string{"opened", "commented", "commented_retracted"},
	})
)

// TestCrossTenant runs the suite twice, each time on a new database with
// row-level security on (the events table's and
// migrations.RowLevelSecuritySQL): as the superuser, whom the policies do
// not hold, so the library's filters alone must keep A out of B's rows
// (any one filter removed fails it); then as the app's role, held to the
// policies. In the tidings_rlsonly build the filters are compiled out
// (internal/tenantfilter): the first run is skipped, and the second
// proves the policies alone hold.
func TestCrossTenant(t *testing.T) {
	for _, run := range []struct {
		name string
		held bool // appDB is the app's role, held to the policies
	}{{"as-superuser", false}, {"as-app-role", true}} {
		t.Run(run.name, func(t *testing.T) {
			if !run.held && !tenantfilter.On {
				t.Skip("the library's tenant filters are compiled out (tidings_rlsonly): only the policies can hold")
			}
			setup(t, run.held)
			crossTenant(t, run.held)
		})
	}
	// Every exported call that runs SQL on a tenant table has a case
	// above, or serves every tenant on purpose and says so by name.
	if !t.Failed() {
		t.Run("every-call-has-a-case", checkEveryCallCovered)
	}
}

// setup makes the database, flushes Redis, and opens testDB and appDB.
func setup(t *testing.T, held bool) {
	ctx := context.Background()
	up, _ := activity.MigrationSQL(tickets)
	rls, _ := migrations.RowLevelSecuritySQL()
	role := pgtest.Name("tidings_crosstenant_app")
	db, err := pgtest.Create(ctx, "tidings_test_crosstenant",
		`CREATE TABLE issues (id bigserial PRIMARY KEY); INSERT INTO issues DEFAULT VALUES; INSERT INTO issues DEFAULT VALUES`, up, rls,
		`DO $$ BEGIN CREATE ROLE `+role+` LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON SCHEMA public TO `+role+`;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO `+role+`;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO `+role)
	if err != nil {
		t.Fatal("cross-tenant tests need PostgreSQL:", err)
	}
	closeOnCleanup(t, db)
	testDB, appDB = db, db
	if held {
		if appDB, err = openApp(role); err != nil {
			t.Fatal("open the app's role:", err)
		}
		closeOnCleanup(t, appDB)
	}
	if _, err := redistest.Flush(ctx, redisDB); err != nil {
		t.Fatal("cross-tenant tests need Redis:", err)
	}
	redisOpt = asynq.RedisClientOpt{Addr: redistest.Addr(), DB: redisDB}
}

func closeOnCleanup(t *testing.T, db *gorm.DB) {
	t.Cleanup(func() {
		switch p := db.ConnPool.(type) {
		case *sql.DB:
			p.Close()
		case tenantPool:
			p.db.Close()
		}
	})
}

// openApp opens the test database as role, through a tenantPool.
func openApp(role string) (*gorm.DB, error) {
	cfg, err := pgx.ParseConfig(pgtest.DSN("tidings_test_crosstenant"))
	if err != nil {
		return nil, err
	}
	cfg.User = role
	sqlDB := stdlib.OpenDB(*cfg)
	var super bool
	if err := sqlDB.QueryRow(`SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil || super {
		return nil, fmt.Errorf("role %s: exempt from row-level security = %v, %v", role, super, err)
	}
	return gorm.Open(postgres.New(postgres.Config{Conn: tenantPool{sqlDB}}), &gorm.Config{
		Logger:                 logger.Default.LogMode(logger.Silent),
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
}

// tenantPool is a gorm.ConnPool that runs each statement, and each
// transaction, on a connection whose tidings.tenant setting is the tenant
// of the call's context (activity.TenantText; empty, so untenanted rows
// only, when it has none): what an app does with activity.SetTenant at the
// start of each request's transaction. Each call takes a connection of its
// own, sets the tenant on it, and hands it back to the pool when its rows
// or its transaction are done.
type tenantPool struct{ db *sql.DB }

// conn returns a connection of the pool with ctx's tenant set.
func (p tenantPool) conn(ctx context.Context) (*sql.Conn, error) {
	c, err := p.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.ExecContext(ctx, `SELECT set_config($1, $2, false)`, activity.TenantSetting, activity.TenantText(ctx)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// release hands c back once what uses it (rows, a transaction) is done:
// sql.Conn.Close waits for them.
func release(c *sql.Conn) { go c.Close() }

func (p tenantPool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return nil, fmt.Errorf("tenantPool: prepared statements are not supported")
}

func (p tenantPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c, err := p.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ExecContext(ctx, query, args...)
}

func (p tenantPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c, err := p.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer release(c)
	return c.QueryContext(ctx, query, args...)
}

func (p tenantPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	c, err := p.conn(ctx)
	if err != nil {
		// A *sql.Row cannot be made with an error: this one's Scan fails
		// with a message that carries err.
		return p.db.QueryRowContext(ctx, `SELECT $1::int`, "tenantPool: "+err.Error())
	}
	defer release(c)
	return c.QueryRowContext(ctx, query, args...)
}

func (p tenantPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	c, err := p.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer release(c)
	return c.BeginTx(ctx, opts)
}
