package rules

import (
	"strings"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/workflow"
)

// BuiltinMessages returns, by key, the English names the editor gives
// what every app's rules are made of, so that an app in another language
// can find and translate them: for each domain the built-in attributes
// of its conditions (rules.attribute.<domain>.<name>: action, actor,
// occurred_at, ...; their schema Doc), and the built-in actions
// (rules.action.<type>, rules.param.<type>.<param>,
// rules.hint.<type>.<param>: notify, record_event, webhook, post_slack,
// send_email; their registry Doc, the parameter's name, its Doc). The
// app's own attributes and actions are not listed: their keys are the
// same, with the app's words as defaults.
func BuiltinMessages(domains ...*activity.Domain) map[string]string {
	out := map[string]string{}
	for _, d := range domains {
		s, err := workflow.NewSchema(workflow.SchemaConfig{Domain: d}) // the built-ins alone
		if err != nil {
			continue // a nil domain
		}
		for _, a := range s.Attributes() {
			out["rules.attribute."+d.Name()+"."+a.Name] = a.Doc
		}
	}
	reg := workflow.NewRegistry(workflow.RegistryConfig{Slack: &workflow.SlackConfig{}, Email: &workflow.EmailConfig{}})
	for _, ai := range reg.Describe() {
		out["rules.action."+ai.Name] = strings.TrimSuffix(ai.Doc, ".")
		for p, ps := range ai.Params {
			out["rules.param."+ai.Name+"."+p] = capitalize(strings.ReplaceAll(p, "_", " "))
			out["rules.hint."+ai.Name+"."+p] = ps.Doc
		}
	}
	return out
}
