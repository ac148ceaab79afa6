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
	if db == nil {
		return Result{}, ErrNilDB
	}
	action = d.Canonical(action)
	args, throttle, err := d.prepare(ctx, db, subject, action, opts)
	if err != nil {
		return Result{}, err
	}
	tags, err := tagsArg(ctx, opts)
	if err != nil {
		return Result{}, err
	}
	stmt := d.sql.insert
	if throttle <= 0 {
		args = append(args, tags)
	}
	if throttle > 0 {
		stmt = d.sql.throttle
		args = append(args[:10], args[12:]...) // the function takes p_now once
		args = append(args, throttle.Microseconds(), d.notify)
	}
	rows, err := query(ctx, db, stmt, args)
	if err != nil {
		return Result{}, d.writeError(action, err)
	}
	defer rows.Close()
	var res Result
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Result{}, d.writeError(action, err)
		}
		return Result{}, fmt.Errorf("activity: record %s %s: the statement returned no row", d.name, action)
	}
	if err := scanEvent(rows, d.name, &res.Event, &res.Throttled); err != nil {
		return Result{}, d.writeError(action, err)
	}
	if err := rows.Close(); err != nil {
		return Result{}, d.writeError(action, err)
	}
	if throttle > 0 && tags.Valid && !res.Throttled {
		if err := d.tagThrottled(ctx, db, &res.Event, tags); err != nil {
			return Result{}, d.writeError(action, err)
		}
	}
	return res, nil
}

func (d *Domain) writeError(action string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "TD001":
			return fmt.Errorf("%w (%s)", ErrThrottleIsolation, pgErr.Message)
		case "23503": // foreign_key_violation
			return &SubjectError{Domain: d.name, Value: pgErr.Detail, Reason: "does not exist in " + d.subject.Table}
		}
	}
	return fmt.Errorf("activity: record %s %s: %w", d.name, action, err)
}

var sourceRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// prepare validates a call and returns the insert statement's arguments.
func (d *Domain) prepare(ctx context.Context, db *gorm.DB, subject any, action string, opts []Option) ([]any, time.Duration, error) {
	if err := d.CheckAction(action); err != nil {
		return nil, 0, err
	}
	subj, err := d.subjectArg(subject)
	if err != nil {
		return nil, 0, err
	}
	var c recordCall
	for _, o := range opts {
		if o == nil {
			return nil, 0, &OptionError{Option: "options", Reason: "contain a nil Option"}
		}
		o.applyRecord(&c)
	}
	if c.throttled && c.throttle < 0 {
		return nil, 0, &OptionError{Option: ThrottleWithin(c.throttle).String(), Reason: "the window is negative; use a positive duration, or 0 for no throttling"}
	}
	if c.throttle > 0 && !c.occurredAt.IsZero() {
		return nil, 0, &OptionError{Option: OccurredAt(c.occurredAt).String(), Reason: "cannot be combined with ThrottleWithin: a throttle window is measured from now"}
	}

	actorV := c.actor
	if !c.hasActor {
		a, ok := ActorFrom(ctx)
		if !ok {
			return nil, 0, ErrNoActor
		}
		actorV = a
	}
	actor, err := refOf(ctx, db, "actor", actorV)
	if err != nil {
		return nil, 0, err
	}
	var recType, recID, recLabel sql.NullString
	if c.hasRecord {
		rec, err := refOf(ctx, db, "record", c.record)
		if err != nil {
			return nil, 0, err
		}
		recType, recID = nullString(rec.Type), nullString(rec.ID)
		recLabel = sql.NullString{String: rec.Label, Valid: true}
	}

	extra, err := d.encodeExtra(c.extra)
	if err != nil {
		return nil, 0, err
	}
	if err := d.checkExtraShape(action, extra); err != nil {
		return nil, 0, err
	}

	md := MetadataFrom(ctx)
	if c.hasMeta {
		md = mergeMetadata(md, c.meta)
	}
	var causeDomain sql.NullString
	var causeID sql.NullInt64
	depth := 0
	if cause, ok := CauseFrom(ctx); ok {
		depth = cause.Depth + 1
		if depth > d.maxDepth {
			return nil, 0, &DepthError{Domain: d.name, Action: action, Cause: cause.Event, Depth: depth, Max: d.maxDepth}
		}
		causeDomain = nullString(cause.Event.Domain)
		causeID = sql.NullInt64{Int64: cause.Event.ID, Valid: cause.Event.ID != 0}
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
		return nil, 0, &OptionError{Option: "Metadata.Source", Reason: fmt.Sprintf("%q is not allowed: use a lower-case word of at most 32 bytes, like web, api, console or job", md.Source)}
	}
	var ip sql.NullString
	if md.IP != "" {
		addr, err := netip.ParseAddr(md.IP)
		if err != nil {
			return nil, 0, &OptionError{Option: "Metadata.IP", Reason: fmt.Sprintf("%q is not an IP address (IPv4 or IPv6, without a port)", md.IP)}
		}
		ip = nullString(addr.String())
	}
	if len(md.RequestID) > 128 || len(md.CorrelationID) > 128 {
		return nil, 0, &OptionError{Option: "Metadata", Reason: "request and correlation ids are limited to 128 bytes"}
	}

	now := d.now()
	occurred := now
	if !c.occurredAt.IsZero() {
		occurred = c.occurredAt
	}
	return []any{
		subj, action, actor.Type, actor.ID, truncate(actor.Label, 200),
		recType, recID, recLabel, extra,
		occurred, now, now,
		nullString(md.RequestID), nullString(md.CorrelationID), causeDomain, causeID, depth,
		nullString(md.Source), ip, nullString(truncate(md.UserAgent, 512)),
	}, c.throttle, nil
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
	return base
}

// encodeExtra encodes extra as a JSON object within the size limit.
func (d *Domain) encodeExtra(v any) (string, error) {
	if v == nil {
		return "{}", nil
	}
	var b []byte
	switch x := v.(type) {
	case json.RawMessage:
		if !json.Valid(x) {
			return "", &ExtraError{Limit: d.maxExtra, Reason: "is a json.RawMessage that is not valid JSON"}
		}
		b = x
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
		return "", &ExtraError{Limit: d.maxExtra, Reason: fmt.Sprintf("must encode as a JSON object, got %.40s", t)}
	}
	if len(b) > d.maxExtra {
		return "", &ExtraError{Size: len(b), Limit: d.maxExtra, Reason: fmt.Sprintf("is %d bytes encoded, over the domain's limit of %d (DomainConfig.MaxExtraBytes)", len(b), d.maxExtra)}
	}
	return string(b), nil
}
