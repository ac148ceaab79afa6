package workflow

import (
	"encoding/json"
	"time"
)

// Rule is one automation a user configured: when TriggeredOn happens in
// Domain, within Scope, and the Conditions hold for the event, run the
// Actions in order. It has the JSON shape a rule editor sends:
//
//	{"name": "Stale issues",
//	 "domain": "issue",
//	 "scope": {"kind": "domain"},
//	 "triggered_on": "comment_added",
//	 "conditions": [{"attribute": "subject.created_at", "operator": "lt", "value": "2022-01-01"}],
//	 "actions": [{"type": "reply", "params": {"message": "This issue is stale, open a new one"}}],
//	 "enabled": true}
//
// Rules are saved through Rules, which checks every field first.
type Rule struct {
	ID int64 `json:"id"`
	// Key is a rule's stable name in code ("stale-issues"), unique among
	// rules: Rules.Ensure saves the rule by it, so an app can declare its
	// rules at start-up. Empty for rules people make in an editor.
	Key    string `json:"key,omitempty"`
	Name   string `json:"name"`
	Domain string `json:"domain"`
	// Scope limits the rule to one subject, one tenant, or none (the
	// whole domain). The zero Scope is the whole domain.
	Scope Scope `json:"scope"`
	// TriggeredOn is the action of Domain the rule reacts to.
	TriggeredOn string     `json:"triggered_on"`
	Conditions  Conditions `json:"conditions"`
	// Actions run in order when the conditions hold; a failed action
	// stops the ones after it until a retry gets past it.
	Actions []RuleAction `json:"actions"`
	// AllowWorkflowTriggers lets events recorded by workflow actions (this
	// rule's or another's) trigger the rule. Off by default, so a rule that
	// replies to comments does not reply to its own reply; turn it on for
	// chains of rules, whose loops the causation depth stops.
	AllowWorkflowTriggers bool `json:"allow_workflow_triggers,omitempty"`
	// Enabled rules run; disabled ones are kept but ignored.
	Enabled bool `json:"enabled"`

	// Version counts the rule's saves (1 when created). Update saves only
	// over the version it is given, so of two people editing a rule the
	// second gets a *ConflictError instead of silently overwriting the
	// first.
	Version int64 `json:"version"`

	// Set by Rules when saving: who created and last changed the rule,
	// and when.
	CreatedBy string    `json:"created_by"`
	UpdatedBy string    `json:"updated_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Tenant is the tenant the rule belongs to, set by Rules from the
	// context it was created under (activity.WithTenant): it runs only on
	// that tenant's events, and only that tenant's calls see or change it.
	// "" for an app-wide rule (created without a tenant, or by Ensure),
	// which runs on every tenant's events and which tenants' calls do not
	// see.
	Tenant string `json:"tenant,omitempty"`
}

// ScopeKind says what a rule's scope is.
type ScopeKind string

// The scope kinds.
const (
	// ScopeDomain: every subject of the domain (Scope.ID is empty).
	ScopeDomain ScopeKind = "domain"
	// ScopeSubject: one subject, a per-issue workflow (Scope.ID is the
	// subject's key, as events store it: "42").
	ScopeSubject ScopeKind = "subject"
	// ScopeTenant: the subjects of one tenant (an account, a workspace),
	// as RulesConfig.Tenant tells an event's tenant (Scope.ID is the
	// tenant's key).
	ScopeTenant ScopeKind = "tenant"
)

// Scope is what part of a domain a rule watches.
type Scope struct {
	Kind ScopeKind `json:"kind"`
	ID   string    `json:"id,omitempty"`
}

// DomainScope is the scope of a rule on every subject of its domain.
func DomainScope() Scope { return Scope{Kind: ScopeDomain} }

// SubjectScope is the scope of a rule on one subject (its key as text).
func SubjectScope(id string) Scope { return Scope{Kind: ScopeSubject, ID: id} }

// TenantScope is the scope of a rule on one tenant's subjects.
func TenantScope(id string) Scope { return Scope{Kind: ScopeTenant, ID: id} }

func (s Scope) String() string {
	if s.Kind == ScopeDomain || s.Kind == "" {
		return string(ScopeDomain)
	}
	return string(s.Kind) + ":" + s.ID
}

// RuleAction is one action of a rule: a type from the Registry and its
// parameters, checked against the type's ParamSchema when the rule is
// saved.
type RuleAction struct {
	Type   string `json:"type"`
	Params Params `json:"params,omitempty"`
}

// Do is shorthand for a RuleAction.
func Do(typ string, params Params) RuleAction { return RuleAction{Type: typ, Params: params} }

// MarshalJSON writes a nil Actions list as [].
func (r Rule) MarshalJSON() ([]byte, error) {
	type plain Rule
	p := plain(r)
	if p.Actions == nil {
		p.Actions = []RuleAction{}
	}
	if p.Scope.Kind == "" {
		p.Scope.Kind = ScopeDomain
	}
	return json.Marshal(p)
}

// Limits on a rule, checked when it is saved.
const (
	// MaxActions caps a rule's actions.
	MaxActions = 16
	// MaxNameLength caps a rule's name, in bytes.
	MaxNameLength = 200
	// MaxParamsBytes caps one action's parameters, encoded as JSON.
	MaxParamsBytes = 16 << 10
)
