package workflow

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/tidingsdev/tidings/inbox/webhook"
)

// secretPurpose binds a sealed parameter to where it is stored.
func secretPurpose(param string) string { return "workflow_rules.actions.params." + param }

// sealSecrets seals the Secret parameters of a checked rule's actions
// that are not sealed yet (a value read back from Get stays as it is).
func (s *Rules) sealSecrets(r Rule) (Rule, error) {
	r, _, err := s.sealChanged(r)
	return r, err
}

func (s *Rules) sealChanged(r Rule) (Rule, bool, error) {
	changed := false
	var ps problems
	actions := slices.Clone(r.Actions)
	for i, ra := range actions {
		a, ok := s.registry.Lookup(ra.Type)
		if !ok {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(a.Params)) {
			if !a.Params[name].Secret {
				continue
			}
			v, isString := ra.Params[name].(string)
			if !isString || v == "" || webhook.IsSealed(v) {
				continue
			}
			field := fmt.Sprintf("actions[%d].params.%s", i, name)
			if s.secrets == nil {
				ps.add(field, "cannot be stored: secrets are encrypted at rest, and this app has no key for them (RulesConfig.Secrets)")
				continue
			}
			sealed, err := s.secrets.Seal([]byte(v), secretPurpose(name))
			if err != nil {
				return Rule{}, false, err
			}
			changed = true
			p := maps.Clone(ra.Params)
			p[name] = sealed
			actions[i].Params = p
		}
	}
	if err := ps.err(); err != nil {
		return Rule{}, false, err
	}
	r.Actions = actions
	return r, changed, nil
}

// openSecrets returns params with a's Secret parameters opened. A value
// stored in plain text by an earlier version is passed through
// (SealSecretsAllTenants rewrites those).
func (s *Rules) openSecrets(a Action, params Params) (Params, error) {
	var out Params
	for name, p := range a.Params {
		if !p.Secret {
			continue
		}
		v, ok := params[name].(string)
		if !ok || !webhook.IsSealed(v) {
			continue
		}
		if s.secrets == nil {
			return nil, fmt.Errorf("parameter %s is sealed, and RulesConfig.Secrets is not set to open it", name)
		}
		plain, err := s.secrets.Open(v, secretPurpose(name))
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", name, err)
		}
		if out == nil {
			out = maps.Clone(params)
		}
		out[name] = string(plain)
	}
	if out == nil {
		return params, nil
	}
	return out, nil
}

// SealSecretsAllTenants encrypts the Secret parameters that rules saved
// by an earlier version hold in plain text, the rules of every tenant, and
// returns how many rules it rewrote. Run it once after configuring
// RulesConfig.Secrets, from a process that serves every tenant (it ignores
// the context's tenant; under row-level security it needs a role exempt
// from it); running it again rewrites nothing.
func (s *Rules) SealSecretsAllTenants(ctx context.Context) (int, error) {
	if s.secrets == nil {
		return 0, &ConfigError{Field: "RulesConfig.Secrets", Reason: "is nil: give the keyring that seals rule secrets"}
	}
	n := 0
	var after int64
	for {
		rs, err := s.load(ctx, s.db, "WHERE id > ? ORDER BY id LIMIT 500", after)
		if err != nil {
			return n, err
		}
		if len(rs) == 0 {
			return n, nil
		}
		for _, r := range rs {
			after = r.ID
			sealed, changed, err := s.sealChanged(r)
			if err != nil {
				return n, err
			}
			if !changed {
				continue
			}
			_, actions, err := encodeRule(sealed)
			if err != nil {
				return n, err
			}
			if err := s.db.WithContext(ctx).Exec(`UPDATE workflow_rules SET actions = ?::jsonb WHERE id = ?`, actions, r.ID).Error; err != nil {
				return n, fmt.Errorf("workflow: seal secrets of rule %d: %w", r.ID, err)
			}
			n++
		}
	}
}
