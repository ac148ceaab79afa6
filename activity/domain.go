package activity

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"time"

	"github.com/tidingsdev/tidings/internal/suggest"
)

// KeyType is the SQL type of a subject's primary key.
type KeyType string

// The key types a subject table may use.
const (
	KeyBigint KeyType = "bigint" // integer keys (gorm's uint/int64 IDs, bigserial, integer)
	KeyUUID   KeyType = "uuid"   // UUID keys
	KeyText   KeyType = "text"   // text keys (slugs, ULIDs stored as text)
)

// Subject names the table whose rows the events are about.
type Subject struct {
	Table   string  // "issues"
	Key     string  // primary key column; default "id"
	KeyType KeyType // default KeyBigint
}

// DomainConfig declares a domain. Zero fields take the documented defaults.
type DomainConfig struct {
	// Name is the domain's name: lower-case letters, digits and
	// underscores, starting with a letter ("issue"). Required.
	Name string
	// Table is the events table. Default: Name + "_events".
	Table string
	// Subject is the table the events are about. Default: Table
	// Name + "s", Key "id", KeyType KeyBigint.
	Subject Subject
	// Actions are the supported actions, snake_case identifiers
	// ("comment_added"). Required; no duplicates.
	Actions []string
	// MaxExtraBytes caps the encoded size of an event's extra JSON, its
	// numbers counted at the length PostgreSQL gives them back (jsonb
	// writes 1e6 out as 1000000). Default 64 KiB.
	MaxExtraBytes int
	// MaxDepth caps causation chains: an event recorded while handling an
	// event whose depth is already MaxDepth is refused with
	// ErrCausationDepth. Default 8.
	MaxDepth int
	// WakeInterval bounds how often recording wakes relays: the first
	// event recorded through this Domain value in each interval carries a
	// pg_notify on OutboxChannel (inside its own statement, delivered at
	// its commit); the others carry none, and relays find them by polling,
	// which they tighten while events keep coming. So a process sends at
	// most 1/WakeInterval notifications per second per domain, whatever
	// its write rate. Default DefaultWakeInterval (100ms).
	WakeInterval time.Duration
	// DisableNotify turns wake-ups off entirely: relays find every event
	// by polling (RelayConfig.PollInterval bounds the delay after idle).
	DisableNotify bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Resolvers load the actors and records of a feed page, one batched
	// call per type. Keys are reference types ("users", "comments").
	Resolvers map[string]Resolver
	// Observer watches recording: metrics, tracing (package observe).
	// Optional; combine several with Observers.
	Observer Observer
	// Specs describe actions for the event catalog (see Catalog): the Go
	// struct of an action's extra, which recording then checks, a
	// sentence, and who records it. Optional, per action.
	Specs map[string]ActionSpec
	// Aliases map former action names to current ones, for renamed
	// actions: recording an alias records the current name, and filters
	// on the current name (feeds, history, rules) match old rows too.
	Aliases map[string]string
	// PersonalPaths are the paths of extra that hold personal data, in
	// dotted form: "email", "author.name" (the key name of the object at
	// key author). Erasure (Domain.Erase) removes them from the events the
	// person erased takes part in (actor, record, subject), and from any
	// event where they hold one of the person's values. Optional; each path 1-8 keys of letters, digits,
	// '_' and '-'; no duplicates.
	PersonalPaths []string
	// OnSubjectDelete chooses what deleting a subject row does to its
	// events: KeepHistory (the default) keeps them and the generated
	// events table has no foreign key to the subject; Cascade deletes
	// them with it (ON DELETE CASCADE).
	OnSubjectDelete SubjectDeletePolicy
	// Partition lays the events table out in time partitions (see
	// Partitioning). Default nil: one table.
	Partition *Partitioning
	// Retention is how long events are kept: Maintain removes older ones,
	// dropping whole partitions of a partitioned table, deleting in small
	// batches from an unpartitioned one. Default 0: forever.
	Retention time.Duration
	// Tenant declares the domain tenanted, with the SQL type of its tenant
	// key (like Subject.KeyType): every event then carries a tenant, taken
	// from an InTenant option, the context (WithTenant) or the event being
	// handled, and every read is scoped to one tenant (see WithTenant).
	// Default "": not tenanted.
	Tenant KeyType
	// RowLevelSecurity, for a tenanted domain, makes MigrationSQL enable
	// PostgreSQL row-level security on the events table, with a policy
	// that shows a session only the rows of the tenant its setting
	// tidings.tenant names (see SetTenant). Default false.
	RowLevelSecurity bool
}

// Domain is a declared domain: the one value an app keeps per events table.
// It is safe for concurrent use.
type Domain struct {
	name      string
	table     string
	subject   Subject
	actions   []string
	actionSet map[string]struct{}
	maxExtra  int
	maxDepth  int
	wake      waker
	committed committedHooks // OnCommitted
	now       func() time.Time
	resolvers map[string]Resolver
	sql       domainSQL
	observer  Observer
	personal  [][]string // DomainConfig.PersonalPaths, split
	catalog   domainCatalog
	onDelete  SubjectDeletePolicy
	partition *Partitioning // nil: one table
	retention time.Duration
	tenant    KeyType
	rls       bool
}

// DefaultMaxExtraBytes is the default cap on an event's encoded extra.
const DefaultMaxExtraBytes = 64 << 10

// MaxExtraDepth caps how deeply an event's extra nests objects and arrays
// (the extra object itself is level 1). Deeper extra is refused
// (ErrInvalidExtra): encoding/json stops at 10000 levels, and an event
// travels inside further ones (inbox jobs, webhooks, CloudEvents), so a
// deeper one could be stored but never sent or decoded again.
const MaxExtraDepth = 100

// DefaultMaxDepth is the default cap on causation chains.
const DefaultMaxDepth = 8

var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// NewDomain validates a declaration and returns the domain. Every problem is
// an error wrapping ErrInvalidDomain that names the field.
func NewDomain(cfg DomainConfig) (*Domain, error) {
	d := &Domain{
		name:      cfg.Name,
		table:     cfg.Table,
		subject:   cfg.Subject,
		maxExtra:  cfg.MaxExtraBytes,
		maxDepth:  cfg.MaxDepth,
		now:       cfg.Now,
		actionSet: make(map[string]struct{}, len(cfg.Actions)),
		resolvers: make(map[string]Resolver, len(cfg.Resolvers)),
		observer:  cfg.Observer,
	}
	bad := func(field, format string, args ...any) error {
		return &DomainError{Domain: cfg.Name, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if !identRE.MatchString(d.name) {
		return nil, bad("Name", "is not allowed: use 1-48 lower-case letters, digits and underscores, starting with a letter (like \"issue\")")
	}
	if d.table == "" {
		d.table = d.name + "_events"
	}
	if !identRE.MatchString(d.table) {
		return nil, bad("Table", "%q is not a safe SQL identifier: use 1-48 lower-case letters, digits and underscores, starting with a letter", d.table)
	}
	if d.subject.Table == "" {
		d.subject.Table = d.name + "s"
	}
	if !identRE.MatchString(d.subject.Table) {
		return nil, bad("Subject.Table", "%q is not a safe SQL identifier: use 1-48 lower-case letters, digits and underscores, starting with a letter", d.subject.Table)
	}
	if d.subject.Key == "" {
		d.subject.Key = "id"
	}
	if !identRE.MatchString(d.subject.Key) {
		return nil, bad("Subject.Key", "%q is not a safe SQL identifier", d.subject.Key)
	}
	switch d.subject.KeyType {
	case "":
		d.subject.KeyType = KeyBigint
	case KeyBigint, KeyUUID, KeyText:
	default:
		return nil, bad("Subject.KeyType", "%q is not supported; use activity.KeyBigint, activity.KeyUUID or activity.KeyText", d.subject.KeyType)
	}
	switch cfg.OnSubjectDelete {
	case KeepHistory, Cascade:
		d.onDelete = cfg.OnSubjectDelete
	default:
		return nil, bad("OnSubjectDelete", "%v is not a policy; use activity.KeepHistory (the default) or activity.Cascade", cfg.OnSubjectDelete)
	}
	if err := d.declarePartition(cfg); err != nil {
		return nil, err
	}
	switch cfg.Tenant {
	case "", KeyBigint, KeyUUID, KeyText:
		d.tenant = cfg.Tenant
	default:
		return nil, bad("Tenant", "%q is not supported; use activity.KeyBigint, activity.KeyUUID or activity.KeyText (or leave it empty for an untenanted domain)", cfg.Tenant)
	}
	if cfg.RowLevelSecurity && d.tenant == "" {
		return nil, bad("RowLevelSecurity", "is set on an untenanted domain: row-level security keys on the tenant; declare Tenant too")
	}
	d.rls = cfg.RowLevelSecurity
	if len(cfg.Actions) == 0 {
		return nil, bad("Actions", "is empty: declare the actions this domain supports, like \"comment_added\"")
	}
	for i, a := range cfg.Actions {
		if !identRE.MatchString(a) {
			return nil, bad(fmt.Sprintf("Actions[%d]", i), "%q is not a valid action: use snake_case, 1-48 lower-case letters, digits and underscores, starting with a letter", a)
		}
		if _, dup := d.actionSet[a]; dup {
			return nil, bad(fmt.Sprintf("Actions[%d]", i), "%q is declared twice", a)
		}
		d.actionSet[a] = struct{}{}
		d.actions = append(d.actions, a)
	}
	if d.maxExtra < 0 {
		return nil, bad("MaxExtraBytes", "is negative")
	}
	if d.maxExtra == 0 {
		d.maxExtra = DefaultMaxExtraBytes
	}
	if d.maxDepth < 0 {
		return nil, bad("MaxDepth", "is negative")
	}
	if d.maxDepth == 0 {
		d.maxDepth = DefaultMaxDepth
	}
	if d.now == nil {
		d.now = time.Now
	}
	if cfg.WakeInterval < 0 {
		return nil, bad("WakeInterval", "is negative: use a positive interval, 0 for the default (%v), or DisableNotify to poll only", DefaultWakeInterval)
	}
	if !cfg.DisableNotify {
		d.wake.every = int64(cmp.Or(cfg.WakeInterval, DefaultWakeInterval))
		d.wake.clock = time.Now // rate limiting is about load, not event time: never the domain clock
	}
	for typ, r := range cfg.Resolvers {
		if r == nil {
			return nil, bad(fmt.Sprintf("Resolvers[%q]", typ), "is nil")
		}
		d.resolvers[typ] = r
	}
	if err := d.declarePersonalPaths(cfg.PersonalPaths); err != nil {
		return nil, err
	}
	if err := d.declareCatalog(cfg); err != nil {
		return nil, err
	}
	d.sql = buildDomainSQL(d)
	if d.observer != nil {
		d.observer.Declared(d)
	}
	return d, nil
}

// MustDomain is NewDomain for package-level declarations; it panics on a bad
// declaration, which is a programming error found at start-up.
func MustDomain(cfg DomainConfig) *Domain {
	d, err := NewDomain(cfg)
	if err != nil {
		panic(err)
	}
	return d
}

// Name returns the domain's name.
func (d *Domain) Name() string { return d.name }

// Table returns the domain's events table.
func (d *Domain) Table() string { return d.table }

// Subject returns the domain's subject table description.
func (d *Domain) Subject() Subject { return d.subject }

// Actions returns the supported actions, in declaration order.
func (d *Domain) Actions() []string { return slices.Clone(d.actions) }

// Supports reports whether action is one of the domain's actions.
func (d *Domain) Supports(action string) bool {
	_, ok := d.actionSet[action]
	return ok
}

// Now returns the domain clock's current time.
func (d *Domain) Now() time.Time { return d.now() }

// CheckAction returns nil for a supported action, and an
// *UnknownActionError naming the nearest supported one otherwise.
func (d *Domain) CheckAction(action string) error {
	if d.Supports(action) || d.catalog.aliases[action] != "" {
		return nil
	}
	sorted := slices.Clone(d.actions)
	sort.Strings(sorted)
	return &UnknownActionError{Domain: d.name, Action: action, Suggestion: suggest.Nearest(action, d.actions), Supported: sorted}
}

func (d *Domain) String() string { return "activity domain " + d.name + " (" + d.table + ")" }
