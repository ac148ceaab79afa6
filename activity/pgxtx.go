package activity

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
)

// queryRowOnTx runs stmt (with $n placeholders) with args, pgx's, on the
// pgx connection under tx (a *sql.Tx of pgx's database/sql driver, as
// gorm's postgres driver opens it), and calls scan with its first row, a
// pgx.Rows. direct is false, and nothing ran, when tx is not on a pgx
// connection (another driver: the caller then goes through database/sql);
// err is then why the transaction cannot be used (sql.ErrTxDone, a
// cancelled context), if that is why.
//
// Why: database/sql has no way to reach a transaction's connection (it
// has sql.Conn.Raw, not sql.Tx.Raw), and its row machinery cost a
// recording inside a transaction two thirds of its allocations and a
// goroutine per statement (see BenchmarkRecordEvent): a driver.Rows that
// pre-reads a row, a conversion function per column, a cancellable
// context and a goroutine watching it, a driver.Value per column. pgx's
// driver hands its connection to a pgx.QueryRewriter passed as an
// argument, before anything is sent: txRun is one. Its RewriteQuery runs
// the statement on the connection (inside the call: database/sql holds
// the connection for it, and a rollback on a cancelled context waits for
// it) and then refuses to rewrite, so the placeholder statement is never
// sent: one round trip, the statement's, as on the pool. The refusal
// comes back from QueryContext as an error, which queryRowOnTx drops.
//
// scan is stored in the txRun, which escapes, so it reaches the heap with
// what it captures: callers build it on their transaction branch only,
// so that the pool's path keeps its closures on the stack.
//
// A pgx QueryTracer on the connection sees the statement as on the pool,
// and also the placeholder's start and refusal (nothing sent).
func queryRowOnTx(ctx context.Context, tx *sql.Tx, stmt string, args []any, scan func(scanner) error) (direct, found bool, err error) {
	run := &txRun{stmt: stmt, args: args, scan: scan}
	rows, err := tx.QueryContext(ctx, txRunSQL, run)
	if rows != nil { // a driver that is not pgx's ran the placeholder
		rows.Close()
	}
	if run.called {
		return true, run.found, run.err
	}
	if errors.Is(err, sql.ErrTxDone) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false, false, err
	}
	return false, false, nil
}

// txRunSQL is the statement queryRowOnTx passes with its txRun: never
// sent on pgx's driver (and a comment, which does nothing, on any other).
// pgx keys its statement cache by text and drops the entry of a statement
// whose rewrite failed: this text is never cached.
const txRunSQL = "-- tidings: run on the transaction's pgx connection"

// errTxRun is txRun's refusal to rewrite: the statement ran, nothing is
// to be sent.
var errTxRun = errors.New("activity: ran on the transaction's pgx connection")

// txRun is the pgx.QueryRewriter queryRowOnTx passes: it runs the
// statement on the connection and keeps what came of it.
type txRun struct {
	stmt   string
	args   []any
	scan   func(scanner) error
	called bool
	found  bool
	err    error
}

func (r *txRun) RewriteQuery(ctx context.Context, conn *pgx.Conn, sql string, args []any) (string, []any, error) {
	if r.called || sql != txRunSQL || len(args) != 0 {
		return sql, args, errTxRun // never twice, nor for another statement
	}
	r.called = true
	rows, err := conn.Query(ctx, r.stmt, r.args...)
	if err != nil {
		r.err = err
		return sql, args, errTxRun
	}
	defer rows.Close()
	if rows.Next() {
		r.found = true
		if err := r.scan(rows); err != nil {
			r.err = err
			return sql, args, errTxRun
		}
	}
	rows.Close()
	r.err = rows.Err()
	return sql, args, errTxRun
}
