package chat

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// Rule sends matching events to URL, an incoming-webhook URL. Empty fields
// match anything; set fields must all match. SubjectID needs Domain:
// subject ids are per domain.
type Rule struct {
	// Tenant limits the rule to one tenant's events (activity.Event.TenantID):
	// each tenant's own channel. "" matches every tenant's events.
	Tenant    string `json:"tenant,omitempty"`
	Domain    string `json:"domain,omitempty"`
	Action    string `json:"action,omitempty"`
	SubjectID string `json:"subject_id,omitempty"`
	// URL is the incoming webhook's URL: a secret (whoever has it posts to
	// the channel), never logged nor put in errors or job payloads.
	URL string `json:"url"`
	// Locale is the channel's language (BCP 47, "de"): messages are
	// worded in it through Config.Catalog. "" takes Config.Locale.
	Locale string `json:"locale,omitempty"`
}

// Target is where an event goes: a webhook URL and the language of its
// channel.
type Target struct {
	URL    string
	Locale string // "" for Config.Locale
}

// RouterConfig configures a Router. It decodes from JSON:
//
//	{"default": "https://discord.com/api/webhooks/1/abc",
//	 "rules": [{"tenant": "acme", "url": "https://discord.com/api/webhooks/2/def"},
//	           {"tenant": "acme", "domain": "issue", "action": "deleted", "url": "https://discord.com/api/webhooks/3/ghi"}]}
type RouterConfig struct {
	// Default receives the events no rule matches, of every tenant.
	// Optional: without it such events are not posted. In a multi-tenant
	// app leave it empty unless one channel may see every tenant's events.
	Default string `json:"default,omitempty"`
	// DefaultLocale is Default's language. "" takes Config.Locale.
	DefaultLocale string `json:"default_locale,omitempty"`
	Rules         []Rule `json:"rules,omitempty"`
}

// Router picks an event's webhook URL.
//
// Precedence: the most specific matching rule wins. A rule naming the
// tenant beats any rule that does not; then subject beats action, which
// beats domain:
//
//	tenant > subject > action > domain > Default
//
// Between equally specific matches, the first listed wins.
type Router struct {
	def   Target
	rules []Rule
}

// NewRouter checks cfg and returns a Router. Every URL must be an
// absolute https URL (CheckURL); a rule must name at least a tenant, a domain or an action.
func NewRouter(cfg RouterConfig) (*Router, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "chat.RouterConfig." + field, Reason: reason}
	}
	if cfg.Default != "" {
		if err := CheckURL(cfg.Default); err != nil {
			return nil, bad("Default", err.Error())
		}
	}
	for i, r := range cfg.Rules {
		field := fmt.Sprintf("Rules[%d]", i)
		switch {
		case strings.TrimSpace(r.URL) == "":
			return nil, bad(field, "has no URL")
		case r.SubjectID != "" && r.Domain == "":
			return nil, bad(field, "names a subject without its domain; subject ids are per domain")
		case r.Tenant == "" && r.Domain == "" && r.Action == "":
			return nil, bad(field, "matches every event; use RouterConfig.Default for that")
		}
		if err := CheckURL(r.URL); err != nil {
			return nil, bad(field+".URL", err.Error())
		}
	}
	return &Router{def: Target{URL: cfg.Default, Locale: cfg.DefaultLocale}, rules: append([]Rule(nil), cfg.Rules...)}, nil
}

// Route returns the target of ev, and false when nothing routes it.
func (r *Router) Route(ev activity.Event) (Target, bool) {
	var best Target
	bestScore := 0
	for _, rule := range r.rules {
		if s := rule.score(ev); s > bestScore {
			best, bestScore = Target{URL: rule.URL, Locale: rule.Locale}, s
		}
	}
	if bestScore > 0 {
		return best, true
	}
	return r.def, r.def.URL != ""
}

// Accepts reports whether some event of domain and action can be routed
// (a Default is set, or a rule matches them, whatever its tenant and
// subject): what the inbox accepts; Route still decides per event.
func (r *Router) Accepts(domain, action string) bool {
	if r.def.URL != "" {
		return true
	}
	for _, rule := range r.rules {
		if (rule.Domain == "" || rule.Domain == domain) && (rule.Action == "" || rule.Action == action) {
			return true
		}
	}
	return false
}

// URLs returns every URL the router can send to, Default first.
func (r *Router) URLs() []string {
	var out []string
	if r.def.URL != "" {
		out = append(out, r.def.URL)
	}
	for _, rule := range r.rules {
		out = append(out, rule.URL)
	}
	return out
}

// score is 0 for a rule that does not match ev, else its specificity:
// tenant 8, subject 4, action 2, domain 1.
func (rule Rule) score(ev activity.Event) int {
	s := 0
	if rule.Tenant != "" {
		if rule.Tenant != ev.TenantID {
			return 0
		}
		s += 8
	}
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

// CheckURL reports a webhook URL that cannot work: not absolute, not
// https, or carrying credentials. (Whether its host is public is checked
// when a post connects: see Config.Client.) Its error never repeats the URL (a secret).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("is not an absolute webhook URL")
	}
	if u.User != nil {
		return fmt.Errorf("must not carry credentials (user:password@)")
	}
	if u.Scheme != "https" {
		return fmt.Errorf("must use https")
	}
	return nil
}
