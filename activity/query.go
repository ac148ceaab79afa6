package activity

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// query runs one of the domain's prebuilt statements (with $n placeholders)
// on the connection db stands for: the pool, or the caller's transaction
// when db is one. It goes to gorm's ConnPool directly rather than through
// Raw, which would rebuild the statement text on every call; recording is
// the hot path and its SQL is fixed at declaration. (gorm callbacks and
// loggers do not see these statements.)
func query(ctx context.Context, db *gorm.DB, stmt string, args []any) (*sql.Rows, error) {
	if db.Error != nil {
		return nil, db.Error
	}
	pool := db.Statement.ConnPool
	if pool == nil {
		return nil, fmt.Errorf("activity: the *gorm.DB has no connection pool (was it opened with gorm.Open?)")
	}
	return pool.QueryContext(ctx, stmt, args...)
}

// queryRow runs a prebuilt statement that returns at most one row and
// scans it; found is false when it returned none.
func queryRow(ctx context.Context, db *gorm.DB, stmt string, args []any, scan func(scanner) error) (found bool, err error) {
	err = queryRows(ctx, db, stmt, args, func(s scanner) error {
		if found {
			return nil
		}
		found = true
		return scan(s)
	})
	return found, err
}

// queryRows runs a statement (with $n placeholders) and calls each with
// every row it returns. On the pool it runs on a pgx connection directly:
// database/sql's row machinery (a goroutine per cancellable query, a
// driver.Value per column and row, then a conversion into the
// destination) cost recording about a third more client CPU than pgx,
// and a feed page of 20 events 30 KB of garbage; in a transaction, on the
// transaction. (gorm callbacks and loggers do not see these statements.)
func queryRows(ctx context.Context, db *gorm.DB, stmt string, args []any, each func(scanner) error) error {
	return queryRowsWith(ctx, db, stmt, args, args, each)
}

// queryRowsWith is queryRows with arguments of their own for a pgx
// connection (pgxArgs: a []int64 pgx sends in binary, say, where
// database/sql drivers take an array literal).
func queryRowsWith(ctx context.Context, db *gorm.DB, stmt string, args, pgxArgs []any, each func(scanner) error) error {
	if db.Error != nil {
		return db.Error
	}
	direct, err := onPgxConn(ctx, db, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, stmt, pgxArgs...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := each(rows); err != nil {
				return err
			}
		}
		rows.Close()
		return rows.Err()
	})
	if direct || err != nil {
		return err
	}
	rows, err := query(ctx, db, stmt, args)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	return rows.Err()
}

// numbered rewrites the ? placeholders of a statement built here (which
// holds no other question marks) as $1, $2, ...
func numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// batchQuery is one statement of a batch (with $n placeholders) and what
// reads its rows: read is called once, with rows that hold the
// statement's error if it failed, and closes them.
type batchQuery struct {
	sql  string
	args []any
	read func(pgx.Rows)
}

// queryBatch sends statements in one round trip on one pgx connection of
// the pool (a pgx batch) and hands each one's rows to its read, in order.
// They run in one implicit transaction: after one fails, the rest read
// its error. ran is false, and nothing was sent, when db is not a pool of
// pgx connections (a transaction, another driver) or none could be had
// (the caller's fallback then says why).
func queryBatch(ctx context.Context, db *gorm.DB, qs []batchQuery) (ran bool) {
	if db.Error != nil {
		return false
	}
	ran, _ = onPgxConn(ctx, db, func(conn *pgx.Conn) error {
		b := &pgx.Batch{}
		for _, q := range qs {
			b.Queue(q.sql, q.args...)
		}
		br := conn.SendBatch(ctx, b)
		for _, q := range qs {
			rows, _ := br.Query() // a failed statement's rows hold its error
			q.read(rows)
		}
		return br.Close()
	})
	return ran
}

// onPgxConn calls f with a pgx connection of db's pool, held for the
// call. direct is false, and f is not called, when db is not a pool of
// pgx connections (a transaction, another driver); err is then the
// failure to take a connection from the pool, if any.
func onPgxConn(ctx context.Context, db *gorm.DB, f func(*pgx.Conn) error) (direct bool, err error) {
	sqlDB, ok := db.Statement.ConnPool.(*sql.DB)
	if !ok {
		return false, nil
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return nil
		}
		direct = true
		return f(sc.Conn())
	})
	return direct, err
}
