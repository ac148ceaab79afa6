package activity

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strconv"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// Resolver loads the rows behind references of one type, for one feed page
// at a time: one call (one query) per type per page, never one per event.
// It returns the loaded values by id; ids it cannot find (deleted rows) are
// simply absent, and their events render from the label snapshot.
type Resolver interface {
	Resolve(ctx context.Context, db *gorm.DB, ids []string) (map[string]any, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, db *gorm.DB, ids []string) (map[string]any, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, db *gorm.DB, ids []string) (map[string]any, error) {
	return f(ctx, db, ids)
}

// ModelResolver returns a Resolver that loads gorm models of type T by
// primary key, in one query per page: ModelResolver[User](). The query is
// gorm's Find, scopes included (a soft-deleted row is not loaded).
func ModelResolver[T any]() Resolver {
	return ResolverFunc(func(ctx context.Context, db *gorm.DB, ids []string) (map[string]any, error) {
		var rows []T
		stmt := &gorm.Statement{DB: db}
		var zero T
		if err := stmt.Parse(&zero); err != nil { // cached by gorm after the first call
			return nil, fmt.Errorf("activity: ModelResolver[%T]: %w", zero, err)
		}
		pk := stmt.Schema.PrioritizedPrimaryField
		if pk == nil {
			return nil, fmt.Errorf("activity: ModelResolver[%T]: the model has no primary key", zero)
		}
		keys := keysOf(pk, ids)
		if len(keys) == 0 {
			return map[string]any{}, nil
		}
		in := clause.IN{Column: clause.Column{Table: clause.CurrentTable, Name: pk.DBName}, Values: keys}
		if err := db.WithContext(ctx).Clauses(clause.Where{Exprs: []clause.Expression{in}}).Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("activity: ModelResolver[%T]: %w", zero, err)
		}
		out := make(map[string]any, len(rows))
		for i := range rows {
			v, _ := pk.ValueOf(ctx, reflect.ValueOf(&rows[i]).Elem())
			out[keyString(v)] = &rows[i]
		}
		return out, nil
	})
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

// Entry is a feed event with its actor and record loaded.
type Entry struct {
	Event
	// ActorValue is what the actor's resolver returned, or nil: a system
	// actor, a type without a resolver, or a row deleted since.
	ActorValue any
	// RecordValue is the same for the record.
	RecordValue any
}

// ActorName is the actor's current label when it was loaded, else the
// snapshot kept on the event, else its reference.
func (e Entry) ActorName() string {
	if l := labelOf(e.ActorValue); l != "" {
		return l
	}
	if e.ActorLabel != "" {
		return e.ActorLabel
	}
	return e.Actor().String()
}

// RecordName is like ActorName for the record ("" when there is none).
func (e Entry) RecordName() string {
	r := e.Record()
	if r == nil {
		return ""
	}
	if l := labelOf(e.RecordValue); l != "" {
		return l
	}
	if r.Label != "" {
		return r.Label
	}
	return r.String()
}

// RecordDeleted reports whether the event has a record whose type has a
// resolver but whose row could not be loaded.
func (e Entry) RecordDeleted() bool { return e.Record() != nil && e.RecordValue == nil }

// Resolve loads the actors and records of events through the domain's
// resolvers: one call per reference type.
func (d *Domain) Resolve(ctx context.Context, db *gorm.DB, events []Event) ([]Entry, error) {
	if db == nil {
		return nil, ErrNilDB
	}
	out := make([]Entry, len(events))
	for i, e := range events {
		out[i].Event = e
	}
	if err := d.resolveEntries(ctx, db, out); err != nil {
		return nil, err
	}
	return out, nil
}

// resolveEntries sets the loaded values of entries in place.
func (d *Domain) resolveEntries(ctx context.Context, db *gorm.DB, entries []Entry) error {
	want := map[string]map[string]struct{}{}
	add := func(typ, id string) {
		if _, ok := d.resolvers[typ]; !ok {
			return
		}
		if want[typ] == nil {
			want[typ] = map[string]struct{}{}
		}
		want[typ][id] = struct{}{}
	}
	for i := range entries {
		e := &entries[i].Event
		add(e.ActorType, e.ActorID)
		if e.RecordType != nil && e.RecordID != nil {
			add(*e.RecordType, *e.RecordID)
		}
	}
	if len(want) == 0 {
		return nil
	}
	loaded, err := d.resolveTypes(ctx, db, want)
	if err != nil {
		return err
	}
	for i := range entries {
		e := &entries[i]
		e.ActorValue = loaded[e.ActorType][e.ActorID]
		if e.RecordType != nil && e.RecordID != nil {
			e.RecordValue = loaded[*e.RecordType][*e.RecordID]
		}
	}
	return nil
}

// resolveTypes calls the resolver of each type in want with its ids. On
// the pool the types load at once, each on a connection of its own, so a
// page with actors and records waits for one round trip, not one per type;
// in a transaction (one connection) they load one after another.
func (d *Domain) resolveTypes(ctx context.Context, db *gorm.DB, want map[string]map[string]struct{}) (map[string]map[string]any, error) {
	type typed struct {
		typ  string
		vals map[string]any
		err  error
	}
	load := func(typ string, set map[string]struct{}) typed {
		ids := make([]string, 0, len(set))
		for id := range set {
			ids = append(ids, id)
		}
		vals, err := d.resolvers[typ].Resolve(ctx, db.Session(&gorm.Session{NewDB: true, Context: ctx}), ids)
		if err != nil {
			err = fmt.Errorf("activity: resolve %s: %w", typ, err)
		}
		return typed{typ, vals, err}
	}
	loaded := make(map[string]map[string]any, len(want))
	_, onPool := db.Statement.ConnPool.(*sql.DB)
	if !onPool || len(want) < 2 {
		for typ, set := range want {
			r := load(typ, set)
			if r.err != nil {
				return nil, r.err
			}
			loaded[typ] = r.vals
		}
		return loaded, nil
	}
	results := make(chan typed, len(want))
	for typ, set := range want {
		go func() { results <- load(typ, set) }()
	}
	var first error
	for range want {
		r := <-results
		if r.err != nil && first == nil {
			first = r.err
		}
		loaded[r.typ] = r.vals
	}
	if first != nil {
		return nil, first
	}
	return loaded, nil
}
