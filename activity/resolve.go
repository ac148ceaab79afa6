package activity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"

	"gorm.io/gorm"
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
// resolvers: one call per reference type. On the pool, the ModelResolvers'
// queries go in one batch on one connection (one round trip for all their
// types) while other resolvers load at once; in a transaction, on it, one
// type after another.
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
// the pool, the ModelResolvers' queries go in one batch, one round trip on
// one connection, while other resolvers load at once, each on a
// connection of its own: a page with actors and records waits for one
// round trip, not one per type. In a transaction (one connection) they
// load one after another.
func (d *Domain) resolveTypes(ctx context.Context, db *gorm.DB, want map[string]map[string]struct{}) (map[string]map[string]any, error) {
	session := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	load := func(typ string, ids []string) (map[string]any, error) {
		vals, err := d.resolvers[typ].Resolve(ctx, session, ids)
		if err != nil {
			return nil, fmt.Errorf("activity: resolve %s: %w", typ, err)
		}
		return vals, nil
	}
	loaded := make(map[string]map[string]any, len(want))
	_, onPool := db.Statement.ConnPool.(*sql.DB)
	if !onPool {
		for typ, set := range want {
			vals, err := load(typ, slices.Collect(maps.Keys(set)))
			if err != nil {
				return nil, err
			}
			loaded[typ] = vals
		}
		return loaded, nil
	}

	type prepared struct {
		typ    string
		ids    []string
		q      *modelQuery
		failed error
	}
	var batch []*prepared
	others := map[string][]string{}
	for typ, set := range want {
		ids := slices.Collect(maps.Keys(set))
		br, ok := d.resolvers[typ].(batchResolver)
		if !ok {
			others[typ] = ids
			continue
		}
		q, err := br.prepare(ctx, session, ids)
		switch {
		case errors.Is(err, errNotBatched):
			others[typ] = ids
		case err != nil:
			return nil, fmt.Errorf("activity: resolve %s: %w", typ, err)
		case q == nil: // no id can match
			loaded[typ] = map[string]any{}
		default:
			batch = append(batch, &prepared{typ: typ, ids: ids, q: q})
		}
	}

	type result struct {
		typ  string
		vals map[string]any
		err  error
	}
	results := make(chan result, len(others))
	for typ, ids := range others {
		go func() {
			vals, err := load(typ, ids)
			results <- result{typ, vals, err}
		}()
	}
	var first error
	if len(batch) > 0 {
		qs := make([]batchQuery, len(batch))
		for i, p := range batch {
			qs[i] = p.q.batchQuery(&p.failed)
		}
		ran := queryBatch(ctx, session, qs)
		for _, p := range batch {
			if ran && p.failed == nil {
				loaded[p.typ] = p.q.loaded()
				continue
			}
			// Not sent (no pgx connection), or failed: through gorm's
			// Find, which says what is wrong if it still is.
			vals, err := load(p.typ, p.ids)
			if err != nil && first == nil {
				first = err
			}
			loaded[p.typ] = vals
		}
	}
	for range others {
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
