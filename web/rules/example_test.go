package rules_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/rules"
)

// A person posts a rule without a name: the form comes back with the
// error under the name field.
func Example() {
	store, err := makeRules() // the app's workflow.Rules
	if err != nil {
		panic(err)
	}
	ed, err := rules.New(rules.Config{DB: db, Rules: store, Domains: []*activity.Domain{issues}, Prefix: "/rules", Logger: quiet()})
	if err != nil {
		panic(err)
	}
	ana := web.Identity{Person: activity.Ref{Type: "users", ID: "1"}, Label: "Ana", Tenant: "acme", Admin: true}
	h := web.Middleware(func(*http.Request) (web.Identity, error) { return ana, nil }, nil)(ed)

	form := url.Values{"name": {""}, "triggered_on": {"commented"}, "action_type": {"reply"}, "action0.reply.message": {"hi"}}
	req := httptest.NewRequest("POST", "/rules/new", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	for _, m := range regexp.MustCompile(`data-field="([^"]*)">([^<]*)<`).FindAllStringSubmatch(rec.Body.String(), -1) {
		fmt.Printf("%s: %s\n", m[1], m[2])
	}
	// Output:
	// 422
	// name: Give the rule a name.
}

// The names of the built-in attributes and actions, for an app's
// translators: each key with its English.
func ExampleBuiltinMessages() {
	m := rules.BuiltinMessages(issues)
	for _, k := range []string{"rules.attribute.issue.occurred_at", "rules.action.notify", "rules.param.notify.recipients", "rules.hint.webhook.url"} {
		fmt.Printf("%s: %s\n", k, m[k])
	}
	// Output:
	// rules.attribute.issue.occurred_at: when the event occurred
	// rules.action.notify: Notify users in-app of the event
	// rules.param.notify.recipients: Recipients
	// rules.hint.webhook.url: an https URL on a public address
}
