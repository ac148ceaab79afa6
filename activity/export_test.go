package activity

import (
	"context"
	"database/sql"
	"errors"

	"gorm.io/gorm"
)

// FeedSQL renders the statement of a feed page, for EXPLAIN in tests.
func (d *Domain) FeedSQL(ctx context.Context, db *gorm.DB, q FeedQuery) (string, []any, error) {
	tx, _, err := d.feedQuery(ctx, db.Session(&gorm.Session{DryRun: true}), q)
	if err != nil {
		return "", nil, err
	}
	if lo, hi, ok := d.feedWindow(q); ok { // the first of the page's queries
		tx = window(tx, lo, hi)
	}
	var evs []map[string]any
	stmt := tx.Find(&evs).Statement
	return stmt.SQL.String(), stmt.Vars, nil
}

// CursorAt is the cursor of a page ending at e.
func CursorAt(e Event) Cursor { return newCursor(e) }

// QueryRowOnTx is queryRowOnTx on a gorm transaction, for a statement of
// one text column.
func QueryRowOnTx(ctx context.Context, tx *gorm.DB, stmt string) (direct, found bool, value string, err error) {
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return false, false, "", errors.New("not a database/sql transaction")
	}
	direct, found, err = queryRowOnTx(ctx, sqlTx, stmt, nil, func(s scanner) error { return s.Scan(&value) })
	return direct, found, value, err
}
