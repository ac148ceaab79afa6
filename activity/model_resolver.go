package activity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// ModelResolver returns a Resolver that loads gorm models of type T by
// primary key, in one query per page: ModelResolver[User](). The query is
// gorm's Find, scopes included (a soft-deleted row is not loaded).
//
// On the pool, a page's ModelResolvers send their queries together: one
// round trip on one connection for all of them (see Domain.Resolve). gorm
// still builds each query and scans its rows, so scopes, column names
// and serializers hold; a model with an AfterFind hook loads through Find.
func ModelResolver[T any]() Resolver { return modelResolver[T]{} }

type modelResolver[T any] struct{}

// batchResolver is a Resolver whose query can join a page's batch.
type batchResolver interface {
	Resolver
	// prepare builds the query of ids without running it: nil when no id
	// can match; errNotBatched when it must run through Resolve.
	prepare(ctx context.Context, db *gorm.DB, ids []string) (*modelQuery, error)
}

// errNotBatched says a resolver's query runs on its own (Resolve).
var errNotBatched = errors.New("activity: not batched")

// modelQuery is a ModelResolver's query for one page, built by gorm but
// not run, and what its rows become.
type modelQuery struct {
	built  *gorm.DB              // a dry run of Find: Statement.SQL, Vars, Dest, Schema
	loaded func() map[string]any // Dest's rows by id, once scanned
}

func (r modelResolver[T]) Resolve(ctx context.Context, db *gorm.DB, ids []string) (map[string]any, error) {
	q, err := r.find(ctx, db, ids, false)
	switch {
	case err != nil:
		return nil, err
	case q == nil: // no id can match
		return map[string]any{}, nil
	}
	return q.loaded(), nil
}

func (r modelResolver[T]) prepare(ctx context.Context, db *gorm.DB, ids []string) (*modelQuery, error) {
	return r.find(ctx, db, ids, true)
}

// find runs gorm's Find of ids, or with dryRun only builds it.
func (modelResolver[T]) find(ctx context.Context, db *gorm.DB, ids []string, dryRun bool) (*modelQuery, error) {
	var zero T
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(&zero); err != nil { // cached by gorm after the first call
		return nil, fmt.Errorf("activity: ModelResolver[%T]: %w", zero, err)
	}
	pk := stmt.Schema.PrioritizedPrimaryField
	if pk == nil {
		return nil, fmt.Errorf("activity: ModelResolver[%T]: the model has no primary key", zero)
	}
	if dryRun && stmt.Schema.AfterFind {
		return nil, errNotBatched // the hooks run in Find's callbacks, after its scan
	}
	keys := keysOf(pk, ids)
	if len(keys) == 0 {
		return nil, nil
	}
	var rows []T
	tx := db.WithContext(ctx)
	if dryRun {
		tx = tx.Session(&gorm.Session{DryRun: true})
	}
	in := clause.IN{Column: clause.Column{Table: clause.CurrentTable, Name: pk.DBName}, Values: keys}
	tx = tx.Clauses(clause.Where{Exprs: []clause.Expression{in}}).Find(&rows)
	if tx.Error != nil {
		return nil, fmt.Errorf("activity: ModelResolver[%T]: %w", zero, tx.Error)
	}
	return &modelQuery{built: tx, loaded: func() map[string]any {
		out := make(map[string]any, len(rows))
		for i := range rows {
			v, _ := pk.ValueOf(ctx, reflect.ValueOf(&rows[i]).Elem())
			out[keyString(v)] = &rows[i]
		}
		return out
	}}, nil
}

// keysOf returns ids as values of pk: integers for an integer key, which
// pgx sends in binary (an id that is not one cannot match, and is left
// out: PostgreSQL would refuse the whole page's query over it; an
// unsigned key too is read as int64, gorm's bigint column), else
// their text, which PostgreSQL reads as the key column's type.
func keysOf(pk *schema.Field, ids []string) []any {
	keys := make([]any, 0, len(ids))
	for _, id := range ids {
		switch pk.DataType {
		case schema.Int, schema.Uint:
			if n, err := strconv.ParseInt(id, 10, 64); err == nil {
				keys = append(keys, n)
			}
		default:
			keys = append(keys, id)
		}
	}
	return keys
}

// batchQuery returns q as a statement of a batch whose rows gorm scans
// into q's destination. A failed scan is q's own (the caller loads its
// type through Resolve instead), not the batch's.
func (q *modelQuery) batchQuery(failed *error) batchQuery {
	return batchQuery{sql: q.built.Statement.SQL.String(), args: q.built.Statement.Vars, read: func(rows pgx.Rows) {
		if err := rows.Err(); err != nil { // an earlier statement failed: these rows have no columns to ask for
			*failed = err
			rows.Close()
			return
		}
		gorm.Scan(gormRows{rows}, q.built, 0)
		rows.Close()
		if err := rows.Err(); err != nil {
			*failed = err
		} else if q.built.Error != nil {
			*failed = q.built.Error
		}
	}}
}

// gormRows lets gorm scan pgx's rows (gorm.Rows is database/sql's
// methods; pgx's Rows has all but these).
type gormRows struct{ pgx.Rows }

func (r gormRows) Columns() ([]string, error) {
	fds := r.FieldDescriptions()
	cols := make([]string, len(fds))
	for i, fd := range fds {
		cols[i] = fd.Name
	}
	return cols, nil
}

// ColumnTypes is only asked for when gorm scans into maps, which a
// ModelResolver does not.
func (r gormRows) ColumnTypes() ([]*sql.ColumnType, error) { return nil, nil }

func (r gormRows) Close() error {
	r.Rows.Close()
	return r.Rows.Err()
}
