package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/webhook"
)

// TenantFunc tells the tenant (account, workspace) of an event's subject,
// for rules scoped to a tenant. It is called at most once per event, and
// only when a tenant-scoped rule triggers on its action. An error is
// retried with the engine's job.
type TenantFunc func(ctx context.Context, db *gorm.DB, ev activity.Event) (string, error)

// RulesConfig configures Rules. Zero fields take the documented defaults.
type RulesConfig struct {
	// DB is the database holding workflow_rules (the library's
	// migrations). Required.
	DB *gorm.DB
	// Schemas declare, one per domain, what rules on its events may test.
	// Required.
	Schemas []*Schema
	// Registry holds the actions rules may use. Required.
	Registry *Registry
	// Tenant tells an event's tenant. Optional: without it, rules cannot be
	// scoped to a tenant.
	Tenant TenantFunc
	// Now is the clock of created_at and updated_at. Default time.Now.
	Now func() time.Time
	// Secrets seals the parameters actions declare Secret (the webhook
	// action's "secret") before they are stored, and opens them when the
	// action runs. Without it, a rule giving a secret is refused.
	Secrets *webhook.Keyring
}

// Rules stores rules in PostgreSQL (workflow_rules) and checks each one
// before saving it: nothing invalid is saved. Every change bumps its
// domain's version in workflow_versions and sends a pg_notify on
// NotifyChannel in the same transaction, so engines reload their cached
// rules. It is safe for concurrent use.
type Rules struct {
	db          *gorm.DB
	schemas     map[string]*Schema
	domainNames []string
	registry    *Registry
	tenant      TenantFunc
	now         func() time.Time
	secrets     *webhook.Keyring

	mu       sync.Mutex
	watchers []func(ctx context.Context)
}

// NotifyChannel is the PostgreSQL channel rule changes are announced on;
// the payload is the domain whose rules changed.
const NotifyChannel = "tidings_workflow"

// NewRules checks cfg and returns the rule store.
func NewRules(cfg RulesConfig) (*Rules, error) {
	switch {
	case cfg.DB == nil:
		return nil, &ConfigError{Field: "RulesConfig.DB", Reason: "is nil"}
	case len(cfg.Schemas) == 0:
		return nil, &ConfigError{Field: "RulesConfig.Schemas", Reason: "is empty: give the Schema of each domain rules may react to"}
	case cfg.Registry == nil:
		return nil, &ConfigError{Field: "RulesConfig.Registry", Reason: "is nil: make one with NewRegistry"}
	}
	s := &Rules{db: cfg.DB, schemas: map[string]*Schema{}, registry: cfg.Registry, tenant: cfg.Tenant, now: cfg.Now, secrets: cfg.Secrets}
	for i, sc := range cfg.Schemas {
		if sc == nil {
			return nil, &ConfigError{Field: fmt.Sprintf("RulesConfig.Schemas[%d]", i), Reason: "is nil"}
		}
		name := sc.Domain().Name()
		if s.schemas[name] != nil {
			return nil, &ConfigError{Field: fmt.Sprintf("RulesConfig.Schemas[%d]", i), Reason: fmt.Sprintf("is a second schema for domain %s; give one per domain", name)}
		}
		s.schemas[name] = sc
		s.domainNames = append(s.domainNames, name)
	}
	sort.Strings(s.domainNames)
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Registry returns the store's action registry.
func (s *Rules) Registry() *Registry { return s.registry }

// Schema returns the schema of domain, or nil.
func (s *Rules) Schema(domain string) *Schema { return s.schemas[domain] }

// watch registers f to run after each change this store commits (engines
// in the same process refresh at once instead of waiting for the
// notification).
func (s *Rules) watch(f func(ctx context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, f)
}

func (s *Rules) changed(ctx context.Context) {
	s.mu.Lock()
	ws := slices.Clone(s.watchers)
	s.mu.Unlock()
	for _, f := range ws {
		f(ctx)
	}
}

// checkBy checks the name of who saves a rule.
func checkBy(by string) error {
	if by == "" || len(by) > 128 {
		return &ValidationError{Problems: []Problem{{Field: "by", Message: fmt.Sprintf("must name who saves the rule in 1 to 128 bytes (\"users:3\"); got %s", quote(by))}}}
	}
	return nil
}

// Create checks r and saves it as a new rule created by by (who: "users:3").
// It returns the saved rule, with its ID and timestamps; r's ID and
// timestamps are ignored. An invalid rule is refused with a
// *ValidationError and nothing is saved.
func (s *Rules) Create(ctx context.Context, by string, r Rule) (Rule, error) {
	if err := checkBy(by); err != nil {
		return Rule{}, err
	}
	r, err := s.check(ctx, r)
	if err != nil {
		return Rule{}, err
	}
	if r, err = s.sealSecrets(r); err != nil {
		return Rule{}, err
	}
	conds, actions, err := encodeRule(r)
	if err != nil {
		return Rule{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	r.CreatedBy, r.UpdatedBy, r.CreatedAt, r.UpdatedAt = by, by, now, now
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		r.Tenant = inbox.TenantOf(ctx)
		if err := tx.Raw(`INSERT INTO workflow_rules (key, name, domain, scope_kind, scope_id, triggered_on, conditions, actions,
    allow_workflow_triggers, enabled, created_by, updated_by, created_at, updated_at, tenant_id)
VALUES (NULLIF(?, ''), ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?, ?, ?, NULLIF(?, '')) RETURNING id`,
			r.Key, r.Name, r.Domain, string(r.Scope.Kind), r.Scope.ID, r.TriggeredOn, conds, actions,
			r.AllowWorkflowTriggers, r.Enabled, by, by, now, now, r.Tenant).Scan(&r.ID).Error; err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: a rule has the key %q already; Ensure saves a rule by its key", ErrKeyTaken, r.Key)
			}
			return fmt.Errorf("workflow: create rule: %w", err)
		}
		r.Version = 1
		return bumpVersion(tx, r.Domain)
	})
	if err != nil {
		return Rule{}, err
	}
	s.changed(ctx)
	return r, nil
}

// Update checks r and saves it over the rule with r.ID, changed by by, if
// the stored rule is still at r.Version (optimistic locking): a rule saved
// by someone else since r was read is refused with a *ConflictError
// (errors.Is ErrConflict), and nothing is saved. It returns the saved
// rule, with the next Version; CreatedBy, CreatedAt and Key stay as they
// were. A missing rule is ErrRuleNotFound; an invalid one a
// *ValidationError.
func (s *Rules) Update(ctx context.Context, by string, r Rule) (Rule, error) {
	if err := checkBy(by); err != nil {
		return Rule{}, err
	}
	r, err := s.check(ctx, r)
	if err != nil {
		return Rule{}, err
	}
	if r, err = s.sealSecrets(r); err != nil {
		return Rule{}, err
	}
	conds, actions, err := encodeRule(r)
	if err != nil {
		return Rule{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var old []struct {
			Domain    string
			Version   int64
			Key       *string
			UpdatedBy string
			UpdatedAt time.Time
		}
		cond, targs := inbox.TenantCondition(ctx, "")
		if err := tx.Raw(`SELECT domain, version, key, updated_by, updated_at FROM workflow_rules WHERE id = ? AND `+cond+` FOR UPDATE`, append([]any{r.ID}, targs...)...).Scan(&old).Error; err != nil {
			return fmt.Errorf("workflow: update rule %d: %w", r.ID, err)
		}
		if len(old) == 0 {
			return notFound(r.ID)
		}
		if old[0].Version != r.Version {
			return &ConflictError{ID: r.ID, Version: r.Version, Current: old[0].Version, UpdatedBy: old[0].UpdatedBy, UpdatedAt: old[0].UpdatedAt}
		}
		var saved struct {
			CreatedBy string
			CreatedAt time.Time
			Version   int64
		}
		if err := tx.Raw(`UPDATE workflow_rules SET name = ?, domain = ?, scope_kind = ?, scope_id = ?, triggered_on = ?,
    conditions = ?::jsonb, actions = ?::jsonb, allow_workflow_triggers = ?, enabled = ?, updated_by = ?, updated_at = ?,
    version = version + 1
WHERE id = ? RETURNING created_by, created_at, version`,
			r.Name, r.Domain, string(r.Scope.Kind), r.Scope.ID, r.TriggeredOn, conds, actions,
			r.AllowWorkflowTriggers, r.Enabled, by, now, r.ID).Scan(&saved).Error; err != nil {
			return fmt.Errorf("workflow: update rule %d: %w", r.ID, err)
		}
		r.CreatedBy, r.CreatedAt, r.UpdatedBy, r.UpdatedAt, r.Version = saved.CreatedBy, saved.CreatedAt, by, now, saved.Version
		r.Tenant = inbox.TenantOf(ctx)
		r.Key = ""
		if old[0].Key != nil {
			r.Key = *old[0].Key
		}
		if old[0].Domain != r.Domain {
			if err := bumpVersion(tx, old[0].Domain); err != nil {
				return err
			}
		}
		return bumpVersion(tx, r.Domain)
	})
	if err != nil {
		return Rule{}, err
	}
	s.changed(ctx)
	return r, nil
}

// SetEnabled enables or disables the rule with id. Enabling checks the
// rule again (the schema or the registry may have changed since it was
// saved) and refuses it with a *ValidationError if it no longer passes.
func (s *Rules) SetEnabled(ctx context.Context, by string, id int64, enabled bool) (Rule, error) {
	if err := checkBy(by); err != nil {
		return Rule{}, err
	}
	var r Rule
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cond, targs := inbox.TenantCondition(ctx, "")
		rs, err := s.load(ctx, tx, "WHERE id = ? AND "+cond+" FOR UPDATE", append([]any{id}, targs...)...)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return notFound(id)
		}
		r = rs[0]
		if enabled && !r.Enabled {
			if _, err := s.check(ctx, r); err != nil {
				return err
			}
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		if err := tx.Exec(`UPDATE workflow_rules SET enabled = ?, updated_by = ?, updated_at = ?, version = version + 1 WHERE id = ?`, enabled, by, now, id).Error; err != nil {
			return fmt.Errorf("workflow: enable rule %d: %w", id, err)
		}
		r.Enabled, r.UpdatedBy, r.UpdatedAt, r.Version = enabled, by, now, r.Version+1
		return bumpVersion(tx, r.Domain)
	})
	if err != nil {
		return Rule{}, err
	}
	s.changed(ctx)
	return r, nil
}

// Delete deletes the rule with id. Its run log stays.
func (s *Rules) Delete(ctx context.Context, id int64) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var domains []string
		cond, targs := inbox.TenantCondition(ctx, "")
		if err := tx.Raw(`DELETE FROM workflow_rules WHERE id = ? AND `+cond+` RETURNING domain`, append([]any{id}, targs...)...).Scan(&domains).Error; err != nil {
			return fmt.Errorf("workflow: delete rule %d: %w", id, err)
		}
		if len(domains) == 0 {
			return notFound(id)
		}
		return bumpVersion(tx, domains[0])
	})
	if err != nil {
		return err
	}
	s.changed(ctx)
	return nil
}

// Get returns the rule with id, or ErrRuleNotFound.
func (s *Rules) Get(ctx context.Context, id int64) (Rule, error) {
	cond, targs := inbox.TenantCondition(ctx, "")
	rs, err := s.load(ctx, s.db, "WHERE id = ? AND "+cond, append([]any{id}, targs...)...)
	if err != nil {
		return Rule{}, err
	}
	if len(rs) == 0 {
		return Rule{}, notFound(id)
	}
	return rs[0], nil
}

// RuleQuery selects rules for List. Set fields must all hold.
type RuleQuery struct {
	Domain      string
	TriggeredOn string
	Scope       *Scope // one scope exactly (a subject's own rules)
	Enabled     *bool
	// AfterID continues a list after the last rule of the previous page.
	AfterID int64
	// Limit is the page size. Default 100, at most 1000.
	Limit int
}

// List returns the rules q selects, by id.
func (s *Rules) List(ctx context.Context, q RuleQuery) ([]Rule, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	cond, targs := inbox.TenantCondition(ctx, "")
	where, args = append(where, cond), append(args, targs...)
	if q.Domain != "" {
		add("domain = ?", q.Domain)
	}
	if q.TriggeredOn != "" {
		add("triggered_on = ?", q.TriggeredOn)
	}
	if q.Scope != nil {
		kind := q.Scope.Kind
		if kind == "" {
			kind = ScopeDomain
		}
		add("scope_kind = ?", string(kind))
		add("scope_id = ?", q.Scope.ID)
	}
	if q.Enabled != nil {
		add("enabled = ?", *q.Enabled)
	}
	if q.AfterID > 0 {
		add("id > ?", q.AfterID)
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 1000:
		return nil, &ValidationError{Problems: []Problem{{Field: "limit", Message: fmt.Sprintf("is %d; allowed: 1 to 1000 (0 means 100)", q.Limit)}}}
	}
	clause := ""
	if len(where) > 0 {
		clause = "WHERE " + strings.Join(where, " AND ")
	}
	return s.load(ctx, s.db, clause+fmt.Sprintf(" ORDER BY id LIMIT %d", limit), args...)
}

const ruleColumns = `id, coalesce(key, ''), name, domain, scope_kind, scope_id, triggered_on, conditions, actions, allow_workflow_triggers,
    enabled, version, created_by, updated_by, created_at, updated_at, coalesce(tenant_id, '')`

// load reads rules with the given WHERE (and ORDER, LIMIT) clause.
func (s *Rules) load(ctx context.Context, db *gorm.DB, clause string, args ...any) ([]Rule, error) {
	rows, err := db.WithContext(ctx).Raw(`SELECT `+ruleColumns+` FROM workflow_rules `+clause, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("workflow: load rules: %w", err)
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var r Rule
		var kind string
		var conds, actions []byte
		if err := rows.Scan(&r.ID, &r.Key, &r.Name, &r.Domain, &kind, &r.Scope.ID, &r.TriggeredOn, &conds, &actions,
			&r.AllowWorkflowTriggers, &r.Enabled, &r.Version, &r.CreatedBy, &r.UpdatedBy, &r.CreatedAt, &r.UpdatedAt, &r.Tenant); err != nil {
			return nil, fmt.Errorf("workflow: load rules: %w", err)
		}
		r.Scope.Kind = ScopeKind(kind)
		if err := json.Unmarshal(conds, &r.Conditions); err != nil {
			return nil, fmt.Errorf("workflow: rule %d: decode conditions: %w", r.ID, err)
		}
		if err := json.Unmarshal(actions, &r.Actions); err != nil {
			return nil, fmt.Errorf("workflow: rule %d: decode actions: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// encodeRule encodes a checked rule's conditions and actions for storage.
func encodeRule(r Rule) (conds, actions string, err error) {
	c, err := json.Marshal(r.Conditions)
	if err != nil {
		return "", "", fmt.Errorf("workflow: encode conditions: %w", err)
	}
	a, err := json.Marshal(r.Actions)
	if err != nil {
		return "", "", fmt.Errorf("workflow: encode actions: %w", err)
	}
	return string(c), string(a), nil
}

// bumpVersion moves domain's rule version on, inside a rule change's
// transaction, and announces it on NotifyChannel (delivered at commit).
func bumpVersion(tx *gorm.DB, domain string) error {
	if err := tx.Exec(`INSERT INTO workflow_versions (domain, version) VALUES (?, 1)
ON CONFLICT (domain) DO UPDATE SET version = workflow_versions.version + 1`, domain).Error; err != nil {
		return fmt.Errorf("workflow: bump rule version of %s: %w", domain, err)
	}
	if err := tx.Exec(`SELECT pg_notify(?, ?)`, NotifyChannel, domain).Error; err != nil {
		return fmt.Errorf("workflow: notify rule change of %s: %w", domain, err)
	}
	return nil
}
