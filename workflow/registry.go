package workflow

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"sync"
)

// ErrInvalidAction is returned (wrapped, naming the problem) by
// Registry.Register for an action that cannot be registered.
var ErrInvalidAction = errors.New("workflow: invalid action")

// The built-in actions' names.
const (
	ActionRecordEvent = "record_event" // record an event on the same subject
	ActionNotify      = "notify"       // notify users in-app (inbox/notify)
	ActionWebhook     = "webhook"      // POST the event to an https URL
	ActionPostSlack   = "post_slack"   // post a message to a Slack channel
	ActionSendEmail   = "send_email"   // send an email
)

// RegistryConfig configures the built-in actions of a Registry. Zero
// fields take the documented defaults.
type RegistryConfig struct {
	// Webhook is the transport of the webhook action. Default
	// NewWebhookClient(WebhookConfig{}): https to public addresses only.
	Webhook *WebhookClient
	// Slack configures the post_slack action; nil leaves it out.
	Slack *SlackConfig
	// Email configures the send_email action; nil leaves it out.
	Email *EmailConfig
}

// Registry holds the actions rules may use, by name. It is safe for
// concurrent use; register the app's actions at start-up, before rules are
// saved or run.
type Registry struct {
	mu      sync.RWMutex
	actions map[string]Action
}

// NewRegistry returns a registry holding the built-in actions:
// record_event, notify and webhook, and post_slack and send_email when
// configured.
func NewRegistry(cfg RegistryConfig) *Registry {
	r := &Registry{actions: map[string]Action{}}
	if cfg.Webhook == nil {
		cfg.Webhook = NewWebhookClient(WebhookConfig{})
	}
	r.actions[ActionRecordEvent] = recordEventAction()
	r.actions[ActionNotify] = notifyAction()
	r.actions[ActionWebhook] = webhookAction(cfg.Webhook)
	if cfg.Slack != nil {
		r.actions[ActionPostSlack] = slackAction(*cfg.Slack)
	}
	if cfg.Email != nil {
		r.actions[ActionSendEmail] = emailAction(*cfg.Email)
	}
	return r
}

var actionNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Register adds an action under name (1-64 of a-z 0-9 _, starting with a
// letter). Names are unique: registering one twice, or a built-in's, is an
// error. Rules saved with the name are checked against a.Params.
func (r *Registry) Register(name string, a Action) error {
	if !actionNameRE.MatchString(name) {
		return fmt.Errorf("%w: name %q: use 1-64 of a-z 0-9 _, starting with a letter, like \"add_label\"", ErrInvalidAction, name)
	}
	if a.Run == nil {
		return fmt.Errorf("%w: %s: Run is nil", ErrInvalidAction, name)
	}
	for p, spec := range a.Params {
		if !spec.Type.valid() || spec.Type.IsChange() {
			return fmt.Errorf("%w: %s: parameter %q has an invalid type; use String, Number, Time, Bool or ListOf(kind)", ErrInvalidAction, name, p)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.actions[name]; dup {
		return fmt.Errorf("%w: %s is registered already; action names are unique", ErrInvalidAction, name)
	}
	r.actions[name] = a
	return nil
}

// MustRegister is Register for start-up code; it panics on an error.
func (r *Registry) MustRegister(name string, a Action) {
	if err := r.Register(name, a); err != nil {
		panic(err)
	}
}

// Lookup returns the action registered under name.
func (r *Registry) Lookup(name string) (Action, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.actions[name]
	return a, ok
}

// Names returns the registered actions' names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.actions))
	for n := range r.actions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ActionInfo describes a registered action for rule editors.
type ActionInfo struct {
	Name     string      `json:"name"`
	Doc      string      `json:"doc,omitempty"`
	Params   ParamSchema `json:"params"`
	External bool        `json:"external"`
}

// Describe lists the registered actions, sorted by name.
func (r *Registry) Describe() []ActionInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]ActionInfo, 0, len(r.actions))
	for n, a := range r.actions {
		out = append(out, ActionInfo{Name: n, Doc: a.Doc, Params: a.Params, External: a.External})
	}
	slices.SortFunc(out, func(a, b ActionInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}
