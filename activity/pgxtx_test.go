package activity_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tidingsdev/tidings/activity"
)

// TestQueryRowOnTx: a statement run on a transaction's pgx connection
// (how RecordEvent writes in a caller's transaction) runs in that
// transaction, sends nothing else (the transaction goes on as if it had
// been run through database/sql: its next statements work), reports no
// row as no row and a refused statement as PostgreSQL's error, and a
// transaction that ended is refused before anything is sent.
func TestQueryRowOnTx(t *testing.T) {
	ctx := context.Background()
	tx := testDB.Begin()
	defer tx.Rollback()
	var want string
	if err := tx.Raw(`SELECT txid_current()::text`).Scan(&want).Error; err != nil {
		t.Fatal(err)
	}
	for range 3 { // the statement cached by pgx, then taken from its cache
		direct, found, got, err := activity.QueryRowOnTx(ctx, tx, `SELECT txid_current()::text`)
		if err != nil || !direct || !found || got != want {
			t.Fatalf("direct %v, found %v, transaction %q, err %v; want direct, found, %q", direct, found, got, err, want)
		}
	}
	direct, found, _, err := activity.QueryRowOnTx(ctx, tx, `SELECT 'x' WHERE false`)
	if err != nil || !direct || found {
		t.Fatalf("no row: direct %v, found %v, err %v", direct, found, err)
	}
	var n int
	if err := tx.Raw(`SELECT count(*) FROM users WHERE false`).Scan(&n).Error; err != nil {
		t.Fatalf("the transaction after the direct statements: %v", err)
	}

	bad := testDB.Begin()
	defer bad.Rollback()
	var pgErr *pgconn.PgError
	if direct, _, _, err := activity.QueryRowOnTx(ctx, bad, `SELECT (1/0)::text`); !direct || !errors.As(err, &pgErr) || pgErr.Code != "22012" {
		t.Fatalf("division by zero: direct %v, err %v; want PostgreSQL's 22012", direct, err)
	}

	if err := tx.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if direct, _, _, err := activity.QueryRowOnTx(ctx, tx, `SELECT txid_current()::text`); direct || !errors.Is(err, sql.ErrTxDone) {
		t.Fatalf("after commit: direct %v, err %v; want sql.ErrTxDone", direct, err)
	}
}
