package measure

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/scratchdb"
	"github.com/tidingsdev/tidings/migrations"
)

// User, Comment: the app the figures play: an issue tracker's users, issues and comments,
// and its issue domain, as the package documentation of activity declares it.
type User struct {
	ID   int64
	Name string
}

type Comment struct {
	ID      int64
	IssueID int64
	Body    string
}

func (c Comment) ActivityLabel() string { return c.Body }

// The fixture's sizes are fixed (not scaled): they are small, and every
// group draws its subjects, actors and records from them.
const (
	FixtureUsers    = 1000
	FixtureIssues   = 2000
	FixtureComments = 200_000
)

const appSchema = `
CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE issues (id bigint PRIMARY KEY, title text NOT NULL);
CREATE TABLE comments (id bigint PRIMARY KEY, issue_id bigint NOT NULL, body text NOT NULL);
`

func fixtureSQL() []string {
	return []string{
		fmt.Sprintf(`INSERT INTO users SELECT g, 'User ' || g FROM generate_series(1, %d) g`, FixtureUsers),
		fmt.Sprintf(`INSERT INTO issues SELECT g, 'Issue ' || g FROM generate_series(1, %d) g`, FixtureIssues),
		fmt.Sprintf(`INSERT INTO comments SELECT g, 1 + g %% %d, 'Comment ' || g FROM generate_series(1, %d) g`, FixtureIssues, FixtureComments),
		`VACUUM ANALYZE users`, `VACUUM ANALYZE issues`, `VACUUM ANALYZE comments`,
	}
}

// NewIssueDomain declares the domain every figure records into and reads.
func NewIssueDomain() *activity.Domain { return NewIssueDomainObserved(nil) }

// NewIssueDomainObserved is the issue domain watched by obs (the observe
// group's).
func NewIssueDomainObserved(obs activity.Observer) *activity.Domain {
	return activity.MustDomain(IssueDomainConfig(obs))
}

// IssueDomainConfig is the issue domain's declaration, watched by obs.
func IssueDomainConfig(obs activity.Observer) activity.DomainConfig {
	return activity.DomainConfig{
		Observer: obs,
		Name:     "issue",
		Actions:  []string{"comment_added", "comment_deleted", "comment_viewed", "label_added"},
		Resolvers: map[string]activity.Resolver{
			"users":    activity.ModelResolver[User](),
			"comments": activity.ModelResolver[Comment](),
		},
	}
}

var dbNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// CreateDatabase drops (when the bench or a test created it: see
// internal/scratchdb) and creates database name on the server at base
// (a DSN without dbname), applies the library's migrations, the app's tables
// and the issue domain's events table, loads the fixture, and returns a gorm
// handle on it with poolSize connections at most.
func CreateDatabase(ctx context.Context, base, name string, d *activity.Domain, poolSize int) (*gorm.DB, error) {
	if !dbNameRE.MatchString(name) {
		return nil, fmt.Errorf("bench: -dbname %q is not allowed: use lower-case letters, digits and underscores, starting with a letter", name)
	}
	admin, err := sql.Open("pgx", DSNFor(base, "postgres"))
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	// Only a database the bench (or a test) created is dropped: any other
	// of that name stops the bench.
	if err := scratchdb.Recreate(ctx, admin, name); errors.Is(err, scratchdb.ErrNotScratch) {
		return nil, fmt.Errorf("bench: -dbname %s: %w", name, err)
	} else if err != nil {
		return nil, fmt.Errorf("bench: %w (is PostgreSQL running at %q?)", err, base)
	}
	db, err := OpenGorm(DSNFor(base, name), poolSize)
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if err := migrations.Up(ctx, sqlDB); err != nil {
		return nil, err
	}
	up, _ := activity.MigrationSQL(d)
	for _, stmt := range append([]string{appSchema, up}, fixtureSQL()...) {
		if err := db.WithContext(ctx).Exec(stmt).Error; err != nil {
			return nil, fmt.Errorf("bench: apply %.60q: %w", strings.TrimSpace(stmt), err)
		}
	}
	return db, nil
}

// OpenGorm opens a gorm handle the way an app would (pgx's database/sql
// driver, which caches prepared statements), with poolSize connections.
func OpenGorm(dsn string, poolSize int) (*gorm.DB, error) {
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{
		Logger:                 logger.Default.LogMode(logger.Silent),
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("bench: open %s: %w", dsn, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(poolSize)
	sqlDB.SetMaxIdleConns(poolSize)
	return db, nil
}

// DSNFor appends dbname to a key=value DSN, or sets the path of a URL DSN.
func DSNFor(base, name string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		scheme, rest, _ := strings.Cut(base, "://")
		hostPart, query, hasQuery := strings.Cut(rest, "?")
		hostPart, _, _ = strings.Cut(hostPart, "/")
		u := scheme + "://" + hostPart + "/" + name
		if hasQuery {
			u += "?" + query
		}
		return u
	}
	return base + " dbname=" + name
}

// NewPool opens a raw pgx pool of size connections on the bench database,
// for the baselines: what an app would write by hand without the library.
func NewPool(ctx context.Context, dsn string, size int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("bench: pgx pool: %w", err)
	}
	cfg.MaxConns = int32(size)
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: pgx pool: %w", err)
	}
	return pool, nil
}
