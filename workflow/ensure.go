package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
)

// Ensure saves r by its Key: it creates the rule if no rule has the key,
// updates it if the stored rule differs, and writes nothing if it is the
// same (its Version and UpdatedAt stay). An app declares its rules in code
// and calls Ensure for each at start-up; running it twice, or from several
// processes at once, leaves one rule per key. The rule is checked like any
// other; r.ID and r.Version are ignored (the key names the rule, and code
// is its authority: an editor's changes to a keyed rule are replaced at
// the next start-up). It returns the stored rule and whether it wrote.
// The key names a rule within the context's tenant: with a tenant, Ensure
// keeps that tenant's rule of the key; without one, an untenanted rule.
func (s *Rules) Ensure(ctx context.Context, by string, r Rule) (Rule, bool, error) {
	if err := checkBy(by); err != nil {
		return Rule{}, false, err
	}
	if r.Key == "" {
		return Rule{}, false, &ValidationError{Problems: []Problem{{Field: "key", Message: "required: Ensure saves a rule by its stable key (\"stale-issues\")"}}}
	}
	r, err := s.check(ctx, r)
	if err != nil {
		return Rule{}, false, err
	}
	conds, actions, err := encodeRule(r)
	if err != nil {
		return Rule{}, false, err
	}
	// The key names the rule within the context's tenant (untenanted
	// rules without one): another tenant's rule of that key is never read
	// nor changed.
	r.Tenant = inbox.TenantOf(ctx)
	cond, targs := inbox.TenantCondition(ctx, "")
	now := s.now().UTC().Truncate(time.Microsecond)
	var out Rule
	wrote := false
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Insert unless the key exists; concurrent Ensures of one key
		// wait on the unique index and then find the row.
		var ids []int64
		if err := tx.Raw(`INSERT INTO workflow_rules (key, name, domain, scope_kind, scope_id, triggered_on, conditions, actions,
    allow_workflow_triggers, enabled, created_by, updated_by, created_at, updated_at, tenant_id)
VALUES (?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?, ?, ?, NULLIF(?, ''))
ON CONFLICT (key, tenant_id) WHERE key IS NOT NULL DO NOTHING RETURNING id`,
			r.Key, r.Name, r.Domain, string(r.Scope.Kind), r.Scope.ID, r.TriggeredOn, conds, actions,
			r.AllowWorkflowTriggers, r.Enabled, by, by, now, now, r.Tenant).Scan(&ids).Error; err != nil {
			return fmt.Errorf("workflow: ensure rule %q: %w", r.Key, err)
		}
		if len(ids) == 1 {
			wrote = true
			return bumpVersion(tx, r.Domain)
		}
		stored, err := s.load(ctx, tx, "WHERE key = ? AND "+cond+" FOR UPDATE", append([]any{r.Key}, targs...)...)
		if err != nil {
			return err
		}
		if len(stored) == 0 {
			return fmt.Errorf("workflow: ensure rule %q: the key's rule vanished meanwhile; try again", r.Key)
		}
		old := stored[0]
		if sameRule(old, r) {
			out = old
			return nil
		}
		if err := tx.Exec(`UPDATE workflow_rules SET name = ?, domain = ?, scope_kind = ?, scope_id = ?, triggered_on = ?,
    conditions = ?::jsonb, actions = ?::jsonb, allow_workflow_triggers = ?, enabled = ?, updated_by = ?, updated_at = ?,
    version = version + 1
WHERE id = ?`,
			r.Name, r.Domain, string(r.Scope.Kind), r.Scope.ID, r.TriggeredOn, conds, actions,
			r.AllowWorkflowTriggers, r.Enabled, by, now, old.ID).Error; err != nil {
			return fmt.Errorf("workflow: ensure rule %q: %w", r.Key, err)
		}
		wrote = true
		if old.Domain != r.Domain {
			if err := bumpVersion(tx, old.Domain); err != nil {
				return err
			}
		}
		return bumpVersion(tx, r.Domain)
	})
	if err != nil {
		return Rule{}, false, err
	}
	if !wrote {
		return out, false, nil
	}
	s.changed(ctx)
	rs, err := s.load(ctx, s.db, "WHERE key = ? AND "+cond, append([]any{r.Key}, targs...)...)
	if err != nil {
		return Rule{}, true, err
	}
	if len(rs) == 0 {
		return Rule{}, true, fmt.Errorf("workflow: ensure rule %q: deleted right after it was saved", r.Key)
	}
	return rs[0], true, nil
}

// sameRule reports whether stored already says what r says.
func sameRule(stored, r Rule) bool {
	if stored.Name != r.Name || stored.Domain != r.Domain || stored.Scope != r.Scope || stored.TriggeredOn != r.TriggeredOn ||
		stored.AllowWorkflowTriggers != r.AllowWorkflowTriggers || stored.Enabled != r.Enabled {
		return false
	}
	c1, a1, err1 := encodeRule(stored)
	c2, a2, err2 := encodeRule(r)
	return err1 == nil && err2 == nil && jsonEqual(c1, c2) && jsonEqual(a1, a2)
}

// jsonEqual compares two JSON texts as values (jsonb reorders keys).
func jsonEqual(a, b string) bool {
	if a == b {
		return true
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return bytes.Equal(bx, by)
}
