package activity

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Result says what RecordEvent did.
type Result struct {
	// Event is the recorded event: the new row, or, when Throttled, the
	// existing row after its occurred_at moved and its repeat count grew.
	Event Event
	// Throttled is true when the call touched a recent event instead of
	// inserting one. A throttled call writes no outbox row: nothing new
	// fans out.
	Throttled bool
}

// RecordEvent records that action happened to subject (the subject row's
// key: an integer, a UUID or a string, matching the domain's KeyType).
//
// db is the pool or a transaction: in a transaction the event and its
// outbox row are part of it, and fan-out happens only if it commits; on the
// pool they commit on their own. Either way recording is one SQL statement
// and one round trip, and never touches Redis.
//
// Every bad input is refused before anything is written, with an error
// wrapping one of the package's sentinels (ErrUnknownAction,
// ErrInvalidSubject, ErrInvalidRef, ErrNoActor, ErrInvalidExtra,
// ErrInvalidOption, ErrCausationDepth, ErrNilDB).
func (d *Domain) RecordEvent(ctx context.Context, db *gorm.DB, subject any, action string, opts ...Option) (Result, error) {
	var res Result
	var err error
	if d.observer != nil { // metrics, tracing (see Observer)
		octx, end := d.observer.RecordStart(ctx, d, action)
		res, err = d.recordEvent(octx, db, subject, action, opts)
		end(res, err)
	} else {
		res, err = d.recordEvent(ctx, db, subject, action, opts)
	}
	if err == nil && !res.Throttled {
		d.committed.fire(db) // a relay in this process (OnCommitted)
	}
	return res, err
}

func (d *Domain) recordEvent(ctx context.Context, db *gorm.DB, subject any, action string, opts []Option) (Result, error) {
	if db == nil {
		return Result{}, ErrNilDB
	}
	action = d.Canonical(action)
	var c recordCall
	if err := applyOptions(&c, opts); err != nil {
		return Result{}, err
	}
	if c.throttled && c.throttle < 0 {
		return Result{}, &OptionError{Option: ThrottleWithin(c.throttle).String(), Reason: "the window is negative; use a positive duration, or 0 for no throttling"}
	}
	if c.throttle > 0 && !c.occurredAt.IsZero() {
		return Result{}, &OptionError{Option: OccurredAt(c.occurredAt).String(), Reason: "cannot be combined with ThrottleWithin: a throttle window is measured from now"}
	}
	md, err := d.metadata(ctx, c, action)
	if err != nil {
		return Result{}, err
	}
	tenant, err := d.recordTenant(ctx, c)
	if err != nil {
		return Result{}, err
	}
	r, err := d.prepareRow(ctx, db, subject, action, c)
	if err != nil {
		return Result{}, err
	}
	tagMap, tags, err := callTags(ctx, opts)
	if err != nil {
		return Result{}, err
	}
	now := d.now()
	occurred := r.occurredAt
	if occurred.IsZero() {
		occurred = now
	} else if err := d.checkFuture(occurred, now); err != nil {
		return Result{}, err
	} else if err := d.checkPartitions(ctx, db, []time.Time{occurred}); err != nil {
		return Result{}, err
	}
	wake := d.wake.take()
	if c.throttle <= 0 {
		return d.insert(ctx, db, subject, action, r, md, tagMap, tags, tenant, occurred, now, wake)
	}
	args := []any{
		r.subject, action, r.actor.Type, r.actor.ID, r.actor.Label,
		r.recType, r.recID, r.recLabel, r.extra,
		now, // p_now: a throttled call happens now (OccurredAt is refused)
		md.requestID, md.correlationID, md.causeDomain, md.causeID, md.depth,
		md.source, md.ip, md.userAgent, md.traceParent,
		c.throttle.Microseconds(), wake,
	}
	if d.tenant != "" {
		args = append(args, tenant)
	}
	if tx, ok := db.Statement.ConnPool.(*sql.Tx); ok {
		// On the transaction's pgx connection, as insert does.
		res := new(Result)
		direct, found, err := queryRowOnTx(ctx, tx, d.sql.throttle, args, func(row scanner) error {
			return d.scan(row, &res.Event, &res.Throttled)
		})
		if direct || err != nil {
			return d.throttledResult(ctx, db, subject, action, res, tags, found, err)
		}
	}
	var res Result
	found, err := queryRow(ctx, db, d.sql.throttle, args, func(row scanner) error {
		return d.scan(row, &res.Event, &res.Throttled)
	})
	return d.throttledResult(ctx, db, subject, action, &res, tags, found, err)
}

// throttledResult is a throttled call's result from what the throttle
// function returned: found and, read into res, the event and whether it
// was touched rather than inserted.
func (d *Domain) throttledResult(ctx context.Context, db *gorm.DB, subject any, action string, res *Result, tags sql.NullString, found bool, err error) (Result, error) {
	if err != nil {
		return Result{}, d.writeError(subject, action, err)
	}
	if !found {
		return Result{}, d.refused(ctx, db, subject, true)
	}
	if tags.Valid && !res.Throttled {
		if err := d.tagThrottled(ctx, db, &res.Event, tags); err != nil {
			return Result{}, d.writeError(subject, action, err)
		}
	}
	return *res, nil
}

// insert runs the domain's insert statement (event and outbox row, and
// the wake-up when wake): one statement, one round trip.
func (d *Domain) insert(ctx context.Context, db *gorm.DB, subject any, action string, r row, md meta, tagMap map[string]string, tags sql.NullString, tenant any, occurred, now time.Time, wake bool) (Result, error) {
	_, inTx := db.Statement.ConnPool.(gorm.TxCommitter)
	stmt := d.sql.insert[b2i(inTx || d.onDelete != Cascade)][b2i(wake)]
	a := d.newInsertCall(r, action, md, tags, tenant, occurred, now)
	args := a.argList(d.tenant != "")
	if tx, ok := db.Statement.ConnPool.(*sql.Tx); ok {
		// On the transaction's pgx connection (queryRowOnTx), into an
		// event of this branch's own on the heap: the pool's path keeps
		// its event and closure on the stack.
		e := new(Event)
		direct, found, err := queryRowOnTx(ctx, tx, stmt, args, func(row scanner) error { return a.read(row, e) })
		if direct || err != nil {
			return d.inserted(ctx, db, subject, action, r, a, e, tenant, tagMap, found, err)
		}
	}
	var e Event
	found, err := queryRow(ctx, db, stmt, args, func(row scanner) error { return a.read(row, &e) })
	return d.inserted(ctx, db, subject, action, r, a, &e, tenant, tagMap, found, err)
}

// inserted is insert's result from what its statement returned: found
// and, read into e, the new row's id and what else the database decided.
func (d *Domain) inserted(ctx context.Context, db *gorm.DB, subject any, action string, r row, a *insertCall, e *Event, tenant any, tagMap map[string]string, found bool, err error) (Result, error) {
	if err != nil {
		return Result{}, d.writeError(subject, action, err)
	}
	if !found {
		return Result{}, d.refused(ctx, db, subject, false)
	}
	a.event(d, e, r.subject, tenant, tagMap)
	return Result{Event: *e}, nil
}

// refused explains a recording statement that returned no row: it writes
// nothing, and so does not abort the caller's transaction, when the subject
// does not exist or (for the throttle function) the isolation level is too
// strict. The second case costs one more round trip, on this error path only.
func (d *Domain) refused(ctx context.Context, db *gorm.DB, subject any, throttled bool) error {
	if throttled {
		rows, err := query(ctx, db, "SELECT current_setting('transaction_isolation')", nil)
		if err == nil {
			var level string
			if rows.Next() && rows.Scan(&level) == nil && level != "read committed" {
				rows.Close()
				return &IsolationError{Level: level}
			}
			rows.Close()
		}
	}
	return d.missingSubject(subject)
}

func (d *Domain) missingSubject(subject any) error {
	return &SubjectError{Domain: d.name, Value: subject, Reason: fmt.Sprintf("does not exist in %s: no row has that %s", d.subject.Table, d.subject.Key)}
}

// writeError maps what PostgreSQL refused to the package's errors. The
// statements check the subject themselves; these codes come from a
// concurrent delete of the subject, or from a throttle function created by
// an earlier version of the domain's migration.
func (d *Domain) writeError(subject any, action string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "TD001":
			return &IsolationError{}
		case "23503": // foreign_key_violation
			return d.missingSubject(subject)
		case "23514": // check_violation: "no partition of relation ... found for row"
			if d.partition != nil && strings.HasPrefix(pgErr.Message, "no partition") {
				return &PartitionError{Domain: d.name}
			}
		}
	}
	return fmt.Errorf("activity: record %s %s: %w", d.name, action, err)
}

var sourceRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

func applyOptions(c *recordCall, opts []Option) error {
	for _, o := range opts {
		if o == nil {
			return &OptionError{Option: "options", Reason: "contain a nil Option"}
		}
		o.applyRecord(c)
	}
	return nil
}

// row is one event's own columns, checked and ready to bind.
type row struct {
	subject                  any
	actor                    Ref
	recType, recID, recLabel sql.NullString
	extra                    string
	occurredAt               time.Time // zero: now
}

// prepareRow checks the per-event part of a call: subject, action, actor,
// record, extra and time.
func (d *Domain) prepareRow(ctx context.Context, db *gorm.DB, subject any, action string, c recordCall) (row, error) {
	var r row
	if err := d.CheckAction(action); err != nil {
		return r, err
	}
	subj, err := d.subjectArg(subject)
	if err != nil {
		return r, err
	}
	r.subject = subj
	actorV := c.actor
	if !c.hasActor {
		a, ok := ActorFrom(ctx)
		if !ok {
			return r, ErrNoActor
		}
		actorV = a
	}
	if r.actor, err = refOf(ctx, db, "actor", actorV); err != nil {
		return r, err
	}
	if c.hasRecord {
		rec, err := refOf(ctx, db, "record", c.record)
		if err != nil {
			return r, err
		}
		r.recType, r.recID = nullString(rec.Type), nullString(rec.ID)
		r.recLabel = sql.NullString{String: rec.Label, Valid: true}
	}
	if r.extra, err = d.encodeExtra(c.extra); err != nil {
		return r, err
	}
	if err := d.checkExtraShape(action, r.extra); err != nil {
		return r, err
	}
	if t := c.occurredAt; !t.IsZero() && (t.Before(minOccurredAt) || !t.Before(maxOccurredAt)) {
		return r, &OptionError{Option: "OccurredAt", Reason: fmt.Sprintf("%s is out of range: use a time from year 1 to year 9999", t.UTC().Format(time.RFC3339))}
	}
	r.occurredAt = c.occurredAt
	return r, nil
}

// meta is a call's metadata columns, shared by every event it records.
type meta struct {
	requestID, correlationID, causeDomain, source, ip, userAgent, traceParent sql.NullString
	causeID                                                                   sql.NullInt64
	depth                                                                     int
}

// metadata checks the context's metadata and cause (and a Meta option) and
// returns the columns they fill.
func (d *Domain) metadata(ctx context.Context, c recordCall, action string) (meta, error) {
	var m meta
	md := MetadataFrom(ctx)
	if tp, _ := ctx.Value(traceParentKey{}).(string); tp != "" { // a tracing Observer's (WithTraceParent)
		md.TraceParent = tp
	}
	if c.hasMeta {
		md = mergeMetadata(md, c.meta)
	}
	if cause, ok := CauseFrom(ctx); ok {
		m.depth = cause.Depth + 1
		if m.depth > d.maxDepth {
			return m, &DepthError{Domain: d.name, Action: action, Cause: cause.Event, Depth: m.depth, Max: d.maxDepth}
		}
		m.causeDomain = nullString(cause.Event.Domain)
		m.causeID = sql.NullInt64{Int64: cause.Event.ID, Valid: cause.Event.ID != 0}
		if md.CorrelationID == "" {
			md.CorrelationID = cause.CorrelationID
		}
		if md.Source == "" {
			md.Source = "job"
		}
	}
	if md.CorrelationID == "" {
		md.CorrelationID = md.RequestID
	}
	if md.Source != "" && !sourceRE.MatchString(md.Source) {
		return m, &OptionError{Option: "Metadata.Source", Reason: fmt.Sprintf("%+q is not allowed: use a lower-case word of at most 32 bytes, like web, api, console or job", md.Source)}
	}
	if md.IP != "" {
		addr, err := netip.ParseAddr(md.IP)
		if err != nil {
			return m, &OptionError{Option: "Metadata.IP", Reason: fmt.Sprintf("%+q is not an IP address (IPv4 or IPv6, without a port)", md.IP)}
		}
		if addr.Zone() != "" {
			return m, &OptionError{Option: "Metadata.IP", Reason: fmt.Sprintf("%+q has a zone (%%%s), which PostgreSQL's inet cannot store: pass the address without it", md.IP, addr.Zone())}
		}
		m.ip = nullString(addr.String())
	}
	if len(md.RequestID) > 128 || len(md.CorrelationID) > 128 {
		return m, &OptionError{Option: "Metadata", Reason: "request and correlation ids are limited to 128 bytes"}
	}
	for _, f := range []struct{ name, v string }{
		{"RequestID", md.RequestID}, {"CorrelationID", md.CorrelationID}, {"UserAgent", md.UserAgent},
	} {
		if p := textProblem(f.v); p != "" {
			return m, &OptionError{Option: "Metadata." + f.name, Reason: fmt.Sprintf("%+q %s", truncate(f.v, 64), p)}
		}
	}
	m.requestID, m.correlationID = nullString(md.RequestID), nullString(md.CorrelationID)
	m.source, m.userAgent = nullString(md.Source), nullString(truncate(md.UserAgent, 512))
	if md.TraceParent != "" && !ValidTraceParent(md.TraceParent) {
		return m, &OptionError{Option: "Metadata.TraceParent", Reason: fmt.Sprintf("%+q is not a W3C traceparent (00-<32 hex trace id>-<16 hex span id>-<2 hex flags>, lower case)", truncate(md.TraceParent, 80))}
	}
	m.traceParent = nullString(md.TraceParent)
	return m, nil
}

func mergeMetadata(base, over Metadata) Metadata {
	if over.RequestID != "" {
		base.RequestID = over.RequestID
	}
	if over.CorrelationID != "" {
		base.CorrelationID = over.CorrelationID
	}
	if over.Source != "" {
		base.Source = over.Source
	}
	if over.IP != "" {
		base.IP = over.IP
	}
	if over.UserAgent != "" {
		base.UserAgent = over.UserAgent
	}
	if over.TraceParent != "" {
		base.TraceParent = over.TraceParent
	}
	return base
}

// encodeExtra encodes extra as a JSON object within the size limit.
func (d *Domain) encodeExtra(v any) (string, error) {
	if v == nil {
		return "{}", nil
	}
	var b []byte
	var buf [512]byte // the usual extra's encoding, copied once into the string returned
	marshalled := true
	switch x := v.(type) {
	case json.RawMessage:
		if !json.Valid(x) {
			return "", &ExtraError{Limit: d.maxExtra, Reason: "is a json.RawMessage that is not valid JSON"}
		}
		b, marshalled = x, false
	case map[string]any: // Extra
		var ok bool
		if b, ok = appendFlatExtra(buf[:0], x); ok {
			break
		}
		var err error
		b, err = json.Marshal(v)
		if err != nil {
			return "", &ExtraError{Limit: d.maxExtra, Reason: "cannot be encoded as JSON", Err: err}
		}
	default:
		var err error
		b, err = json.Marshal(v)
		if err != nil {
			return "", &ExtraError{Limit: d.maxExtra, Reason: "cannot be encoded as JSON", Err: err}
		}
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		if string(t) == "null" {
			return "{}", nil
		}
		return "", &ExtraError{Limit: d.maxExtra, Reason: fmt.Sprintf("must encode as a JSON object, got %.40s", string(t))}
	}
	if len(b) > d.maxExtra {
		return "", &ExtraError{Size: len(b), Limit: d.maxExtra, Reason: fmt.Sprintf("is %d bytes encoded, over the domain's limit of %d (DomainConfig.MaxExtraBytes)", len(b), d.maxExtra)}
	}
	p, grow := jsonProblem(b, marshalled)
	if p != "" {
		return "", &ExtraError{Size: len(b), Limit: d.maxExtra, Reason: p}
	}
	if size := len(b) + grow; size > d.maxExtra {
		return "", &ExtraError{Size: size, Limit: d.maxExtra, Reason: fmt.Sprintf("is %d bytes once PostgreSQL writes its numbers out in full (%d encoded: jsonb gives 1e6 back as 1000000), over the domain's limit of %d (DomainConfig.MaxExtraBytes)", size, len(b), d.maxExtra)}
	}
	return string(b), nil
}
