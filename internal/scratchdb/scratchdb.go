// Package scratchdb creates the PostgreSQL databases the tests and the
// bench throw away, and drops only those: each is marked at creation (a
// COMMENT ON DATABASE), and a database without the mark is never dropped,
// whatever its name.
package scratchdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
)

// Marker is the comment a scratch database carries.
const Marker = "tidings scratch database: dropped and re-created by the tidings tests and bench (internal/scratchdb)"

// ErrNotScratch is returned by Recreate for an existing database that does
// not carry Marker: one the tests or bench did not create.
var ErrNotScratch = errors.New("scratchdb: the database exists and is not a tidings scratch database")

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Recreate makes name an empty database carrying Marker on the server
// admin is connected to (to a database other than name): it drops name
// first only when it carries Marker, and returns ErrNotScratch, dropping
// nothing, when name exists without it.
func Recreate(ctx context.Context, admin *sql.DB, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("scratchdb: bad database name %q: use lower-case letters, digits and underscores, starting with a letter", name)
	}
	var comment sql.NullString
	err := admin.QueryRowContext(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, name).Scan(&comment)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("scratchdb: look up database %s: %w", name, err)
	case comment.String != Marker:
		return fmt.Errorf("%w: %s (drop it by hand if it is yours to lose, or pick another name)", ErrNotScratch, name)
	default:
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("scratchdb: drop %s: %w", name, err)
		}
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("scratchdb: create %s: %w", name, err)
	}
	if _, err := admin.ExecContext(ctx, "COMMENT ON DATABASE "+name+" IS '"+Marker+"'"); err != nil {
		return fmt.Errorf("scratchdb: mark %s: %w", name, err)
	}
	return nil
}
