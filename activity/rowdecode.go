package activity

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The lean read of an event row (selected with selectCols) on a pgx
// connection: its raw values decoded by hand, where pgx's Scan of 27
// destinations costs about 45 allocations a row (a string each, a pointer
// each optional field, the scan plans). Here a row costs three: one string
// holding every text column (the fields are slices of it), one block
// holding the optional fields the pointers point into, the extra's bytes;
// and the tags' map when there are tags. The loader of the inbox worker
// reads every delivered event so, feeds their pages.
//
// The columns are checked once per query (eventScan.layout): any column of
// another type or format than expected, and the query is scanned instead.

// rowColumn is what decodeRow expects of a column.
type rowColumn uint8

const (
	colInt8 rowColumn = iota
	colInt4
	colInt2
	colText
	colJSONB
	colTime
)

// eventRowColumns are the columns of selectList, in order (a tenanted
// domain's tenant_id::text follows).
var eventRowColumns = [...]rowColumn{
	colInt8, colText, colText, colText, colText, colText, // id, subject_id, action, actor_type, actor_id, actor_label
	colText, colText, colText, colJSONB, // record_type, record_id, record_label, extra
	colTime, colTime, colTime, colInt4, // occurred_at, created_at, updated_at, repeats
	colText, colText, colText, colInt8, colInt2, // request_id, correlation_id, causation_domain, causation_id, depth
	colText, colText, colText, colText, // source, host(ip), user_agent, trace_parent
	colJSONB, colTime, colText, colText, // tags, retracted_at, retracted_by, retraction_reason
}

// eventOptionals is the block a decoded event's optional fields point into.
type eventOptionals struct {
	s           [12]string // in the order of optionalText
	causationID int64
	retractedAt time.Time
}

// optionalText are the columns of the event's *string fields, in the
// order of eventOptionals.s.
var optionalText = [12]int{6, 7, 8, 14, 15, 16, 19, 20, 21, 22, 25, 26}

// checkLayout reports whether r's columns are the event columns decodeRow
// knows, in binary format where it matters, with pgx's own timestamptz
// codec (times in the local zone).
func (es *eventScan) checkLayout(r pgx.Rows) bool {
	fds := r.FieldDescriptions()
	n := len(eventRowColumns)
	if es.tenanted {
		n++
	}
	if len(fds) != n {
		return false
	}
	for i, fd := range fds {
		want := colText
		if i < len(eventRowColumns) {
			want = eventRowColumns[i]
		}
		var ok bool
		switch want {
		case colText:
			ok = (fd.DataTypeOID == pgtype.TextOID || fd.DataTypeOID == pgtype.VarcharOID) &&
				(fd.Format == pgtype.BinaryFormatCode || fd.Format == pgtype.TextFormatCode) // the same bytes
		case colJSONB: // pgx asks for text; binary is a version byte, then the text
			ok = fd.DataTypeOID == pgtype.JSONBOID && (fd.Format == pgtype.BinaryFormatCode || fd.Format == pgtype.TextFormatCode)
			if fd.Format == pgtype.BinaryFormatCode {
				es.jsonbSkip |= 1 << i
			}
		case colInt8:
			ok = fd.DataTypeOID == pgtype.Int8OID && fd.Format == pgtype.BinaryFormatCode
		case colInt4:
			ok = fd.DataTypeOID == pgtype.Int4OID && fd.Format == pgtype.BinaryFormatCode
		case colInt2:
			ok = fd.DataTypeOID == pgtype.Int2OID && fd.Format == pgtype.BinaryFormatCode
		case colTime:
			ok = fd.DataTypeOID == pgtype.TimestamptzOID && fd.Format == pgtype.BinaryFormatCode
		}
		if !ok {
			return false
		}
	}
	conn := r.Conn()
	if conn == nil {
		return false
	}
	t, ok := conn.TypeMap().TypeForOID(pgtype.TimestamptzOID)
	if !ok {
		return false
	}
	c, ok := t.Codec.(*pgtype.TimestamptzCodec)
	return ok && c.ScanLocation == nil
}

// decodeRow decodes the current row of r into e; false when it cannot
// (the caller scans the row instead): a layout checkLayout refused, or a
// value out of what it decodes (an infinite time).
func (es *eventScan) decodeRow(r pgx.Rows, e *Event) bool {
	if es.layout == layoutUnknown {
		es.layout = layoutScan
		if es.checkLayout(r) {
			es.layout = layoutDecode
		}
	}
	if es.layout != layoutDecode {
		return false
	}
	vals := r.RawValues()
	if len(vals) != len(r.FieldDescriptions()) {
		return false
	}
	// Fixed-size values first: nothing is allocated until the row is
	// known to decode.
	if vals[0] == nil || vals[9] == nil || vals[10] == nil || vals[11] == nil || vals[12] == nil || vals[13] == nil || vals[18] == nil ||
		len(vals[0]) != 8 || len(vals[13]) != 4 || len(vals[18]) != 2 || vals[17] != nil && len(vals[17]) != 8 {
		return false
	}
	extra, ok := es.jsonb(vals, 9)
	if !ok {
		return false
	}
	tags, ok := es.jsonb(vals, 23)
	if !ok {
		return false
	}
	var times [4]time.Time
	for k, i := range [4]int{10, 11, 12, 24} {
		if vals[i] == nil {
			continue
		}
		t, ok := pgTime(vals[i])
		if !ok {
			return false
		}
		times[k] = t
	}

	// Every text column in one string.
	size := 0
	for i, v := range vals {
		if i >= len(eventRowColumns) || eventRowColumns[i] == colText {
			size += len(v)
		}
	}
	var b strings.Builder
	b.Grow(size)
	var at [29]int // where each text column starts in the string
	for i, v := range vals {
		if i >= len(eventRowColumns) || eventRowColumns[i] == colText {
			at[i] = b.Len()
			b.Write(v)
		}
	}
	s := b.String()
	text := func(i int) string { return s[at[i] : at[i]+len(vals[i])] }

	*e = Event{
		ID:        int64(binary.BigEndian.Uint64(vals[0])),
		Domain:    es.domain,
		SubjectID: text(1), Action: text(2),
		ActorType: text(3), ActorID: text(4), ActorLabel: text(5),
		Extra:      append([]byte(nil), extra...), // the values are the connection's buffer
		OccurredAt: times[0], CreatedAt: times[1], UpdatedAt: times[2],
		Repeats: int(int32(binary.BigEndian.Uint32(vals[13]))),
		Depth:   int(int16(binary.BigEndian.Uint16(vals[18]))),
	}
	var opt *eventOptionals
	optional := func() *eventOptionals {
		if opt == nil {
			opt = new(eventOptionals)
		}
		return opt
	}
	dests := [12]**string{&e.RecordType, &e.RecordID, &e.RecordLabel, &e.RequestID, &e.CorrelationID, &e.CausationDomain,
		&e.Source, &e.IP, &e.UserAgent, &e.TraceParent, &e.RetractedBy, &e.RetractionReason}
	for k, i := range optionalText {
		if vals[i] != nil {
			o := optional()
			o.s[k] = text(i)
			*dests[k] = &o.s[k]
		}
	}
	if vals[17] != nil {
		o := optional()
		o.causationID = int64(binary.BigEndian.Uint64(vals[17]))
		e.CausationID = &o.causationID
	}
	if vals[24] != nil {
		o := optional()
		o.retractedAt = times[3]
		e.RetractedAt = &o.retractedAt
	}
	if es.tenanted && vals[27] != nil {
		e.TenantID = text(27)
	}
	if tags != nil {
		if err := decodeTags(tags, &e.Tags); err != nil {
			return false
		}
	}
	return true
}

// jsonb returns the text of column i, a jsonb (nil when NULL); false
// when a binary value is not of the version it knows.
func (es *eventScan) jsonb(vals [][]byte, i int) ([]byte, bool) {
	v := vals[i]
	if v == nil || es.jsonbSkip&(1<<i) == 0 {
		return v, true
	}
	if len(v) == 0 || v[0] != 1 {
		return nil, false
	}
	return v[1:], true
}

// pgTime decodes a binary timestamptz as pgx does (time.Unix: the local
// zone); false for infinity.
func pgTime(v []byte) (time.Time, bool) {
	if len(v) != 8 {
		return time.Time{}, false
	}
	us := int64(binary.BigEndian.Uint64(v))
	if us == infinityMicros || us == -infinityMicros-1 {
		return time.Time{}, false
	}
	const y2k = 946_684_800 * 1_000_000 // microseconds from the Unix epoch to 2000-01-01
	return time.Unix(y2k/1_000_000+us/1_000_000, (y2k%1_000_000*1_000)+(us%1_000_000*1_000)), true
}

// infinityMicros is PostgreSQL's 'infinity' as a binary timestamptz
// ('-infinity' is its negation minus one).
const infinityMicros = 0x7fffffffffffffff

// eventScan's layout states.
const (
	layoutUnknown = iota // the query's first row not seen yet
	layoutDecode
	layoutScan
)
