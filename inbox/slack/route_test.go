package slack_test

import (
	"encoding/json"
	"errors"
	"testing"

	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
)

func TestRoutePrecedence(t *testing.T) {
	var cfg slackinbox.RouterConfig
	err := json.Unmarshal([]byte(`{
		"default": "#activity",
		"rules": [
			{"domain": "issue", "channel": "#issues"},
			{"action": "deleted", "channel": "#deletions"},
			{"domain": "issue", "action": "deleted", "channel": "#audit"},
			{"domain": "issue", "subject_id": "42", "channel": "#incident-42"},
			{"domain": "issue", "subject_id": "42", "action": "deleted", "channel": "#incident-42-audit"},
			{"domain": "issue", "channel": "#issues-second"}
		]}`), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := router(t, cfg)
	cases := []struct {
		domain, subject, action, want string
	}{
		{"issue", "1", "comment_added", "#issues"},       // domain; the first of two equal rules
		{"issue", "1", "deleted", "#audit"},              // domain+action beats action and domain
		{"invoice", "1", "deleted", "#deletions"},        // action alone beats the default
		{"issue", "42", "comment_added", "#incident-42"}, // subject beats domain
		{"issue", "42", "deleted", "#incident-42-audit"}, // subject+action beats all
		{"invoice", "42", "paid", "#activity"},           // subject ids are per domain
		{"project", "9", "renamed", "#activity"},         // nothing matches: default
	}
	for _, c := range cases {
		ev := event(1, c.subject, c.action, "Ana", nil)
		ev.Domain = c.domain
		if got, ok := r.Route(ev); !ok || got != c.want {
			t.Errorf("%s %s %s routed to %q, want %q", c.domain, c.subject, c.action, got, c.want)
		}
	}
	noDefault := router(t, slackinbox.RouterConfig{Rules: cfg.Rules})
	ev := event(1, "1", "renamed", "Ana", nil)
	ev.Domain = "project"
	if ch, ok := noDefault.Route(ev); ok {
		t.Errorf("without a default, an unmatched event routed to %q", ch)
	}
}

func TestNewRouterRejectsBadRules(t *testing.T) {
	for name, rule := range map[string]slackinbox.Rule{
		"no channel":          {Domain: "issue"},
		"subject sans domain": {SubjectID: "42", Channel: "#x"},
		"matches everything":  {Channel: "#x"},
	} {
		_, err := slackinbox.NewRouter(slackinbox.RouterConfig{Rules: []slackinbox.Rule{rule}})
		if !errors.Is(err, slackinbox.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}
