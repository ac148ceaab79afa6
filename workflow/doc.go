// Package workflow runs the rules users configure at run time: "when a
// comment is added to an issue older than a year, reply: this issue is
// stale". A rule reacts to one action of one activity domain
// (triggered_on), holds when its conditions hold for the event, and then
// runs its actions in order. The engine is one more inbox of the fan-out
// (package inbox): it receives every committed event of its domains.
//
// # Setting up
//
// An app declares, per domain, what conditions may test (a Schema, below),
// registers its own actions next to the built-in ones, and runs the engine
// as one of the worker's inboxes:
//
//	reg := workflow.NewRegistry(workflow.RegistryConfig{
//		Slack: &workflow.SlackConfig{Token: token},                       // optional
//		Email: &workflow.EmailConfig{Sender: smtp, From: "Bot <bot@x.io>"}, // optional
//	})
//	reg.MustRegister("reply", workflow.Action{
//		Params: workflow.ParamSchema{"message": {Type: workflow.String, Required: true}},
//		Run:    replyWithComment, // writes through ac.Tx
//	})
//	rules, err := workflow.NewRules(workflow.RulesConfig{DB: db, Schemas: []*workflow.Schema{issueSchema}, Registry: reg})
//	engine, err := workflow.NewEngine(workflow.EngineConfig{Rules: rules})
//	go engine.Run(ctx) // keeps Accepts current
//	worker, err := inbox.NewWorker(inbox.Config{..., Inboxes: []inbox.Inbox{engine, ...}})
//
// # Rules
//
// A Rule is stored in workflow_rules (migration 00005): a name, a domain, a
// scope (the whole domain, one subject, or one tenant as
// RulesConfig.Tenant tells it), triggered_on (an action of the domain),
// conditions, actions, whether it is enabled, and who created and last
// changed it, when. Rules.Create, Update, SetEnabled (enabling), Validate
// and DryRun check every field first and save nothing invalid: the domain
// and triggered_on against the declared domains and actions (with a
// suggestion), the conditions against the domain's Schema, each action's
// type against the Registry, its parameters against the action's
// ParamSchema and its Check (a webhook URL is looked up then: https only,
// public addresses only). Problems point at their field:
//
//	triggered_on: unknown action "coment_added" of domain issue (did you mean "comment_added"?); expected one of ...
//	actions[0].type: unknown action "replly" (did you mean "reply"?); expected one of notify, record_event, reply, webhook
//	actions[1].params.url: "https://169.254.169.254/": address 169.254.169.254 is link-local, ...
//
// Every change bumps the domain's version in workflow_versions and sends a
// pg_notify on NotifyChannel, in the change's transaction.
//
// # Rules kept in code, and editors that do not overwrite each other
//
// An app that wants a rule defined in code gives it a stable Key and calls
// Ensure at start-up: the rule is created once, updated in place when the
// code changes it, and left alone (not written, no engine reload) when it
// is the same, however many processes start at once:
//
//	_, _, err := rules.Ensure(ctx, "app", workflow.Rule{Key: "stale-issues", Name: "Stale issues", ...})
//
// Every save moves a rule's Version on. Update saves only over the Version
// it was given: of two people editing one rule, the second gets a
// *ConflictError (errors.Is ErrConflict) naming who saved meanwhile, and
// nothing of theirs is written; a rule editor keeps the version in its
// form.
//
// # Actions
//
// Actions come from a Registry. Built in: record_event (an event on the
// same subject, caused by the triggering event), notify (in-app
// notifications, package inbox/notify), webhook (a signed POST over https
// through WebhookClient), and, when configured, post_slack (package
// inbox/slack's client) and send_email (package inbox/email's Sender). The
// app registers its own with Registry.Register, each with a ParamSchema
// checked when rules are saved.
//
// Each action runs at most once per (rule, event, action index), however
// often the engine's job is retried: workflow_action_runs holds one row per
// action run. A database action (the default) runs in a transaction,
// ActionContext.Tx, that also writes its row, so its effects and the
// record that it ran commit together: exactly once. An external action
// (Action.External) is claimed before it runs and marked sent after; a
// process dying in between makes it run again after the claim timeout (at
// least once), with the same ActionContext.IdempotencyKey.
//
// # The engine
//
// Engine is an inbox: the relay hands it the events whose (domain, action)
// has enabled rules (Accepts reads an in-memory set that Run refreshes on
// each change notification and every RefreshInterval; see Engine for its
// staleness). For each event, Process:
//
//  1. reads the domain's rule version (one query) and, when it moved,
//     reloads and compiles the enabled rules of (domain, action): a cache
//     that is never older than the job;
//  2. keeps the rules whose scope holds the event (a subject's own rules
//     by map lookup; the tenant is asked for once, only when some rule is
//     scoped to one);
//  3. evaluates their conditions against one Facts;
//  4. logs each rule's outcome in workflow_runs, one statement for all:
//     matched or not and why (the Explanation), or what failed;
//  5. runs the matched rules' actions in order, each with its result or
//     error in workflow_action_runs. A failed action stops its rule; the
//     job is retried (with inbox's backoff) and resumes at that action.
//
// Rules.Runs reads the log back, with each run's actions; Rules.PruneRuns
// deletes a tenant's old finished runs, PruneRunLogAllTenants every
// tenant's (package retention). With hundreds of rules on one action, set
// EngineConfig.SkipMisses: logging why each rule did not match costs a row
// per rule per event.
//
// Actions run with the triggering event as their cause (the worker puts
// it on the context), the workflow actor (System("workflow"), labelled
// "Workflow: <rule name>") and the metadata source "workflow". So what an
// action records carries causation_id, correlation and depth, and is
// marked as the workflow's.
//
// # Loops
//
// A rule does not react to events recorded by workflow actions (source
// "workflow") unless it sets AllowWorkflowTriggers: the stale-issue rule
// does not reply to its own reply. Rules that do allow it can form loops;
// the causation depth stops them: an action recording past the domain's
// MaxDepth fails with activity.ErrCausationDepth, and the run is logged as
// "stopped: causation depth limit: ..." and not retried.
//
// # Observing
//
// EngineConfig.Observers see each rule's verdict on each event (matched,
// no_match, failed) and wrap each action run (ActionStart returns the
// action's context and an end function given its outcome). Package observe
// counts them for Prometheus (no label names a rule: rules are data) and
// runs each action in a span, so what an action records continues the
// trace of the event that triggered it.
//
// # Dry runs
//
// Rules.DryRun evaluates a rule, saved or not, against the last n events
// of its trigger action (within its scope), newest first, and says which
// it would have matched and why. It runs nothing and writes nothing.
// Subject and record fields are read as they are now.
//
// The sections below document conditions, their validation and evaluation,
// action parameter schemas, and the webhook transport.
//
// # Conditions
//
// A rule's conditions are a list that must all hold. Each is a test,
//
//	{"attribute": "subject.created_at", "operator": "lt", "value": "2022-01-01"}
//
// or a group: {"any_of": [...]} holds when one of its conditions does,
// {"all_of": [...]} when all do (for an "and" inside an any_of). Groups
// nest up to MaxGroupDepth; a rule has at most MaxConditions. In Go:
//
//	conds := workflow.Conditions{
//		workflow.Cond("subject.created_at", workflow.OpLt, "2022-01-01"),
//		workflow.AnyOf(
//			workflow.Cond("extra.body", workflow.OpMatches, `(?i)\bstill broken\b`),
//			workflow.Cond("subject.labels", workflow.OpContains, "bug"),
//		),
//	}
//
// Conditions marshal to the JSON above, and are stored so (jsonb).
//
// # Attributes
//
// Every attribute has a declared Type (String, Number, Time, Bool, a
// ListOf one, or a ChangeOf one), so a rule is type-checked when it is
// saved. Attributes come from four places:
//
//   - Event fields, in every schema: action, actor ("users:3"),
//     actor.type, actor.id, actor.label, subject.id, record ("comments:7"),
//     record.type, record.id, record.label, occurred_at (time), depth
//     (number) and source. record* and source are absent when the event
//     has none.
//   - extra.<path>: a dotted path into the event's extra JSON. The app
//     declares each path and its type in the schema (SchemaConfig.Extra);
//     an undeclared path is refused, since its type would be unknown.
//   - subject.<field>: a field of the event's subject, such as
//     subject.created_at, loaded by the Resolver the app gives in
//     SchemaConfig.Subject, with the fields it declares.
//   - record.<field>: a field of the event's record, loaded by the
//     resolver of the record's type (SchemaConfig.Records). It is absent
//     for events without a record or with a record of another type.
//
// Schema.Attributes lists them with their types and operators, for rule
// editors.
//
// # Operators
//
//	eq, ne                  any kind; times compare as instants
//	lt, lte, gt, gte        numbers, times, strings (byte-wise)
//	in, not_in              strings and numbers; a list of 1 to MaxListLength values
//	contains                a substring of a string; an element of a list
//	starts_with             a prefix of a string
//	matches                 an RE2 pattern (package regexp) of at most MaxPatternLength bytes
//	exists, not_exists      whether the attribute has a value; they take no value
//	older_than, newer_than  times, against a duration before the event's occurred_at ("365d")
//	changed_from, changed_to  changes (below)
//
// Strings compare exactly (case-sensitive); use matches with (?i) for
// more. Values are written as JSON: times as RFC 3339 strings or dates
// ("2022-01-01", UTC midnight), durations with units s, m, h, d (24h) and
// w (7d) ("8760h", "365d", "1d12h"; see ParseDuration).
//
// A condition about an absent value (a missing extra path, null, an event
// without a record, an object the resolver no longer finds) does not hold,
// whatever its operator, except not_exists: "ne" and "not_in" too are false
// for an absent value. Nor does one about a value of the wrong type at run
// time (a resolver returning a number for a time field); the explanation
// says so.
//
// # Changes
//
// An event that records a change of a value records it in its extra as an
// object with the old and the new value:
//
//	issues.RecordEvent(ctx, db, issue, "status_changed",
//		activity.Extra{"status": map[string]any{"from": "open", "to": "closed"}})
//
// Declare the path as a change, Extra: Fields{"status": ChangeOf(String)},
// and test it with changed_to ("closed": to is closed and from was not) or
// changed_from ("open": from was open and to is not). A missing from (a
// value set for the first time) is different from every value. The parts
// are attributes too: extra.status.from and extra.status.to are strings.
// One event may record several changes, each under its own path.
//
// An event whose whole extra is one change, {"from": "open", "to":
// "closed"}, declares the empty path, Extra: Fields{"": ChangeOf(String)},
// and is tested as the attribute extra (its parts: extra.from, extra.to).
// Prefer the named form: it says what changed, and leaves room for more.
//
// # Validation
//
// Schema.Compile (and Schema.Validate) checks conditions against the
// schema and reports every problem, each pointing at its field, in a
// *ValidationError (errors.Is(err, ErrInvalidRule)):
//
//	conditions[1].operator: unknown operator "greater"; expected one of eq, ne, lt, ...
//	conditions[0].attribute: unknown attribute "subject.created" (did you mean "subject.created_at"?); ...
//	conditions[2].value: subject.created_at is a time, so lt needs an RFC 3339 time ("2022-01-01T00:00:00Z") or a date ("2022-01-01"); got "banana" (a string)
//	conditions[3].operator: lt does not apply to subject.closed, which is a bool; expected one of eq, ne, exists, not_exists
//	conditions[4].value: "a(b" is not a valid RE2 regular expression: missing closing ): `a(b`
//
// Actions' parameters are checked the same way against their ParamSchema:
// "actions[0].params.message: required: a string".
//
// # Evaluation
//
// Compile once, when rules are loaded: the resulting Matcher has every
// attribute bound and every time, duration, pattern and list parsed, and
// is safe for concurrent use. For each event, make one Facts and evaluate
// every rule's Matcher against it:
//
//	facts := schema.NewFacts(event)
//	for _, rule := range rules {
//		res, err := rule.Matcher.Evaluate(ctx, facts)
//		if err != nil { ... } // a resolver failed: retry the job
//		log(rule, res.Matched, res.Explanation())
//	}
//
// Facts reads lazily and keeps what it read: the extra is decoded once,
// and each resolver is called at most once per object per event, only when
// a condition still undecided needs it. Conditions that need no resolver
// are checked first, so a rule that fails on the event alone loads
// nothing. A matches pattern runs only on values containing the literal
// text every match needs.
//
// Evaluation.Explanation says why, naming conditions by field, for the run
// log and dry runs:
//
//	conditions[0]: subject.created_at (2023-05-01) is not lt 2022-01-01
//
// It is built only when asked for, from what Evaluate read. With 1,000
// rules that need no resolver, evaluating all of them for one event takes
// about 0.15 ms on a small server (BenchmarkEvaluate1000Rules).
//
// # Webhooks
//
// WebhookClient is the transport of the HTTP webhook action. CheckURL, run
// when a rule is saved, accepts only absolute https URLs without
// credentials whose host is a public address, or a name whose every
// address is public: it refuses private, loopback, link-local (so cloud
// metadata at 169.254.169.254), unique-local, carrier-grade NAT,
// unspecified, multicast and reserved ranges (PublicOnly). Post sends
// through an http.Client whose dialer checks, in net.Dialer.Control, the
// very address each connection is about to reach: a redirect to a private
// address, or a name that resolves differently at send time (DNS
// rebinding), is refused before any packet leaves. Redirects must stay on
// https and are capped. Requests have a total timeout, bodies a size cap,
// responses are read up to a cap.
//
// Signed requests carry TimestampHeader (Unix seconds) and SignatureHeader,
// "sha256=" and the hex HMAC-SHA256 of the timestamp, a dot, and the body,
// keyed with the rule's secret. Receivers in Go can use VerifySignature;
// elsewhere, compute the same HMAC and compare in constant time.
package workflow
