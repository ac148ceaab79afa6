// Package rules is the rule editor for an app's end users, one
// http.Handler to mount: the list of rules, a form to create or edit one
// (trigger, conditions, actions, the subject it watches) with every error
// at its field, a dry run on recent events, and each rule's run log.
//
// It speaks to the people who use the app, not to its developers: actions
// are named by the action catalog (activity.ActionSpec.Doc) or the app's
// locale catalog (web.Words, keys "tidings.action.<domain>.<action>"),
// comparisons and errors by the editor's Messages, which the locale
// catalog translates or rewords key by key ("rules.error.name", ...). A
// form the store refuses comes back with what was typed and chosen, each
// problem under its own field:
//
//	Name               Give the rule a name.
//	When this happens  Choose what the rule reacts to.
//	Value              “banana” is not a date (2024-01-31) or an age (365d).
//
// Besides the keys of Messages, the editor looks up names for what the
// app's rules are made of, each falling back to its declaration's words:
//
//   - tidings.domain.<domain>: a domain (else its name);
//   - tidings.action.<domain>.<action>: a trigger (else ActionSpec.Doc);
//   - rules.attribute.<domain>.<attribute>: a condition's field (else the
//     schema's Doc);
//   - rules.action.<type>: an action to do (else the registry's Doc);
//   - rules.param.<type>.<param>: its parameter (else the name);
//   - rules.hint.<type>.<param>: the parameter's hint (else its Doc).
//
// The built-in attributes (action, actor, occurred_at, ...) and actions
// (notify, record_event, webhook, post_slack, send_email) have these keys
// too: BuiltinMessages(domains...) lists them with their English, for an
// app to translate beside Messages (locale.Catalog.Missing says which a
// locale lacks).
//
// Who asks is a web.Identity: a signed-in person sees the rules of their
// tenant (and those the app keeps in code, read only); only an Admin
// creates, edits, turns on or off and deletes them. In a tenanted app a
// person without a tenant is refused.
//
//	ed, err := rules.New(rules.Config{
//		DB: db, Rules: store, Domains: []*activity.Domain{issues}, Prefix: "/rules",
//		Theme: web.Theme{Layout: appLayout}, Words: web.Words{Catalog: catalog},
//	})
//	mux.Handle("/rules/", web.Middleware(identify, nil)(ed))
//
// Protect the POST routes against cross-site requests as the app's other
// forms are (http.CrossOriginProtection around the mux).
package rules
