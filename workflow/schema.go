package workflow

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/tidingsdev/tidings/activity"
)

// Resolver loads the fields of one object (a domain's subject, or a record
// of one type) for conditions on subject.<field> and record.<field>.
//
// It returns the object's fields by name. Values may be strings, bools, any
// Go integer or float, time.Time (or *time.Time, nil for none), slices for
// list fields, and nested map[string]any for dotted field names. A nil map
// with a nil error means the object no longer exists: its fields are absent.
// An error fails the evaluation (the engine's job is retried).
//
// The engine calls a resolver lazily, only when a condition that is still
// undecided needs one of its fields, and at most once per object per event,
// however many rules and conditions read it.
type Resolver interface {
	Resolve(ctx context.Context, id string) (map[string]any, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, id string) (map[string]any, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, id string) (map[string]any, error) {
	return f(ctx, id)
}

// Fields declares attributes by name and type: {"created_at": Time}.
// Dotted names ("owner.email") read nested maps.
type Fields map[string]Type

// Object declares the fields of an object that a resolver loads.
type Object struct {
	Fields   Fields
	Resolver Resolver // required when Fields is not empty
}

// SchemaConfig declares what conditions on one domain's events may test.
type SchemaConfig struct {
	// Domain is the activity domain whose events the rules react to.
	// Required. Conditions on the action attribute are checked against its
	// supported actions.
	Domain *activity.Domain
	// Subject declares the subject's fields, read as subject.<field>
	// through Subject.Resolver with the event's subject id. "id" is taken
	// (subject.id is the event's subject id).
	Subject Object
	// Records declares, per record type (the record reference's type, such
	// as "comments"), the fields read as record.<field> through that type's
	// resolver with the event's record id. A field declared by several
	// record types must have one type. "type", "id" and "label" are taken.
	// For an event without a record, or with a record of another type,
	// record.<field> is absent.
	Records map[string]Object
	// Extra declares paths of the events' extra JSON, read as
	// extra.<path>: {"body": String, "status": ChangeOf(String)}. A
	// ChangeOf path p also declares p.from and p.to of its kind. The empty
	// path may be declared as a change, for events whose whole extra is
	// one change ({"from": "open", "to": "closed"}): it is read as extra,
	// and its parts as extra.from and extra.to. Undeclared paths cannot be
	// tested: their type would be unknown.
	Extra Fields
}

// ErrInvalidSchema is returned (wrapped, naming the field) by NewSchema for a
// declaration it cannot serve.
var ErrInvalidSchema = errors.New("workflow: invalid schema")

// Schema is a domain's attribute schema: every attribute a condition may
// test, its type, and how it is read. It validates and compiles conditions.
// It is immutable and safe for concurrent use.
type Schema struct {
	domain  *activity.Domain
	attrs   map[string]*attribute
	names   []string // sorted attribute names, for suggestions and messages
	nslots  int
	subject Object
	records map[string]Object
}

// source is where an attribute's value comes from.
type source uint8

const (
	srcAction source = iota
	srcActor
	srcActorType
	srcActorID
	srcActorLabel
	srcSubjectID
	srcRecord
	srcRecordType
	srcRecordID
	srcRecordLabel
	srcOccurredAt
	srcDepth
	srcSource
	srcExtra
	srcSubjectField
	srcRecordField
)

// attribute is one testable attribute of a schema.
type attribute struct {
	name string
	typ  Type
	src  source
	key  string   // field name or extra path ("owner.email")
	path []string // key split at dots
	slot int      // index of its cached value in Facts
	doc  string
}

// resolved reports whether reading the attribute may call a resolver.
func (a *attribute) resolved() bool { return a.src == srcSubjectField || a.src == srcRecordField }

// builtins are the event fields every schema has.
var builtins = [...]struct {
	name string
	typ  Type
	src  source
	doc  string
}{
	{"action", String, srcAction, "the event's action"},
	{"actor", String, srcActor, `the actor reference, "type:id" ("users:3", "system:workflow")`},
	{"actor.type", String, srcActorType, `the actor's type ("users", "system")`},
	{"actor.id", String, srcActorID, "the actor's id"},
	{"actor.label", String, srcActorLabel, "the actor's label when the event was recorded"},
	{"subject.id", String, srcSubjectID, "the subject's id"},
	{"record", String, srcRecord, `the record reference, "type:id"; absent without a record`},
	{"record.type", String, srcRecordType, "the record's type; absent without a record"},
	{"record.id", String, srcRecordID, "the record's id; absent without a record"},
	{"record.label", String, srcRecordLabel, "the record's label when the event was recorded; absent without a record"},
	{"occurred_at", Time, srcOccurredAt, "when the event occurred"},
	{"depth", Number, srcDepth, "the length of the event's causation chain; 0 for a person's act"},
	{"source", String, srcSource, `where the event came from ("web", "api", "job"); absent when unknown`},
}

var fieldNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// NewSchema validates a declaration and returns the schema.
func NewSchema(cfg SchemaConfig) (*Schema, error) {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidSchema, field, fmt.Sprintf(format, args...))
	}
	if cfg.Domain == nil {
		return nil, bad("Domain", "is nil: pass the activity domain the rules react to")
	}
	s := &Schema{
		domain:  cfg.Domain,
		attrs:   make(map[string]*attribute),
		subject: cfg.Subject,
		records: make(map[string]Object, len(cfg.Records)),
	}
	add := func(a *attribute) {
		a.slot = s.nslots
		s.nslots++
		s.attrs[a.name] = a
	}
	for _, b := range builtins {
		add(&attribute{name: b.name, typ: b.typ, src: b.src, doc: b.doc})
	}
	checkFields := func(where string, fs Fields, reserved ...string) error {
		for name, t := range fs {
			f := fmt.Sprintf("%s[%q]", where, name)
			if name == "" && where == "Extra" {
				if t.valid() && t.IsChange() {
					continue // the whole extra records one change: {"from": ..., "to": ...}
				}
				return bad(f, "the empty path names the whole extra; it may only be declared as a ChangeOf(kind)")
			}
			if !fieldNameRE.MatchString(name) {
				return bad(f, "is not a field name: use letters, digits, _ and -, with dots between nested names")
			}
			if slices.Contains(reserved, name) {
				return bad(f, "is taken by an event field; pick another name")
			}
			if !t.valid() {
				return bad(f, "has an invalid type; use String, Number, Time, Bool, ListOf(kind) or ChangeOf(kind)")
			}
			if t.IsChange() && where != "Extra" {
				return bad(f, "is a change; changes are recorded in an event's extra, declare it in Extra (a resolver returns current values)")
			}
		}
		return nil
	}

	// Subject fields.
	if err := checkFields("Subject.Fields", cfg.Subject.Fields, "id"); err != nil {
		return nil, err
	}
	if len(cfg.Subject.Fields) > 0 && cfg.Subject.Resolver == nil {
		return nil, bad("Subject.Resolver", "is nil, but Subject.Fields are declared: the resolver loads them")
	}
	for name, t := range cfg.Subject.Fields {
		add(&attribute{name: "subject." + name, typ: t, src: srcSubjectField, key: name, path: strings.Split(name, ".")})
	}

	// Record fields, the union over record types.
	recordTypes := make([]string, 0, len(cfg.Records))
	for rt := range cfg.Records {
		recordTypes = append(recordTypes, rt)
	}
	sort.Strings(recordTypes)
	for _, rt := range recordTypes {
		obj := cfg.Records[rt]
		where := fmt.Sprintf("Records[%q]", rt)
		if rt == "" {
			return nil, bad(where, "has an empty record type")
		}
		if err := checkFields(where+".Fields", obj.Fields, "type", "id", "label"); err != nil {
			return nil, err
		}
		if len(obj.Fields) > 0 && obj.Resolver == nil {
			return nil, bad(where+".Resolver", "is nil, but fields are declared: the resolver loads them")
		}
		s.records[rt] = obj
		for name, t := range obj.Fields {
			if prev, ok := s.attrs["record."+name]; ok {
				if prev.typ != t {
					return nil, bad(fmt.Sprintf("%s.Fields[%q]", where, name), "is %s, but another record type declares record.%s as %s; one attribute has one type", t.article(), name, prev.typ.article())
				}
				continue
			}
			add(&attribute{name: "record." + name, typ: t, src: srcRecordField, key: name, path: strings.Split(name, ".")})
		}
	}

	// Extra paths; a change also declares its from and to.
	if err := checkFields("Extra", cfg.Extra); err != nil {
		return nil, err
	}
	extra := make(Fields, len(cfg.Extra))
	for p, t := range cfg.Extra {
		extra[p] = t
	}
	for p, t := range cfg.Extra {
		if !t.IsChange() {
			continue
		}
		for _, part := range [...]string{"from", "to"} {
			sub := part
			if p != "" {
				sub = p + "." + part
			}
			if prev, ok := cfg.Extra[sub]; ok && prev != t.Kind() {
				return nil, bad(fmt.Sprintf("Extra[%q]", sub), "is %s, but %s is %s, which makes it %s", prev.article(), p, t.article(), t.Kind().article())
			}
			extra[sub] = t.Kind()
		}
	}
	for p, t := range extra {
		if p == "" {
			add(&attribute{name: "extra", typ: t, src: srcExtra})
			continue
		}
		add(&attribute{name: "extra." + p, typ: t, src: srcExtra, key: p, path: strings.Split(p, ".")})
	}

	for name := range s.attrs {
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	return s, nil
}

// Domain returns the domain the schema describes.
func (s *Schema) Domain() *activity.Domain { return s.domain }

// Attribute describes one attribute a condition may test, for rule editors.
type Attribute struct {
	Name      string     `json:"name"`
	Type      Type       `json:"type"`
	Operators []Operator `json:"operators"`
	// Resolved is true for subject.<field> and record.<field>: reading it
	// calls the app's resolver.
	Resolved bool   `json:"resolved"`
	Doc      string `json:"doc,omitempty"`
}

// Attributes lists the schema's attributes, sorted by name.
func (s *Schema) Attributes() []Attribute {
	out := make([]Attribute, 0, len(s.names))
	for _, name := range s.names {
		a := s.attrs[name]
		out = append(out, Attribute{Name: a.name, Type: a.typ, Operators: OperatorsFor(a.typ), Resolved: a.resolved(), Doc: a.doc})
	}
	return out
}

// lookupAttr returns the attribute named name, or an "unknown attribute"
// message with a suggestion.
func (s *Schema) lookupAttr(name string) (*attribute, string) {
	if a, ok := s.attrs[name]; ok {
		return a, ""
	}
	msg := fmt.Sprintf("unknown attribute %q%s", name, didYouMean(name, s.names))
	switch {
	case strings.HasPrefix(name, "extra."):
		msg += fmt.Sprintf("; extra paths must be declared in the %s schema's Extra", s.domain.Name())
	case strings.HasPrefix(name, "subject."):
		msg += fmt.Sprintf("; subject fields must be declared in the %s schema's Subject.Fields", s.domain.Name())
	case strings.HasPrefix(name, "record."):
		msg += fmt.Sprintf("; record fields must be declared in the %s schema's Records", s.domain.Name())
	}
	return nil, msg + "; expected one of " + strings.Join(s.names, ", ")
}
