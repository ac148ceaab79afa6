package activity

import (
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// insertCall is one RecordEvent's insert statement (not a throttled
// call's): its arguments, and what makes up the event it returns, in one
// allocation. Recording is the hot path, and a call's garbage is client
// CPU taken from PostgreSQL on a small machine, so:
//
//   - every argument is a pointer to a pgtype value of this struct, which
//     pgx encodes through its Valuer interfaces without a copy, where a
//     string, time or sql.NullString in an interface is an allocation each
//     (and an encode-time wrapper for a time);
//   - the statement returns only what the database decides (the id, the
//     extra as jsonb writes it out, the address as inet writes it out);
//     every other column of the new row is what was sent, so the event is
//     built from these values, its optional fields pointing into them.
//     Times are sent cut to microseconds, which PostgreSQL stores exactly,
//     so the event's times are the row's in every protocol.
//
// See BenchmarkRecordEvent, and TestRecordEventReturnsTheRow, which holds
// the event returned to the row read back.
type insertCall struct {
	subjectInt                             pgtype.Int8
	subjectText                            pgtype.Text
	subjectUUID                            pgtype.UUID
	action, actorType, actorID, actorLabel pgtype.Text
	recType, recID, recLabel               pgtype.Text
	extra                                  pgtype.Text
	occurred, now                          pgtype.Timestamptz
	requestID, correlationID, causeDomain  pgtype.Text
	causeID, depth                         pgtype.Int8
	source, ip, userAgent, traceParent     pgtype.Text
	tags                                   pgtype.Text
	tenantInt                              pgtype.Int8
	tenantText                             pgtype.Text
	tenantUUID                             pgtype.UUID

	ipOut pgtype.Text // host(ip) as returned
	args  [23]any
}

// keyParam sets one of i, t, u to the key v (an int64, or a string of the
// key type's canonical text, as subjectArg and tenantArg return) and
// returns a pointer to it, the statement's argument. A uuid goes as its 16
// bytes, its parameter's type.
func keyParam(kt KeyType, v any, i *pgtype.Int8, t *pgtype.Text, u *pgtype.UUID) any {
	switch x := v.(type) {
	case int64:
		*i = pgtype.Int8{Int64: x, Valid: true}
		return i
	case string:
		if kt == KeyUUID {
			if b, ok := uuidBytes(x); ok {
				*u = pgtype.UUID{Bytes: b, Valid: true}
				return u
			}
		}
		*t = pgtype.Text{String: x, Valid: true}
		return t
	}
	return v
}

// uuidBytes parses the canonical form of a UUID (8-4-4-4-12 hex digits).
func uuidBytes(s string) (b [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, false
	}
	var h [32]byte
	copy(h[0:8], s[0:8])
	copy(h[8:12], s[9:13])
	copy(h[12:16], s[14:18])
	copy(h[16:20], s[19:23])
	copy(h[20:32], s[24:36])
	_, err := hex.Decode(b[:], h[:])
	return b, err == nil
}

// keyText is a key argument's text form, as PostgreSQL's ::text gives it
// back (subjectArg and tenantArg return uuids in lower case).
func keyText(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case string:
		return x
	case nil:
		return ""
	}
	return keyString(v)
}

// micros cuts t to the microseconds PostgreSQL keeps.
func micros(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// newInsertCall fills the arguments of the domain's insert statement.
func (d *Domain) newInsertCall(r row, action string, md meta, tags sql.NullString, tenant any, occurred, now time.Time) *insertCall {
	a := &insertCall{
		action:    pgtype.Text{String: action, Valid: true},
		actorType: pgtype.Text{String: r.actor.Type, Valid: true}, actorID: pgtype.Text{String: r.actor.ID, Valid: true},
		actorLabel: pgtype.Text{String: r.actor.Label, Valid: true},
		recType:    pgtype.Text(r.recType), recID: pgtype.Text(r.recID), recLabel: pgtype.Text(r.recLabel),
		extra:     pgtype.Text{String: r.extra, Valid: true},
		occurred:  pgtype.Timestamptz{Time: micros(occurred), Valid: true},
		now:       pgtype.Timestamptz{Time: micros(now), Valid: true},
		requestID: pgtype.Text(md.requestID), correlationID: pgtype.Text(md.correlationID), causeDomain: pgtype.Text(md.causeDomain),
		causeID: pgtype.Int8(md.causeID), depth: pgtype.Int8{Int64: int64(md.depth), Valid: true},
		source: pgtype.Text(md.source), ip: pgtype.Text(md.ip), userAgent: pgtype.Text(md.userAgent), traceParent: pgtype.Text(md.traceParent),
		tags: pgtype.Text(tags),
	}
	a.args = [23]any{
		keyParam(d.subject.KeyType, r.subject, &a.subjectInt, &a.subjectText, &a.subjectUUID),
		&a.action, &a.actorType, &a.actorID, &a.actorLabel, &a.recType, &a.recID, &a.recLabel, &a.extra,
		&a.occurred, &a.now, &a.now,
		&a.requestID, &a.correlationID, &a.causeDomain, &a.causeID, &a.depth,
		&a.source, &a.ip, &a.userAgent, &a.traceParent, &a.tags,
	}
	if d.tenant != "" {
		a.args[22] = keyParam(d.tenant, tenant, &a.tenantInt, &a.tenantText, &a.tenantUUID)
	}
	return a
}

// argList is the statement's argument list.
func (a *insertCall) argList(tenanted bool) []any {
	if tenanted {
		return a.args[:23]
	}
	return a.args[:22]
}

// read reads the insert's one row (id, extra, host(ip)) into e. On a pgx
// connection (the pool's, or a transaction's: see queryRowOnTx) it decodes
// the row's raw values, whose types it knows, in either format; elsewhere
// (database/sql on another driver) it scans.
func (a *insertCall) read(s scanner, e *Event) error {
	if r, ok := s.(pgx.Rows); ok {
		if a.decode(r, e) {
			return nil
		}
		var extra []byte
		if err := r.Scan(&e.ID, &extra, &a.ipOut); err != nil {
			return err
		}
		e.Extra = extra
		return nil
	}
	// The arguments are sent: their array holds the destinations. A
	// *[]byte gets a copy of the driver's bytes; pgtype.Text is a Scanner.
	dest := a.args[:3]
	dest[0], dest[1], dest[2] = &e.ID, (*[]byte)(&e.Extra), &a.ipOut
	return s.Scan(dest...)
}

// decode reads the row from its raw values; false when they are not the
// expected columns in a format it knows (the caller then scans).
func (a *insertCall) decode(r pgx.Rows, e *Event) bool {
	fds, vals := r.FieldDescriptions(), r.RawValues()
	if len(fds) != 3 || len(vals) != 3 || vals[0] == nil || vals[1] == nil ||
		fds[0].DataTypeOID != pgtype.Int8OID || fds[1].DataTypeOID != pgtype.JSONBOID || fds[2].DataTypeOID != pgtype.TextOID {
		return false
	}
	switch fds[0].Format {
	case pgtype.BinaryFormatCode:
		if len(vals[0]) != 8 {
			return false
		}
		e.ID = int64(binary.BigEndian.Uint64(vals[0]))
	case pgtype.TextFormatCode:
		id, err := strconv.ParseInt(string(vals[0]), 10, 64)
		if err != nil {
			return false
		}
		e.ID = id
	default:
		return false
	}
	extra := vals[1]
	switch fds[1].Format {
	case pgtype.BinaryFormatCode: // a version byte, then the text
		if len(extra) == 0 || extra[0] != 1 {
			return false
		}
		extra = extra[1:]
	case pgtype.TextFormatCode:
	default:
		return false
	}
	if fds[2].Format != pgtype.BinaryFormatCode && fds[2].Format != pgtype.TextFormatCode {
		return false // text is the same bytes in both
	}
	e.Extra = append([]byte(nil), extra...) // the values are the connection's buffer
	if vals[2] != nil {
		a.ipOut = pgtype.Text{String: string(vals[2]), Valid: true}
	}
	return true
}

// event completes e, whose ID and Extra read set, from the arguments: the
// rest of the new row.
func (a *insertCall) event(d *Domain, e *Event, subject, tenant any, tags map[string]string) {
	e.Domain = d.name
	e.SubjectID = keyText(subject)
	e.Action = a.action.String
	e.ActorType, e.ActorID, e.ActorLabel = a.actorType.String, a.actorID.String, a.actorLabel.String
	e.RecordType, e.RecordID, e.RecordLabel = textPtr(&a.recType), textPtr(&a.recID), textPtr(&a.recLabel)
	// Times as pgx reads a timestamptz: in the local time zone.
	e.OccurredAt, e.CreatedAt, e.UpdatedAt = a.occurred.Time.Local(), a.now.Time.Local(), a.now.Time.Local()
	e.RequestID, e.CorrelationID, e.CausationDomain = textPtr(&a.requestID), textPtr(&a.correlationID), textPtr(&a.causeDomain)
	if a.causeID.Valid {
		e.CausationID = &a.causeID.Int64
	}
	e.Depth = int(a.depth.Int64)
	e.Source, e.IP, e.UserAgent, e.TraceParent = textPtr(&a.source), textPtr(&a.ipOut), textPtr(&a.userAgent), textPtr(&a.traceParent)
	if len(tags) > 0 {
		e.Tags = maps.Clone(tags) // the caller's map stays the caller's
	}
	if d.tenant != "" {
		e.TenantID = keyText(tenant)
	}
}

func textPtr(t *pgtype.Text) *string {
	if !t.Valid {
		return nil
	}
	return &t.String
}
