package main

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/measure"
)

// The bench database (the app the figures play: an issue tracker's users,
// issues and comments, and its issue domain) lives in internal/measure,
// shared with the peer benchmarks (cmd/bench/river): these are its names here.

type (
	User    = measure.User
	Comment = measure.Comment
)

const (
	fixtureUsers    = measure.FixtureUsers
	fixtureIssues   = measure.FixtureIssues
	fixtureComments = measure.FixtureComments
)

func newIssueDomain() *activity.Domain { return measure.NewIssueDomain() }

func newIssueDomainObserved(obs activity.Observer) *activity.Domain {
	return measure.NewIssueDomainObserved(obs)
}

func createDatabase(ctx context.Context, base, name string, d *activity.Domain, poolSize int) (*gorm.DB, error) {
	return measure.CreateDatabase(ctx, base, name, d, poolSize)
}

func openGorm(dsn string, poolSize int) (*gorm.DB, error) { return measure.OpenGorm(dsn, poolSize) }

func dsnFor(base, name string) string { return measure.DSNFor(base, name) }

func newPool(ctx context.Context, dsn string, size int) (*pgxpool.Pool, error) {
	return measure.NewPool(ctx, dsn, size)
}

// withSetting adds a server setting for the sessions of a DSN (a startup
// parameter, which pgx passes on).
func withSetting(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + key + "=" + value
	}
	return dsn + " " + key + "=" + value
}
