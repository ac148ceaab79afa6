package workflow

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tidingsdev/tidings/activity"
)

// Facts is what conditions read about one event: its fields, its decoded
// extra, and its subject and record as loaded by the app's resolvers, each
// read lazily on first use and kept. Make one per event with
// Schema.NewFacts and share it across every rule evaluated for that event,
// so the extra is decoded once and each resolver is called at most once per
// object, however many rules and conditions read it.
//
// A Facts is not safe for concurrent use.
type Facts struct {
	schema  *Schema
	ev      activity.Event
	vals    []value // by attribute slot
	loaded  []bool
	extra   objectState
	subject objectState
	record  objectState
}

// objectState memoizes one load: the extra JSON or a resolver call,
// including its error.
type objectState struct {
	done bool
	m    map[string]any
	err  error
}

// NewFacts returns the facts of one event of the schema's domain.
func (s *Schema) NewFacts(ev activity.Event) *Facts {
	return &Facts{schema: s, ev: ev, vals: make([]value, s.nslots), loaded: make([]bool, s.nslots)}
}

// Event returns the event the facts are about.
func (f *Facts) Event() activity.Event { return f.ev }

// ResolveError reports a resolver that failed: evaluation cannot decide,
// and the engine's job should be retried.
type ResolveError struct {
	Domain string
	Object string // "subject", or the record type ("comments")
	ID     string
	Err    error
}

func (e *ResolveError) Error() string {
	if e.Object == "subject" {
		return fmt.Sprintf("workflow: resolve %s subject %s: %v", e.Domain, e.ID, e.Err)
	}
	return fmt.Sprintf("workflow: resolve %s record %s:%s: %v", e.Domain, e.Object, e.ID, e.Err)
}

func (e *ResolveError) Unwrap() error { return e.Err }

// get returns the attribute's value, reading it on first use.
func (f *Facts) get(ctx context.Context, a *attribute) (*value, error) {
	if f.loaded[a.slot] {
		return &f.vals[a.slot], nil
	}
	ev := &f.ev
	var v value
	str := func(s string) value { return value{present: true, typ: String, s: s} }
	hasRecord := ev.RecordType != nil && ev.RecordID != nil
	switch a.src {
	case srcAction:
		v = str(ev.Action)
	case srcActor:
		v = str(ev.ActorType + ":" + ev.ActorID)
	case srcActorType:
		v = str(ev.ActorType)
	case srcActorID:
		v = str(ev.ActorID)
	case srcActorLabel:
		v = str(ev.ActorLabel)
	case srcSubjectID:
		v = str(ev.SubjectID)
	case srcRecord:
		if hasRecord {
			v = str(*ev.RecordType + ":" + *ev.RecordID)
		}
	case srcRecordType:
		if hasRecord {
			v = str(*ev.RecordType)
		}
	case srcRecordID:
		if hasRecord {
			v = str(*ev.RecordID)
		}
	case srcRecordLabel:
		if hasRecord && ev.RecordLabel != nil {
			v = str(*ev.RecordLabel)
		}
	case srcOccurredAt:
		v = value{present: true, typ: Time, t: ev.OccurredAt}
	case srcDepth:
		v = value{present: true, typ: Number, n: float64(ev.Depth)}
	case srcSource:
		if ev.Source != nil {
			v = str(*ev.Source)
		}
	case srcExtra:
		m, err := f.extraMap()
		if err != nil {
			return nil, err
		}
		raw, _ := lookup(m, a.key, a.path)
		v = convert(raw, a.typ)
	case srcSubjectField:
		m, err := f.load(ctx, &f.subject, "subject", f.schema.subject.Resolver, ev.SubjectID)
		if err != nil {
			return nil, err
		}
		raw, _ := lookup(m, a.key, a.path)
		v = convert(raw, a.typ)
	case srcRecordField:
		if !hasRecord {
			break // no record: absent
		}
		obj, ok := f.schema.records[*ev.RecordType]
		if _, declared := obj.Fields[a.key]; !ok || !declared {
			break // a record of a type without this field: absent
		}
		m, err := f.load(ctx, &f.record, *ev.RecordType, obj.Resolver, *ev.RecordID)
		if err != nil {
			return nil, err
		}
		raw, _ := lookup(m, a.key, a.path)
		v = convert(raw, a.typ)
	}
	f.vals[a.slot] = v
	f.loaded[a.slot] = true
	return &f.vals[a.slot], nil
}

// extraMap decodes the event's extra once.
func (f *Facts) extraMap() (map[string]any, error) {
	st := &f.extra
	if !st.done {
		st.done = true
		if len(f.ev.Extra) > 0 {
			if err := json.Unmarshal(f.ev.Extra, &st.m); err != nil {
				st.err = fmt.Errorf("workflow: decode extra of %s: %w", f.ev, err)
			}
		}
	}
	return st.m, st.err
}

// load calls a resolver once per Facts, memoizing its result or error.
func (f *Facts) load(ctx context.Context, st *objectState, object string, r Resolver, id string) (map[string]any, error) {
	if !st.done {
		st.done = true
		m, err := r.Resolve(ctx, id)
		if err != nil {
			st.err = &ResolveError{Domain: f.schema.domain.Name(), Object: object, ID: id, Err: err}
		}
		st.m = m
	}
	return st.m, st.err
}

// lookup finds key in m: the key itself first, then its dotted path through
// nested maps.
func lookup(m map[string]any, key string, path []string) (any, bool) {
	if key == "" { // the whole map
		if m == nil {
			return nil, false
		}
		return m, true
	}
	if v, ok := m[key]; ok || len(path) < 2 {
		return v, ok
	}
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}
