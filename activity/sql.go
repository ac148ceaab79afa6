package activity

import (
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// eventColumns lists the columns every read selects, in scanEvent's order.
var eventColumns = []string{
	"id", "subject_id::text", "action", "actor_type", "actor_id", "actor_label",
	"record_type", "record_id", "record_label", "extra", "occurred_at", "created_at",
	"updated_at", "repeats", "request_id", "correlation_id", "causation_domain",
	"causation_id", "depth", "source", "host(ip)", "user_agent", "trace_parent",
	"tags", "retracted_at", "retracted_by", "retraction_reason",
}

// selectList renders eventColumns, each qualified by prefix ("e." or "(t.ev).").
func selectList(prefix string) string {
	var b strings.Builder
	for i, c := range eventColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case strings.HasPrefix(c, "host("):
			b.WriteString("host(" + prefix + "ip)")
		case strings.HasSuffix(c, "::text"):
			b.WriteString(prefix + c)
		default:
			b.WriteString(prefix + c)
		}
	}
	return b.String()
}

type scanner interface{ Scan(dest ...any) error }

// eventScan scans rows of one domain's events (selected with its
// selectCols), after any leading columns. One eventScan reused across the
// rows of a query keeps one list of destinations: a row has 27 or 28 of
// them, 430 bytes a row otherwise.
type eventScan struct {
	domain   string
	tenanted bool // a tenant_id column follows the event's
	dest     []any
	// on a pgx connection, for the query (rowdecode.go): whether decodeRow
	// can decode its rows, and the jsonb columns that come in binary
	layout    int
	jsonbSkip uint32
}

func (es *eventScan) scan(s scanner, e *Event, pre ...any) error {
	if r, ok := s.(pgx.Rows); ok && len(pre) == 0 && es.decodeRow(r, e) {
		return nil
	}
	var extra, tags []byte
	es.dest = append(append(es.dest[:0], pre...),
		&e.ID, &e.SubjectID, &e.Action, &e.ActorType, &e.ActorID, &e.ActorLabel,
		&e.RecordType, &e.RecordID, &e.RecordLabel, &extra, &e.OccurredAt, &e.CreatedAt,
		&e.UpdatedAt, &e.Repeats, &e.RequestID, &e.CorrelationID, &e.CausationDomain,
		&e.CausationID, &e.Depth, &e.Source, &e.IP, &e.UserAgent, &e.TraceParent,
		&tags, &e.RetractedAt, &e.RetractedBy, &e.RetractionReason,
	)
	if es.tenanted {
		es.dest = append(es.dest, &e.TenantID)
	}
	err := s.Scan(es.dest...)
	clear(es.dest) // the row's pointers stay reachable from the page only
	if err != nil {
		return err
	}
	if err := decodeTags(tags, &e.Tags); err != nil {
		return err
	}
	e.Domain = es.domain
	e.Extra = extra // a copy: pgx and database/sql both copy into a *[]byte
	return nil
}

// domainSQL holds a domain's statements, built once at declaration from
// validated identifiers only.
type domainSQL struct {
	// insert is one statement, event + outbox row, by [in a transaction:
	// subject checked][with the rate-limited wake-up (see waker)].
	insert   [2][2]string
	throttle string // one statement: the domain's throttle function
	bulk     string // one statement: N events + their outbox rows, from arrays
	bulkWake string // bulk, plus the rate-limited wake-up
	byID     string
	byIDs    string // ANY of a bigint[] parameter
	// byIDAll and byIDsAll are byID and byIDs across tenants (a tenanted
	// domain's byID and byIDs take the tenant as their last parameter).
	byIDAll  string
	byIDsAll string
	// uncovered finds times no partition holds (partitioned domains)
	uncovered string
}

const insertColumns = "subject_id, action, actor_type, actor_id, actor_label, record_type, record_id, record_label, extra, occurred_at, created_at, updated_at, request_id, correlation_id, causation_domain, causation_id, depth, source, ip, user_agent, trace_parent"

func buildDomainSQL(d *Domain) domainSQL {
	key := string(d.subject.KeyType)
	// A tenanted domain's statements write and read tenant_id too: these
	// fragments are empty for an untenanted domain, whose SQL is unchanged.
	var tCol, tVal, tOut, tOutSel, tWhere string
	if d.tenant != "" {
		tCol, tVal = ", tenant_id", ", ?::"+string(d.tenant)
		tOut, tOutSel = ", tenant_id", ", tenant_id::text"
		tWhere = " AND e.tenant_id = ?::" + string(d.tenant)
	}
	sel := d.selectCols("e.")
	insert := func(notify string, checked bool) string {
		// In a caller's transaction the subject is checked in the
		// statement: a missing one inserts nothing and returns no row,
		// where the foreign key's error would abort the transaction. On
		// the pool (autocommit) the foreign key alone decides: its error
		// aborts only this statement, and the check would cost an index
		// probe per event (measured: 7-10% of recording throughput).
		// Without the foreign key (KeepHistory, the default) the check
		// is the only guard, so every statement carries it, pool or not.
		//
		// The statement returns what the database decides of the new row:
		// its id, its extra as jsonb writes it out, its address as inet
		// does. The rest is what was sent (see insertCall). The address
		// arrives as text, which pgx sends without a copy.
		values := fmt.Sprintf(`VALUES (?::%[1]s, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::text::inet, ?, ?, ?::jsonb%[2]s) `, key, tVal)
		if checked {
			values = fmt.Sprintf(`SELECT ?::%[1]s, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::text::inet, ?, ?, ?::jsonb%[4]s `+
				`WHERE EXISTS (SELECT 1 FROM %[2]s WHERE %[3]s = $1::%[1]s) `, key, d.subject.Table, d.subject.Key, tVal)
		}
		return fmt.Sprintf(`WITH ev AS (INSERT INTO %[1]s (%[2]s, tags%[7]s) %[6]sRETURNING id, action, subject_id, extra, ip%[7]s), `+
			`ob AS (INSERT INTO %[3]s (domain, event_id, action, subject_id%[8]s) SELECT '%[4]s', id, action, subject_id::text%[9]s FROM ev) `+
			`SELECT e.id, e.extra, host(e.ip) FROM ev e%[5]s`,
			d.table, insertColumns, OutboxTable, d.name, notify, values, tCol, tOut, tOutSel)
	}
	wake := fmt.Sprintf(" CROSS JOIN LATERAL (SELECT pg_notify('%s', '%s')) n", OutboxChannel, d.name)
	bulkWake := fmt.Sprintf(" CROSS JOIN (SELECT pg_notify('%s', '%s')) n", OutboxChannel, d.name)
	// Bulk: one array per column, zipped by unnest; the outbox rows follow
	// the events in the same statement. The subject arrives as text and is
	// cast to the key type (bigint and uuid parse it; text keeps it).
	// Per-event columns come as arrays; the metadata shared by the whole
	// call as scalars.
	// A missing subject inserts nothing (all or nothing) and comes back as
	// the single row's first column, the event columns NULL.
	bulkTenant := "" // the m.tn column of a tenanted domain
	if d.tenant != "" {
		bulkTenant = ", tn"
	}
	bulk := func(notify string) string {
		return fmt.Sprintf(`WITH u AS (SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[]) `+
			`WITH ORDINALITY AS u(s, a, at, ai, al, rt, ri, rl, x, o, n)), `+
			`missing AS (SELECT u.s FROM u WHERE NOT EXISTS (SELECT 1 FROM %[7]s t WHERE t.%[8]s = u.s::%[3]s) LIMIT 1), `+
			`ev AS (INSERT INTO %[1]s (%[2]s, tags%[10]s) `+
			`SELECT s::%[3]s, a, at, ai, al, rt, ri, rl, x::jsonb, o, m.c, m.c, m.rq, m.co, m.cd, m.ci, m.dp, m.so, m.ip, m.ua, m.tp, m.tg%[12]s `+
			`FROM u CROSS JOIN (SELECT ?::timestamptz, ?::text, ?::text, ?::text, ?::bigint, ?::smallint, ?::text, ?::inet, ?::text, ?::text, ?::jsonb%[11]s) AS m(c, rq, co, cd, ci, dp, so, ip, ua, tp, tg%[12]s) `+
			`WHERE NOT EXISTS (SELECT 1 FROM missing) ORDER BY u.n RETURNING *), `+
			`ob AS (INSERT INTO %[4]s (domain, event_id, action, subject_id%[13]s) SELECT '%[5]s', id, action, subject_id::text%[14]s FROM ev ORDER BY id) `+
			`SELECT (SELECT s FROM missing), %[6]s FROM ev e RIGHT JOIN (SELECT 1) one ON true%[9]s ORDER BY e.id`,
			d.table, insertColumns, key, OutboxTable, d.name, sel, d.subject.Table, d.subject.Key, notify, tCol, tVal, bulkTenant, tOut, tOutSel)
	}
	throttle := fmt.Sprintf(`SELECT t.throttled, %[1]s FROM %[2]s_record_throttled(?::%[3]s, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?, ?::inet, ?, ?, ? * interval '1 microsecond', ?%[4]s) t`,
		d.selectCols("(t.ev)."), d.table, key, tVal)
	byIDAll := fmt.Sprintf(`SELECT %s FROM %s e WHERE e.id = ?`, sel, d.table)
	byIDsAll := fmt.Sprintf(`SELECT %s FROM %s e WHERE e.id = ANY(?::bigint[])`, sel, d.table)
	byID, byIDs := byIDAll+tWhere, byIDsAll+tWhere
	var ins [2][2]string
	for _, checked := range []bool{false, true} {
		for _, woken := range []bool{false, true} {
			n := ""
			if woken {
				n = wake
			}
			ins[b2i(checked)][b2i(woken)] = numbered(insert(n, checked))
		}
	}
	return domainSQL{insert: ins, throttle: numbered(throttle),
		bulk: numbered(bulk("")), bulkWake: numbered(bulk(bulkWake)), byID: numbered(byID), byIDs: numbered(byIDs),
		byIDAll: numbered(byIDAll), byIDsAll: numbered(byIDsAll), uncovered: uncoveredSQL(d)}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
