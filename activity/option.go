package activity

import (
	"encoding/json"
	"fmt"
	"time"
)

// Option adjusts one RecordEvent call. Options are small values that print
// themselves, so a logged call says what it asked for.
type Option interface {
	applyRecord(*recordCall)
	String() string
}

type recordCall struct {
	actor      any
	hasActor   bool
	record     any
	hasRecord  bool
	extra      any
	hasExtra   bool
	throttle   time.Duration
	throttled  bool
	occurredAt time.Time
	meta       Metadata
	hasMeta    bool
	tenant     any
	hasTenant  bool
}

type actorOption struct{ v any }

// Actor names who acted: an app's user model (a gorm model: the type is its
// table name, the id its primary key, the label its Name/Title/...), a Ref,
// a Referencer, or System("name"). It wins over the context's actor.
func Actor(v any) Option { return actorOption{v} }

func (o actorOption) applyRecord(c *recordCall) { c.actor, c.hasActor = o.v, true }
func (o actorOption) String() string            { return fmt.Sprintf("Actor(%s)", describe(o.v)) }

type recordOption struct{ v any }

// Record names the row the event is about, polymorphically (a comment, a
// label): a gorm model, a Ref or a Referencer.
func Record(v any) Option { return recordOption{v} }

func (o recordOption) applyRecord(c *recordCall) { c.record, c.hasRecord = o.v, true }
func (o recordOption) String() string            { return fmt.Sprintf("Record(%s)", describe(o.v)) }

// Extra is free-form data stored with the event as a JSON object. It must
// encode as JSON, stay under the domain's MaxExtraBytes (64 KiB by default)
// and nest at most MaxExtraDepth levels; its numbers must fit PostgreSQL's
// numeric (see ErrInvalidExtra).
type Extra map[string]any

func (e Extra) applyRecord(c *recordCall) { c.extra, c.hasExtra = map[string]any(e), true }
func (e Extra) String() string {
	b, err := json.Marshal(map[string]any(e))
	if err != nil {
		return fmt.Sprintf("Extra(unencodable: %v)", err)
	}
	return "Extra(" + string(truncate(string(b), 120)) + ")"
}

type extraValue struct{ v any }

// ExtraOf stores v, which must encode as a JSON object (a struct or a map),
// as the event's extra.
func ExtraOf(v any) Option { return extraValue{v} }

func (o extraValue) applyRecord(c *recordCall) { c.extra, c.hasExtra = o.v, true }
func (o extraValue) String() string            { return fmt.Sprintf("ExtraOf(%T)", o.v) }

type throttleOption time.Duration

// ThrottleWithin collapses repeats: when the same (subject, action, actor,
// record) was recorded within d, that event is touched (its occurred_at moves
// to now and its repeat count grows) instead of a new one being inserted, and
// nothing new fans out. A negative d is an error; zero means no throttling.
// Throttling needs READ COMMITTED isolation (PostgreSQL's default); see the
// package documentation.
func ThrottleWithin(d time.Duration) Option { return throttleOption(d) }

func (o throttleOption) applyRecord(c *recordCall) { c.throttle, c.throttled = time.Duration(o), true }
func (o throttleOption) String() string {
	return "ThrottleWithin(" + time.Duration(o).String() + ")"
}

type occurredAtOption time.Time

// OccurredAt records the event as having happened at t instead of now: for
// imports and backfills. It cannot be combined with ThrottleWithin.
func OccurredAt(t time.Time) Option { return occurredAtOption(t) }

func (o occurredAtOption) applyRecord(c *recordCall) { c.occurredAt = time.Time(o) }
func (o occurredAtOption) String() string {
	return "OccurredAt(" + time.Time(o).Format(time.RFC3339Nano) + ")"
}

type metaOption Metadata

// Meta sets request metadata for this call. Its non-empty fields win over
// the context's metadata.
func Meta(md Metadata) Option { return metaOption(md) }

func (o metaOption) applyRecord(c *recordCall) { c.meta, c.hasMeta = Metadata(o), true }
func (o metaOption) String() string            { return fmt.Sprintf("Meta(%+v)", Metadata(o)) }

func describe(v any) string {
	switch x := v.(type) {
	case Ref:
		return x.String()
	case *Ref:
		if x != nil {
			return x.String()
		}
	case Referencer:
		return x.ActivityRef().String()
	}
	return fmt.Sprintf("%T", v)
}
