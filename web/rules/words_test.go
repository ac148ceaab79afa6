package rules_test

import (
	"context"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/wordstest"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/rules"
	"github.com/tidingsdev/tidings/workflow"
)

var storedJSON = regexp.MustCompile(`(?s)<pre>.*?</pre>`)

// Every text of the editor speaks the reader's locale: with a catalog
// giving in German (wordstest's markers) every key of Messages and of
// BuiltinMessages (the built-in attributes and actions), and every name
// the editor looks up for the app's own rules (its domain and actions,
// its schema's fields, its action type, its parameters and their
// hints), the list, a rule's page, the new form and
// a refused form hold no English but what was typed and saved.
func TestEveryTextInTheReadersWords(t *testing.T) {
	reset(t)
	rs := newRules(t)
	keys := rules.Messages()
	keys["tidings.domain.issue"] = ""
	for _, a := range issues.Actions() {
		keys["tidings.action.issue."+a] = ""
	}
	maps.Copy(keys, rules.BuiltinMessages(issues)) // the built-in attributes and actions
	for _, a := range rs.Schema("issue").Attributes() {
		if a.Doc == "" { // the app's own fields: the built-ins carry a Doc
			keys["rules.attribute.issue."+a.Name] = ""
		}
	}
	for _, ai := range rs.Registry().Describe() {
		if ai.Name != "reply" { // the app's own action
			continue
		}
		keys["rules.action."+ai.Name] = ""
		for p := range ai.Params {
			keys["rules.param."+ai.Name+"."+p] = ""
			keys["rules.hint."+ai.Name+"."+p] = ""
		}
	}
	ed, err := rules.New(rules.Config{DB: db, Rules: rs, Domains: []*activity.Domain{issues}, Prefix: "/rules", Logger: quiet(),
		Words:    web.Words{Catalog: wordstest.Catalog(t, keys)},
		Identity: func(r *http.Request) (web.Identity, error) { return people[r.Header.Get("X-As")], nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ed)
	defer srv.Close()
	c := client{t, srv}
	rule, err := rs.Create(activity.WithTenant(context.Background(), "acme"), "users:5", workflow.Rule{Name: "Stale issues", Domain: "issue", TriggeredOn: "commented",
		Conditions: workflow.Conditions{workflow.Cond("subject.created_at", workflow.OpLt, "2022-01-01")},
		Actions:    []workflow.RuleAction{workflow.Do("reply", workflow.Params{"message": "This issue is stale"})}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	bad := url.Values{
		"name": {""}, "triggered_on": {"bogus"}, "scope_id": {"abc"}, "enabled": {"on"},
		"cond_attribute": {"subject.created_at", "record.nope"}, "cond_operator": {"lt", "eq"}, "cond_value": {"banana", "x"},
		"action_type": {"reply"}, "action0.reply.message": {""}, "op": {"save"},
	}
	data := []string{"Stale issues", "This issue is stale", "2022-01-01", "Greta", "bogus", "abc", "banana", "record.nope", "x"}
	for _, r := range []struct {
		method, path string
		form         url.Values
		want         int
	}{
		{"GET", "/rules/", nil, 200},
		{"GET", "/rules/new", nil, 200},
		{"GET", fmt.Sprint("/rules/", rule.ID), nil, 200},
		{"POST", "/rules/new", bad, http.StatusUnprocessableEntity},
	} {
		code, body, _ := c.do("greta", r.method, r.path, r.form)
		if code != r.want {
			t.Errorf("%s %s: %d, want %d", r.method, r.path, code, r.want)
		}
		body = storedJSON.ReplaceAllString(body, "<pre></pre>") // the rule as stored: data
		if left := wordstest.Untranslated(body, data...); len(left) > 0 {
			t.Errorf("%s %s: English left in a German page: %q", r.method, r.path, left)
		}
	}
}

// In English the editor names the built-in attributes and actions as
// BuiltinMessages says: each of its texts for the domain's attributes and
// the registry's actions is an element's text on the new rule's form.
func TestBuiltinMessagesAreTheEnglish(t *testing.T) {
	reset(t)
	rs := newRules(t)
	ed, err := rules.New(rules.Config{DB: db, Rules: rs, Domains: []*activity.Domain{issues}, Prefix: "/rules", Logger: quiet(),
		Identity: func(r *http.Request) (web.Identity, error) { return people[r.Header.Get("X-As")], nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ed)
	defer srv.Close()
	code, body, _ := client{t, srv}.do("ana", "GET", "/rules/new", nil)
	if code != 200 {
		t.Fatalf("new rule: %d", code)
	}
	registered := map[string]bool{}
	for _, ai := range rs.Registry().Describe() {
		registered[ai.Name] = true
	}
	n := 0
	for k, v := range rules.BuiltinMessages(issues) {
		parts := strings.Split(k, ".")
		if parts[1] != "attribute" && !registered[parts[2]] { // send_email, post_slack: not configured here
			continue
		}
		n++
		if !strings.Contains(body, ">"+html.EscapeString(v)) { // an element's text
			t.Errorf("%s: %q is not on the English form", k, v)
		}
	}
	if n < 20 {
		t.Errorf("only %d built-in texts checked", n)
	}
}
