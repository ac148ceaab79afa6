package workflow

import (
	"github.com/tidingsdev/tidings/internal/pgarray"

	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// compiled is a stored rule ready to run: its conditions compiled and its
// actions looked up.
type compiled struct {
	rule    Rule
	matcher *Matcher
	actions []Action
	// invalid says why a stored rule cannot run any more (its schema or an
	// action changed in code since it was saved); "" when it can.
	invalid string
}

// ruleSet is the enabled rules of one (domain, action), as of one version
// of the domain's rules, grouped by scope.
type ruleSet struct {
	version  int64
	all      int
	domain   []*compiled
	subjects map[string][]*compiled
	tenants  map[string][]*compiled
	// owned is true when some rule belongs to a tenant (Rule.Tenant):
	// candidates then drops the rules of other tenants than the event's.
	owned bool
}

// candidates returns the rules of the set whose scope holds the event, in
// rule id order. tenant is called only when some rule is tenant-scoped.
func (s *ruleSet) candidates(ctx context.Context, ev activity.Event, tenant func(context.Context) (string, error)) ([]*compiled, error) {
	out := s.domain
	if rs := s.subjects[ev.SubjectID]; len(rs) > 0 {
		out = append(slices.Clip(out), rs...)
	}
	if len(s.tenants) > 0 {
		t, err := tenant(ctx)
		if err != nil {
			return nil, err
		}
		if rs := s.tenants[t]; len(rs) > 0 {
			out = append(slices.Clip(out), rs...)
		}
	}
	if len(out) > len(s.domain) {
		slices.SortFunc(out, func(a, b *compiled) int { return cmpInt(a.rule.ID, b.rule.ID) })
	}
	if s.owned { // a tenant's rules run on its own events only
		out = slices.DeleteFunc(slices.Clone(out), func(c *compiled) bool { return c.rule.Tenant != "" && c.rule.Tenant != ev.TenantID })
	}
	return out, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compileRule prepares a stored rule for running.
func (s *Rules) compileRule(r Rule) *compiled {
	c := &compiled{rule: r}
	if schema := s.schemas[r.Domain]; schema == nil {
		c.invalid = fmt.Sprintf("domain %q has no schema in this process", r.Domain)
	} else if m, err := schema.Compile(r.Conditions); err != nil {
		c.invalid = "its conditions no longer pass: " + err.Error()
	} else {
		c.matcher = m
	}
	for i, ra := range r.Actions {
		a, ok := s.registry.Lookup(ra.Type)
		if !ok && c.invalid == "" {
			c.invalid = fmt.Sprintf("actions[%d].type: action %q is not registered in this process", i, ra.Type)
		}
		c.actions = append(c.actions, a)
	}
	return c
}

// compile prepares stored rules for running, grouped by scope.
func (s *Rules) compile(version int64, rules []Rule) *ruleSet {
	set := &ruleSet{version: version, all: len(rules), subjects: map[string][]*compiled{}, tenants: map[string][]*compiled{}}
	for _, r := range rules {
		c := s.compileRule(r)
		set.owned = set.owned || r.Tenant != ""
		switch r.Scope.Kind {
		case ScopeSubject:
			set.subjects[r.Scope.ID] = append(set.subjects[r.Scope.ID], c)
		case ScopeTenant:
			set.tenants[r.Scope.ID] = append(set.tenants[r.Scope.ID], c)
		default:
			set.domain = append(set.domain, c)
		}
	}
	return set
}

// cache holds an engine's rule sets and the (domain, action) pairs that
// have enabled rules.
type cache struct {
	rules *Rules

	mu   sync.Mutex
	sets map[[2]string]*ruleSet

	// accept is the set Accepts reads, replaced whole by refresh.
	accept atomic.Pointer[acceptSet]
	// refreshMu serialises refreshes, so an older one never overwrites a
	// newer one's set.
	refreshMu sync.Mutex
}

type acceptSet struct {
	pairs    map[[2]string]struct{}
	versions map[string]int64
}

func newCache(rules *Rules) *cache {
	c := &cache{rules: rules, sets: map[[2]string]*ruleSet{}}
	c.accept.Store(&acceptSet{pairs: map[[2]string]struct{}{}, versions: map[string]int64{}})
	return c
}

func (c *cache) accepts(domain, action string) bool {
	_, ok := c.accept.Load().pairs[[2]string{domain, c.rules.canonical(domain, action)}]
	return ok
}

// refresh reloads the (domain, action) pairs that have enabled rules.
// Versions are read first: a set read after them is at least as new as
// they are, so a later version check never takes a stale set for current.
func (c *cache) refresh(ctx context.Context, db *gorm.DB) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	var vs []struct {
		Domain  string
		Version int64
	}
	if err := db.WithContext(ctx).Raw(`SELECT domain, version FROM workflow_versions`).Scan(&vs).Error; err != nil {
		return fmt.Errorf("workflow: read rule versions: %w", err)
	}
	var pairs []struct {
		Domain      string
		TriggeredOn string
	}
	if err := db.WithContext(ctx).Raw(`SELECT DISTINCT domain, triggered_on FROM workflow_rules WHERE enabled`).Scan(&pairs).Error; err != nil {
		return fmt.Errorf("workflow: read triggers: %w", err)
	}
	next := &acceptSet{pairs: make(map[[2]string]struct{}, len(pairs)), versions: make(map[string]int64, len(vs))}
	for _, p := range pairs {
		next.pairs[[2]string{p.Domain, c.rules.canonical(p.Domain, p.TriggeredOn)}] = struct{}{}
	}
	for _, v := range vs {
		next.versions[v.Domain] = v.Version
	}
	c.accept.Store(next)
	return nil
}

// version reads domain's current rule version (0 before any rule).
func version(ctx context.Context, db *gorm.DB, domain string) (int64, error) {
	var v []int64
	if err := db.WithContext(ctx).Raw(`SELECT version FROM workflow_versions WHERE domain = ?`, domain).Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("workflow: read rule version of %s: %w", domain, err)
	}
	if len(v) == 0 {
		return 0, nil
	}
	return v[0], nil
}

// set returns the enabled rules of (domain, action) as of the domain's
// current version, loading and compiling them when the cached set is older.
// It also refreshes the accepted pairs when the version moved past the one
// they were read at (a change made by another process whose notification
// has not arrived).
func (c *cache) set(ctx context.Context, db *gorm.DB, domain, action string) (*ruleSet, error) {
	v, err := version(ctx, db, domain)
	if err != nil {
		return nil, err
	}
	action = c.rules.canonical(domain, action)
	key := [2]string{domain, action}
	c.mu.Lock()
	s := c.sets[key]
	c.mu.Unlock()
	if s != nil && s.version == v {
		return s, nil
	}
	rules, err := c.rules.load(ctx, db, "WHERE domain = ? AND triggered_on = ANY(?::text[]) AND enabled ORDER BY id", domain, pgarray.Text(c.rules.names(domain, action)))
	if err != nil {
		return nil, err
	}
	s = c.rules.compile(v, rules)
	c.mu.Lock()
	if cur := c.sets[key]; cur == nil || cur.version <= v {
		c.sets[key] = s
	}
	c.mu.Unlock()
	if c.accept.Load().versions[domain] < v {
		// On failure the rules are still right; Accepts catches up on the
		// next refresh.
		_ = c.refresh(ctx, db)
	}
	return s, nil
}
