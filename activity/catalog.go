package activity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"
)

// ActionSpec describes one action of a domain for the event catalog and
// for recording's checks.
type ActionSpec struct {
	// Extra is a value of the Go struct the action's extra encodes
	// (CommentAdded{}): recording refuses an extra with a field the struct
	// does not have or a value of the wrong type, and the catalog lists
	// its fields with their JSON types. nil: the extra is free-form.
	Extra any
	// Doc says in a sentence what happened ("someone commented").
	Doc string
	// RecordedBy names the code that records it ("web: POST /issues/{id}/comments").
	RecordedBy []string
}

// domainCatalog is a domain's action specs and aliases, checked.
type domainCatalog struct {
	specs     map[string]ActionSpec
	extraType map[string]reflect.Type
	aliases   map[string]string   // old -> current
	aliasesOf map[string][]string // current -> old ones, sorted
}

func (d *Domain) declareCatalog(cfg DomainConfig) error {
	c := domainCatalog{specs: map[string]ActionSpec{}, extraType: map[string]reflect.Type{}, aliases: map[string]string{}, aliasesOf: map[string][]string{}}
	bad := func(field, format string, args ...any) error {
		return &DomainError{Domain: cfg.Name, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	for _, a := range slices.Sorted(maps.Keys(cfg.Specs)) {
		spec := cfg.Specs[a]
		if !d.Supports(a) {
			return bad(fmt.Sprintf("Specs[%q]", a), "describes an action the domain does not declare; add it to Actions")
		}
		if spec.Extra != nil {
			t := reflect.TypeOf(spec.Extra)
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			if t.Kind() != reflect.Struct {
				return bad(fmt.Sprintf("Specs[%q].Extra", a), "is a %s; give a value of a struct type, like CommentAdded{}", t)
			}
			c.extraType[a] = t
		}
		c.specs[a] = spec
	}
	for _, old := range slices.Sorted(maps.Keys(cfg.Aliases)) {
		cur := cfg.Aliases[old]
		switch {
		case !identRE.MatchString(old):
			return bad(fmt.Sprintf("Aliases[%q]", old), "is not a valid action name")
		case d.Supports(old):
			return bad(fmt.Sprintf("Aliases[%q]", old), "is a current action too; an alias names an action's former name")
		case !d.Supports(cur):
			return bad(fmt.Sprintf("Aliases[%q]", old), "points to %q, which the domain does not declare", cur)
		}
		c.aliases[old] = cur
		c.aliasesOf[cur] = append(c.aliasesOf[cur], old)
	}
	d.catalog = c
	return nil
}

// Canonical returns the current name of action: the action an alias
// points to, or action itself.
func (d *Domain) Canonical(action string) string {
	if cur, ok := d.catalog.aliases[action]; ok {
		return cur
	}
	return action
}

// Aliases returns the former names of action (nil when it has none).
func (d *Domain) Aliases(action string) []string {
	return slices.Clone(d.catalog.aliasesOf[d.Canonical(action)])
}

// Spec returns the catalog description of action.
func (d *Domain) Spec(action string) (ActionSpec, bool) {
	s, ok := d.catalog.specs[d.Canonical(action)]
	return s, ok
}

// withAliases returns actions with every name each one had.
func (d *Domain) withAliases(actions []string) []string {
	if len(d.catalog.aliases) == 0 {
		return actions
	}
	out := make([]string, 0, len(actions))
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, a := range actions {
		cur := d.Canonical(a)
		add(cur)
		for _, old := range d.catalog.aliasesOf[cur] {
			add(old)
		}
	}
	return out
}

// checkExtraShape checks an encoded extra against the action's declared
// struct: no unknown field, every value of its field's type.
func (d *Domain) checkExtraShape(action, extra string) error {
	t, ok := d.catalog.extraType[action]
	if !ok {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(extra))
	dec.DisallowUnknownFields()
	if err := dec.Decode(reflect.New(t).Interface()); err != nil {
		return &ExtraError{Limit: d.maxExtra, Reason: fmt.Sprintf("does not match %s, the declared shape of %s %s extra (ActionSpec.Extra)", t, d.name, action), Err: err}
	}
	return nil
}

// Catalog lists domains, their actions and the shape of each action's
// extra: the reference a data team reads, written by WriteCatalog and kept
// current by CheckCatalog in a test.
type Catalog struct {
	Domains []CatalogDomain `json:"domains"`
}

// CatalogDomain is one domain in a Catalog.
type CatalogDomain struct {
	Name    string          `json:"name"`
	Table   string          `json:"table"`
	Subject string          `json:"subject"`
	Actions []CatalogAction `json:"actions"`
}

// CatalogAction is one action in a Catalog.
type CatalogAction struct {
	Name       string         `json:"name"`
	Doc        string         `json:"doc,omitempty"`
	RecordedBy []string       `json:"recorded_by,omitempty"`
	Aliases    []string       `json:"aliases,omitempty"`
	ExtraType  string         `json:"extra_type,omitempty"` // the Go type, "" when free-form
	Extra      []CatalogField `json:"extra,omitempty"`
}

// CatalogField is one field of an action's extra.
type CatalogField struct {
	Name     string `json:"name"` // dotted for nested objects: "label.name"
	Type     string `json:"type"` // JSON type: string, integer, number, boolean, time, object, array of ...
	Optional bool   `json:"optional,omitempty"`
}

// NewCatalog describes domains, sorted by name, each action in
// declaration order.
func NewCatalog(domains ...*Domain) Catalog {
	ds := slices.Clone(domains)
	slices.SortFunc(ds, func(a, b *Domain) int { return strings.Compare(a.name, b.name) })
	var c Catalog
	for _, d := range ds {
		cd := CatalogDomain{Name: d.name, Table: d.table, Subject: d.subject.Table, Actions: []CatalogAction{}}
		for _, a := range d.actions {
			spec := d.catalog.specs[a]
			ca := CatalogAction{Name: a, Doc: spec.Doc, RecordedBy: spec.RecordedBy, Aliases: d.catalog.aliasesOf[a]}
			if t, ok := d.catalog.extraType[a]; ok {
				ca.ExtraType = t.String()
				ca.Extra = structFields(t, "", map[reflect.Type]bool{})
			}
			cd.Actions = append(cd.Actions, ca)
		}
		c.Domains = append(c.Domains, cd)
	}
	return c
}

var timeType = reflect.TypeFor[time.Time]()

// structFields lists t's JSON fields the way encoding/json names them.
func structFields(t reflect.Type, prefix string, seen map[reflect.Type]bool) []CatalogField {
	if seen[t] {
		return nil
	}
	seen[t] = true
	defer delete(seen, t)
	var out []CatalogField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		if ft.Kind() == reflect.Pointer {
			ft, optional = ft.Elem(), true
		}
		out = append(out, CatalogField{Name: prefix + name, Type: jsonType(ft), Optional: optional})
		if ft.Kind() == reflect.Struct && ft != timeType {
			out = append(out, structFields(ft, prefix+name+".", seen)...)
		}
	}
	return out
}

func jsonType(t reflect.Type) string {
	if t == timeType {
		return "time"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array of " + jsonType(t.Elem())
	case reflect.Pointer:
		return jsonType(t.Elem())
	}
	return "object"
}

// JSON renders the catalog as indented JSON.
func (c Catalog) JSON() []byte {
	b, _ := json.MarshalIndent(c, "", "  ")
	return append(b, '\n')
}

// Markdown renders the catalog as a Markdown document.
func (c Catalog) Markdown() []byte {
	var b bytes.Buffer
	b.WriteString("# Event catalog\n\nGenerated by activity.WriteCatalog; do not edit by hand.\n")
	for _, d := range c.Domains {
		fmt.Fprintf(&b, "\n## Domain `%s`\n\nEvents in `%s`, about rows of `%s`.\n", d.Name, d.Table, d.Subject)
		for _, a := range d.Actions {
			fmt.Fprintf(&b, "\n### `%s.%s`\n\n", d.Name, a.Name)
			if a.Doc != "" {
				fmt.Fprintf(&b, "%s\n\n", mdEscape(a.Doc))
			}
			if len(a.Aliases) > 0 {
				fmt.Fprintf(&b, "Formerly: `%s`.\n\n", strings.Join(a.Aliases, "`, `"))
			}
			if len(a.RecordedBy) > 0 {
				b.WriteString("Recorded by:\n\n")
				for _, r := range a.RecordedBy {
					fmt.Fprintf(&b, "- %s\n", mdEscape(r))
				}
				b.WriteString("\n")
			}
			if a.ExtraType == "" {
				b.WriteString("Extra: free-form JSON object.\n")
				continue
			}
			fmt.Fprintf(&b, "Extra (`%s`):\n\n| field | type | optional |\n| --- | --- | --- |\n", a.ExtraType)
			for _, f := range a.Extra {
				opt := ""
				if f.Optional {
					opt = "yes"
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.Name, f.Type, opt)
			}
		}
	}
	return b.Bytes()
}

func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "\n", " ")
	return r.Replace(s)
}

// Catalog file names in the folder WriteCatalog writes.
const (
	CatalogMarkdownFile = "catalog.md"
	CatalogJSONFile     = "catalog.json"
)

// WriteCatalog writes the catalog of domains as catalog.md and
// catalog.json into dir.
func WriteCatalog(dir string, domains ...*Domain) error {
	c := NewCatalog(domains...)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, CatalogMarkdownFile), c.Markdown(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, CatalogJSONFile), c.JSON(), 0o644)
}

// ErrStaleCatalog is returned (inside a *StaleCatalogError) by CheckCatalog
// when the written catalog is not what the domains declare.
var ErrStaleCatalog = errors.New("activity: the event catalog is stale")

// StaleCatalogError says which catalog file is out of date, and how.
type StaleCatalogError struct {
	File   string
	Change string // the first difference: "issue.label_renamed is declared but not in the catalog"
}

func (e *StaleCatalogError) Error() string {
	return fmt.Sprintf("activity: event catalog %s is stale: %s; regenerate it with activity.WriteCatalog", e.File, e.Change)
}

// Is makes errors.Is(err, ErrStaleCatalog) hold.
func (e *StaleCatalogError) Is(target error) bool { return target == ErrStaleCatalog }

// CheckCatalog compares the catalog written in dir with the one domains
// declare, and returns a *StaleCatalogError naming the first difference.
// Call it from a test so adding or changing an action without
// regenerating fails the build.
func CheckCatalog(dir string, domains ...*Domain) error {
	c := NewCatalog(domains...)
	for _, f := range []struct {
		name string
		want []byte
	}{{CatalogJSONFile, c.JSON()}, {CatalogMarkdownFile, c.Markdown()}} {
		path := filepath.Join(dir, f.name)
		got, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return &StaleCatalogError{File: path, Change: "the file does not exist"}
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(got, f.want) {
			change := "its text differs"
			if f.name == CatalogJSONFile {
				var old Catalog
				if json.Unmarshal(got, &old) == nil {
					change = catalogDiff(old, c)
				}
			}
			return &StaleCatalogError{File: path, Change: change}
		}
	}
	return nil
}

// catalogDiff names the first action added, removed or changed.
func catalogDiff(old, cur Catalog) string {
	index := func(c Catalog) map[string]CatalogAction {
		m := map[string]CatalogAction{}
		for _, d := range c.Domains {
			for _, a := range d.Actions {
				m[d.Name+"."+a.Name] = a
			}
		}
		return m
	}
	o, n := index(old), index(cur)
	for _, k := range slices.Sorted(maps.Keys(n)) {
		if _, ok := o[k]; !ok {
			return k + " is declared but not in the catalog"
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o)) {
		if _, ok := n[k]; !ok {
			return k + " is in the catalog but no longer declared"
		}
	}
	for _, k := range slices.Sorted(maps.Keys(n)) {
		a, b := o[k], n[k]
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			return k + " changed (its doc, extra fields, aliases or recorders)"
		}
	}
	return "domains or their order changed"
}

// CheckExtra checks extra (anything ExtraOf takes) against what action
// declares, as recording would: a JSON object within the size limit that
// matches the action's ActionSpec.Extra struct, if it has one. Rule editors
// use it to refuse, when a rule is saved, an extra recording would refuse.
func (d *Domain) CheckExtra(action string, extra any) error {
	action = d.Canonical(action)
	if err := d.CheckAction(action); err != nil {
		return err
	}
	enc, err := d.encodeExtra(extra)
	if err != nil {
		return err
	}
	return d.checkExtraShape(action, enc)
}
