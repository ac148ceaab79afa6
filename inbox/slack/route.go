package slack

import (
	"fmt"
	"strings"

	"github.com/tidingsdev/tidings/activity"
)

// Rule sends matching events to Channel. Empty fields match anything; set
// fields must all match. SubjectID needs Domain: subject ids are per domain.
type Rule struct {
	Domain    string `json:"domain,omitempty"`
	Action    string `json:"action,omitempty"`
	SubjectID string `json:"subject_id,omitempty"`
	// Channel is a channel ID ("C0123ABC") or name ("#issues") for a
	// Poster, or an incoming-webhook URL for a WebhookPoster.
	Channel string `json:"channel"`
}

// RouterConfig configures a Router. It decodes from JSON:
//
//	{"default": "#activity",
//	 "rules": [{"domain": "issue", "channel": "#issues"},
//	           {"domain": "issue", "action": "deleted", "channel": "#audit"},
//	           {"domain": "issue", "subject_id": "42", "channel": "#incident-42"}]}
type RouterConfig struct {
	// Default receives events that no rule matches. Optional: without it
	// such events are not posted (Route reports false).
	Default string `json:"default,omitempty"`
	Rules   []Rule `json:"rules,omitempty"`
}

// Router picks the channel of an event.
//
// Precedence: the most specific matching rule wins. A rule naming the
// subject beats one naming the action, which beats one naming only the
// domain:
//
//	domain+subject+action > domain+subject > domain+action > action > domain > Default
//
// Between equally specific matches, the first listed wins.
type Router struct {
	def   string
	rules []Rule
}

// NewRouter checks cfg and returns a Router.
func NewRouter(cfg RouterConfig) (*Router, error) {
	for i, r := range cfg.Rules {
		switch {
		case strings.TrimSpace(r.Channel) == "":
			return nil, fmt.Errorf("%w: routing rule %d (%s) has no channel", ErrInvalidConfig, i, r.describe())
		case r.SubjectID != "" && r.Domain == "":
			return nil, fmt.Errorf("%w: routing rule %d (%s) names a subject without its domain; subject ids are per domain", ErrInvalidConfig, i, r.describe())
		case r.Domain == "" && r.Action == "":
			return nil, fmt.Errorf("%w: routing rule %d matches every event; use RouterConfig.Default for that", ErrInvalidConfig, i)
		}
	}
	return &Router{def: cfg.Default, rules: append([]Rule(nil), cfg.Rules...)}, nil
}

// Route returns the channel for ev, and false when nothing routes it.
func (r *Router) Route(ev activity.Event) (string, bool) {
	best, bestScore := "", 0
	for _, rule := range r.rules {
		if s := rule.score(ev); s > bestScore {
			best, bestScore = rule.Channel, s
		}
	}
	if bestScore > 0 {
		return best, true
	}
	return r.def, r.def != ""
}

// Accepts reports whether some event of domain and action can be routed:
// a Default is set, or a rule matches them (whatever its subject). It is
// what the Slack inbox accepts; Route still decides per event.
func (r *Router) Accepts(domain, action string) bool {
	if r.def != "" {
		return true
	}
	for _, rule := range r.rules {
		if (rule.Domain == "" || rule.Domain == domain) && (rule.Action == "" || rule.Action == action) {
			return true
		}
	}
	return false
}

// Channels returns every channel the router can send to, Default first.
func (r *Router) Channels() []string {
	var out []string
	if r.def != "" {
		out = append(out, r.def)
	}
	for _, rule := range r.rules {
		out = append(out, rule.Channel)
	}
	return out
}

// score is 0 for a rule that does not match ev, else its specificity:
// subject 4, action 2, domain 1.
func (rule Rule) score(ev activity.Event) int {
	s := 0
	if rule.Domain != "" {
		if rule.Domain != ev.Domain {
			return 0
		}
		s++
	}
	if rule.Action != "" {
		if rule.Action != ev.Action {
			return 0
		}
		s += 2
	}
	if rule.SubjectID != "" {
		if rule.SubjectID != ev.SubjectID {
			return 0
		}
		s += 4
	}
	return s
}

func (rule Rule) describe() string {
	return fmt.Sprintf("domain %q action %q subject %q", rule.Domain, rule.Action, rule.SubjectID)
}
