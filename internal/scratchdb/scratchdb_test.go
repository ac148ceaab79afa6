package scratchdb_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tidingsdev/tidings/internal/pgtest"
	"github.com/tidingsdev/tidings/internal/scratchdb"
)

func admin(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", pgtest.BaseDSN()+" dbname=postgres")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A database Recreate did not create keeps its rows, even under a name
// that looks like a test's; one it created is dropped and made again.
func TestRecreateDropsOnlyMarkedDatabases(t *testing.T) {
	ctx := context.Background()
	a := admin(t)
	foreign := pgtest.Name("tidings_test_scratchdb_foreign")
	if _, err := a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+foreign); err != nil { // this test's own, from a run before
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, "CREATE DATABASE "+foreign); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+foreign+" WITH (FORCE)") })
	f, err := sql.Open("pgx", pgtest.BaseDSN()+" dbname="+foreign)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ExecContext(ctx, "CREATE TABLE precious (v text); INSERT INTO precious VALUES ('kept')"); err != nil {
		t.Fatal(err)
	}

	if err := scratchdb.Recreate(ctx, a, foreign); !errors.Is(err, scratchdb.ErrNotScratch) {
		t.Fatalf("Recreate of a database it did not create: %v, want ErrNotScratch", err)
	}
	var v string
	if err := f.QueryRowContext(ctx, "SELECT v FROM precious").Scan(&v); err != nil || v != "kept" {
		t.Fatalf("after the refused Recreate the row reads %q (%v)", v, err)
	}

	ours := pgtest.Name("tidings_test_scratchdb_ours")
	if err := scratchdb.Recreate(ctx, a, ours); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+ours+" WITH (FORCE)") })
	o, err := sql.Open("pgx", pgtest.BaseDSN()+" dbname="+ours)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := o.ExecContext(ctx, "CREATE TABLE leftover (v text)"); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if err := scratchdb.Recreate(ctx, a, ours); err != nil {
		t.Fatalf("Recreate of its own database: %v", err)
	}
	o2, err := sql.Open("pgx", pgtest.BaseDSN()+" dbname="+ours)
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	var n int
	if err := o2.QueryRowContext(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'leftover'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the re-created database has %d leftover tables (%v)", n, err)
	}

	if err := scratchdb.Recreate(ctx, a, "Robert'); DROP"); err == nil {
		t.Fatal("a bad name was accepted")
	}
}
