package activity

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/tenantfilter"
)

// FeedQuery selects a page of a domain's events, newest first. All set
// fields must hold (AND): Subject and SubjectsIn together give the
// subject's events if the subquery selects it (a page scoped to a
// tenant's subjects, filtered to one), else none. Leave Subject and
// SubjectsIn empty for a feed of the whole domain.
type FeedQuery struct {
	// Subject restricts the feed to one subject (its key).
	Subject any
	// SubjectsIn restricts it to the subjects a subquery selects, for a
	// feed across subjects: all issues of a project is
	// db.Model(&Issue{}).Select("id").Where("project_id = ?", p.ID).
	SubjectsIn *gorm.DB
	// Actor restricts it to what one actor did (anything Actor accepts).
	Actor any
	// Record restricts it to the events about one record.
	Record any
	// Actions restricts it to these actions (each must be supported).
	Actions []string
	// Since and Until bound occurred_at: Since <= occurred_at < Until.
	Since, Until time.Time
	// CorrelationID restricts it to the events one user act set off.
	CorrelationID string
	// CausedBy restricts it to the events handling this event recorded.
	CausedBy *EventRef
	// Tags restricts it to events carrying all these tags (key and value).
	Tags map[string]string
	// Retracted chooses what to do with retracted events: hide them (the
	// default), include them, or show only them.
	Retracted RetractedFilter
	// After is the previous page's Next; empty for the first page.
	After Cursor
	// Limit is the page size. Default 20, at most 500.
	Limit int
	// Tenant scopes a tenanted domain's feed; default the context's
	// (WithTenant). Refused on an untenanted domain.
	Tenant any
}

// Page is one page of a feed.
type Page struct {
	// Entries are the page's events with actors and records loaded
	// through the domain's resolvers, newest first.
	Entries []Entry
	// Next continues the feed after this page; empty on the last page.
	Next Cursor
}

// Events returns the page's events without their loaded values.
func (p Page) Events() []Event {
	out := make([]Event, len(p.Entries))
	for i, e := range p.Entries {
		out[i] = e.Event
	}
	return out
}

// DefaultPageSize and MaxPageSize bound FeedQuery.Limit.
const (
	DefaultPageSize = 20
	MaxPageSize     = 500
)

// Feed returns one page of events, newest first, using keyset pagination:
// two queries per page for events plus one per reference type to load
// actors and records, whatever the page's depth.
func (d *Domain) Feed(ctx context.Context, db *gorm.DB, q FeedQuery) (Page, error) {
	if db == nil {
		return Page{}, ErrNilDB
	}
	var entries []Entry
	var limit int
	if lo, hi, ok := d.feedWindow(q); ok {
		// A partitioned table: the newest partition first, planned
		// alone (planning every partition costs more than reading the
		// page: about 0.1 ms each), then the older ones only if the page
		// is not full. Each partition is read through the key's index
		// and the partitions merged (see filter.keyOrder).
		tx, n, err := d.feedQuery(ctx, db, q)
		if err != nil {
			return Page{}, err
		}
		limit = n
		if entries, err = d.feedRows(ctx, window(tx, lo, hi), limit+1, nil); err != nil {
			return Page{}, err
		}
		if len(entries) <= limit {
			tx, _, err := d.feedQuery(ctx, db, q)
			if err != nil {
				return Page{}, err
			}
			if entries, err = d.feedRows(ctx, tx.Where("e.occurred_at < ?", lo).Limit(limit+1-len(entries)), limit+1, entries); err != nil {
				return Page{}, err
			}
		}
	} else {
		tx, n, err := d.feedQuery(ctx, db, q)
		if err != nil {
			return Page{}, err
		}
		limit = n
		if entries, err = d.feedRows(ctx, tx, limit+1, nil); err != nil {
			return Page{}, err
		}
	}
	var page Page
	if len(entries) > limit {
		entries = entries[:limit]
		page.Next = newCursor(entries[limit-1].Event)
	}
	if err := d.resolveEntries(ctx, db, entries); err != nil {
		return Page{}, err
	}
	page.Entries = entries
	return page, nil
}

// feedRows runs a feed query of at most limit rows and appends its events
// to entries. gorm builds the statement (the filter is made of its
// clauses: its logger sees the statement built, not its run); it runs
// through queryRows, scanned straight into the page.
func (d *Domain) feedRows(ctx context.Context, tx *gorm.DB, limit int, entries []Entry) ([]Entry, error) {
	built := tx.Session(&gorm.Session{DryRun: true}).Find(&[]map[string]any{})
	if built.Error != nil {
		return nil, fmt.Errorf("activity: feed of %s: %w", d.name, built.Error)
	}
	if entries == nil {
		entries = make([]Entry, 0, limit)
	}
	es := d.eventScan()
	err := queryRows(ctx, tx, built.Statement.SQL.String(), built.Statement.Vars, func(s scanner) error {
		entries = append(entries, Entry{})
		return es.scan(s, &entries[len(entries)-1].Event)
	})
	if err != nil {
		return nil, fmt.Errorf("activity: feed of %s: %w", d.name, err)
	}
	return entries, nil
}

// feedWindow returns where a page of a partitioned domain splits: the
// start of the partition holding the page's newest bound (the cursor, or
// now), lo, and the window's end, hi (zero after a cursor, which bounds
// the page itself): the end of the partition holding now plus
// FutureSkew. Partitioned domains record nothing later than that (see
// FutureSkew), so the first query plans one partition, two in the last
// FutureSkew of an interval. ok is false for an unpartitioned domain, and
// when Since or Until already keep the page on one side.
func (d *Domain) feedWindow(q FeedQuery) (lo, hi time.Time, ok bool) {
	if d.partition == nil {
		return time.Time{}, time.Time{}, false
	}
	iv := d.partition.Interval
	now := d.now()
	ref := now
	if q.After != "" {
		at, _, err := q.After.decode()
		if err != nil {
			return time.Time{}, time.Time{}, false // feedQuery reports it
		}
		ref = at
	} else {
		hi = iv.next(iv.start(now.Add(FutureSkew)))
	}
	lo = iv.start(ref)
	if !q.Since.IsZero() && !q.Since.Before(lo) || !q.Until.IsZero() && !q.Until.After(lo) {
		return time.Time{}, time.Time{}, false
	}
	return lo, hi, true
}

// window restricts tx to [lo, hi) (hi zero: no end).
func window(tx *gorm.DB, lo, hi time.Time) *gorm.DB {
	if hi.IsZero() {
		return tx.Where("e.occurred_at >= ?", lo)
	}
	return tx.Where("e.occurred_at >= ? AND e.occurred_at < ?", lo, hi)
}

// feedQuery builds the query of a feed page (limit+1 rows) and returns it
// with the page's size.
func (d *Domain) feedQuery(ctx context.Context, db *gorm.DB, q FeedQuery) (*gorm.DB, int, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return nil, 0, &QueryError{Field: "Limit", Reason: fmt.Sprintf("is %d; allowed: 1 to %d (0 means %d)", q.Limit, MaxPageSize, DefaultPageSize)}
	}
	f := filter{
		Subject: q.Subject, SubjectsIn: q.SubjectsIn, Actor: q.Actor, Record: q.Record, Actions: q.Actions,
		Since: q.Since, Until: q.Until, CorrelationID: q.CorrelationID, CausedBy: q.CausedBy,
		Tags: q.Tags, Retracted: q.Retracted, Tenant: q.Tenant,
		keyOrder: true,
	}
	tx, err := d.filter(ctx, db, f)
	if err != nil {
		return nil, 0, err
	}
	if q.After != "" {
		at, id, err := q.After.decode()
		if err != nil {
			return nil, 0, err
		}
		// The plain bound repeats the row comparison's first column so
		// that the planner skips the partitions newer than the cursor.
		tx = tx.Where("(e.occurred_at, e.id) < (?, ?) AND e.occurred_at <= ?", at, id, at)
	}
	return tx.Select(d.selectCols("e.")).Order(f.keyOrderBy()).Limit(limit + 1), limit, nil
}

// Event loads one event by ID, or returns ErrEventNotFound.
func (d *Domain) Event(ctx context.Context, db *gorm.DB, id int64) (Event, error) {
	if db == nil {
		return Event{}, ErrNilDB
	}
	stmt, args, err := d.byID(ctx, d.sql.byID, d.sql.byIDAll, id)
	if err != nil {
		return Event{}, err
	}
	rows, err := query(ctx, db, stmt, args)
	if err != nil {
		return Event{}, fmt.Errorf("activity: load %s#%d: %w", d.name, id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Event{}, fmt.Errorf("activity: load %s#%d: %w", d.name, id, err)
		}
		return Event{}, fmt.Errorf("%w: %s#%d", ErrEventNotFound, d.name, id)
	}
	var e Event
	if err := d.scan(rows, &e); err != nil {
		return Event{}, fmt.Errorf("activity: load %s#%d: %w", d.name, id, err)
	}
	return e, rows.Close()
}

// filter holds the conditions feeds, counts and replays share.
type filter struct {
	Subject       any
	SubjectsIn    *gorm.DB
	Actor         any
	Record        any
	Actions       []string
	Since, Until  time.Time
	CorrelationID string
	CausedBy      *EventRef
	Tags          map[string]string
	Retracted     RetractedFilter
	Subjects      []string
	Tenant        any

	// keyOrder pins a newest-first page to the subject's (or the actor's)
	// own index. With a plain subject_id = $1, the planner, costing a hot
	// subject (a large share of the table) by its true frequency, prefers
	// walking the domain's time index and filtering: that reads every newer
	// event of every other subject first (200,000 rows and 30-70 ms for
	// the head of a subject holding 200,000 of 2,000,000 events whose
	// newest tenth belongs to others, in cmd/bench), and whether a prepared
	// statement gets that plan depends on its connection's history. So the
	// key is compared as a one-element array (= ANY keeps the true
	// estimate, unlike a subquery, which would cost every subject as an
	// average one and send hot ones to a bitmap scan and a sort), and the
	// page is ordered by the key column first (keyOrderBy): = ANY does not
	// make the key a constant of the sort, so only the key's own index
	// yields that order without sorting, and the time index drops out.
	keyOrder bool
}

// keyOrderBy is the ORDER BY of a newest-first page under f.
func (f filter) keyOrderBy() string {
	switch {
	case f.keyOrder && f.Subject != nil:
		return "e.subject_id, e.occurred_at DESC, e.id DESC"
	case f.keyOrder && f.Actor != nil:
		return "e.actor_type, e.occurred_at DESC, e.id DESC"
	}
	return "e.occurred_at DESC, e.id DESC"
}

func (d *Domain) filter(ctx context.Context, db *gorm.DB, f filter) (*gorm.DB, error) {
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Table(d.table + " e")
	tenant, all, err := d.readTenant(ctx, f.Tenant)
	if err != nil {
		return nil, err
	}
	if !all && tenantfilter.On {
		tx = tx.Where("e.tenant_id = ?::"+string(d.tenant), tenant)
	}
	if f.Subject != nil {
		s, err := d.subjectArg(f.Subject)
		if err != nil {
			return nil, err
		}
		if f.keyOrder {
			tx = tx.Where("e.subject_id = ANY (ARRAY[?::"+string(d.subject.KeyType)+"])", s)
		} else {
			tx = tx.Where("e.subject_id = ?", s)
		}
	}
	if f.SubjectsIn != nil {
		tx = tx.Where("e.subject_id IN (?)", f.SubjectsIn)
	}
	if f.Actor != nil {
		r, err := refOf(ctx, db, "actor", f.Actor)
		if err != nil {
			return nil, err
		}
		if f.keyOrder {
			tx = tx.Where("e.actor_type = ANY (ARRAY[?::text]) AND e.actor_id = ?", r.Type, r.ID)
		} else {
			tx = tx.Where("e.actor_type = ? AND e.actor_id = ?", r.Type, r.ID)
		}
	}
	if f.Record != nil {
		r, err := refOf(ctx, db, "record", f.Record)
		if err != nil {
			return nil, err
		}
		tx = tx.Where("e.record_type = ? AND e.record_id = ?", r.Type, r.ID)
	}
	if len(f.Actions) > 0 {
		for _, a := range f.Actions {
			if err := d.CheckAction(a); err != nil {
				return nil, err
			}
		}
		tx = tx.Where("e.action IN ?", d.withAliases(f.Actions))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return nil, &QueryError{Field: "Until", Reason: "is not after Since"}
	}
	if !f.Since.IsZero() {
		tx = tx.Where("e.occurred_at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		tx = tx.Where("e.occurred_at < ?", f.Until)
	}
	if f.CorrelationID != "" {
		tx = tx.Where("e.correlation_id = ?", f.CorrelationID)
	}
	if f.CausedBy != nil {
		tx = tx.Where("e.causation_domain = ? AND e.causation_id = ?", f.CausedBy.Domain, f.CausedBy.ID)
	}
	return d.historyFilter(tx, f)
}
