package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
)

// EngineConfig configures an Engine. Zero fields take the documented
// defaults.
type EngineConfig struct {
	// Rules is the rule store the engine runs. Required.
	Rules *Rules
	// Name is the engine's inbox name, part of task IDs and ledger rows.
	// Default "workflow".
	Name string
	// Policy is how the worker runs the engine's jobs (inbox.Policy
	// defaults).
	Policy inbox.Policy
	// RefreshInterval is how often Run re-reads which (domain, action)
	// pairs have enabled rules, besides on every change notification.
	// Default 10s.
	RefreshInterval time.Duration
	// ClaimTimeout is how long a claimed external action (a webhook, a
	// mail) shuts out other attempts; after it the claiming attempt is
	// presumed dead and the action may run again. Keep it above the
	// longest action. Default inbox.DefaultClaimTimeout.
	ClaimTimeout time.Duration
	// SkipMisses leaves the rules that did not match an event out of the
	// run log. By default every rule the engine evaluates gets a row
	// saying why it matched or not, which is what people read when a rule
	// "did not fire"; with hundreds of rules on one action that is
	// hundreds of rows per event (cmd/bench measures it). Dry runs say why
	// regardless.
	SkipMisses bool
	// ListenDSN is the DSN of Run's LISTEN connection and of the one
	// connection its refreshes use. Default: the DB's own DSN when it is a
	// gorm postgres dialector, else connections of the app's pool.
	ListenDSN string
	// Logger receives what cannot be returned. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of the run log. Default time.Now.
	Now func() time.Time
	// Observers watch rule verdicts and action runs: metrics, tracing
	// (package observe). Optional.
	Observers []Observer
}

// DefaultEngineName is the default EngineConfig.Name.
const DefaultEngineName = "workflow"

// Engine runs rules: it is an inbox (inbox.Inbox) that the worker hands
// every committed event whose (domain, action) has enabled rules. For each
// event it loads the enabled rules of (domain, action) from a cache that a
// version check keeps current, keeps those whose scope holds the event,
// evaluates their conditions, logs each rule's outcome in workflow_runs,
// and runs the matched rules' actions in order, each at most once per
// event however often the job is retried (workflow_action_runs).
//
// Accepts reads an in-memory set of the (domain, action) pairs that have
// enabled rules. Run keeps it current: it re-reads it on every rule change
// announced on NotifyChannel, every RefreshInterval, and whenever a job
// finds its domain's version moved; a change made through a Rules of the
// same process refreshes it before Create (or Update ...) returns. Between
// a change committed in another process and its notification arriving
// (milliseconds; up to RefreshInterval when the LISTEN connection is
// down), an event of a newly triggered action may be committed and not
// handed to the engine: the new rule misses it. Events that are handed over
// always meet the rules as of their job: the version check runs first.
type Engine struct {
	rules   *Rules
	name    string
	policy  inbox.Policy
	refresh time.Duration
	listen  string
	ledger  *inbox.Ledger
	claim   time.Duration
	misses  bool
	log     *slog.Logger
	now     func() time.Time
	cache   *cache

	observers []Observer
}

// NewEngine checks cfg and returns the engine. It does no I/O: call Run
// (or at least Refresh) before the worker relays events, or Accepts
// refuses everything.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.Rules == nil {
		return nil, &ConfigError{Field: "EngineConfig.Rules", Reason: "is nil: make one with NewRules"}
	}
	e := &Engine{
		rules: cfg.Rules, name: cfg.Name, policy: cfg.Policy, refresh: cfg.RefreshInterval,
		listen: cfg.ListenDSN, claim: cfg.ClaimTimeout, misses: !cfg.SkipMisses, log: cfg.Logger, now: cfg.Now,
		observers: cfg.Observers,
	}
	if e.name == "" {
		e.name = DefaultEngineName
	}
	if e.refresh <= 0 {
		e.refresh = 10 * time.Second
	}
	if e.claim <= 0 {
		e.claim = inbox.DefaultClaimTimeout
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.ledger = inbox.NewLedger(inbox.LedgerConfig{ClaimTimeout: e.claim, Now: e.now})
	e.cache = newCache(cfg.Rules)
	cfg.Rules.watch(func(ctx context.Context) {
		if err := e.Refresh(ctx); err != nil {
			e.log.WarnContext(ctx, "workflow: refresh after a rule change failed; Run's next refresh retries", "error", err)
		}
	})
	return e, nil
}

// Name returns the engine's inbox name.
func (e *Engine) Name() string { return e.name }

// Policy returns EngineConfig.Policy.
func (e *Engine) Policy() inbox.Policy { return e.policy }

// Rules returns the engine's rule store.
func (e *Engine) Rules() *Rules { return e.rules }

// Accepts reports whether some enabled rule triggers on (domain, action),
// as of the last refresh. It does no I/O.
func (e *Engine) Accepts(domain, action string) bool { return e.cache.accepts(domain, action) }

// Refresh re-reads which (domain, action) pairs have enabled rules.
func (e *Engine) Refresh(ctx context.Context) error {
	return e.cache.refresh(context.WithoutCancel(ctx), e.rules.db)
}

// Match is one rule's verdict on an event.
type Match struct {
	Rule    Rule
	Matched bool
	v       verdict
}

// Explanation says why the rule matched or not (see
// Evaluation.Explanation). It is built when asked for; like the facts it
// reads, it is not safe to call while another goroutine evaluates the
// same event.
func (m Match) Explanation() string { return m.v.explain() }

// Match evaluates the enabled rules that trigger on ev's action and whose
// scope holds it, as Process does, and runs nothing and logs nothing. It
// reads the rules' version (one query) and, when they changed, the rules.
func (e *Engine) Match(ctx context.Context, ev activity.Event) ([]Match, error) {
	schema := e.rules.schemas[ev.Domain]
	if schema == nil {
		return nil, nil
	}
	set, err := e.cache.set(ctx, e.rules.db, ev.Domain, ev.Action)
	if err != nil {
		return nil, err
	}
	cands, err := set.candidates(ctx, ev, e.tenantOf(e.rules.db, ev))
	if err != nil {
		return nil, err
	}
	facts := schema.NewFacts(ev)
	out := make([]Match, 0, len(cands))
	for _, c := range cands {
		v := e.verdict(ctx, c, ev, facts)
		if v.err != nil {
			return nil, v.err
		}
		out = append(out, Match{Rule: c.rule, Matched: v.matched, v: v})
	}
	return out, nil
}

// tenantOf returns a memoised tenant lookup for ev.
func (e *Engine) tenantOf(db *gorm.DB, ev activity.Event) func(context.Context) (string, error) {
	var done bool
	var t string
	var err error
	return func(ctx context.Context) (string, error) {
		if !done {
			done = true
			if e.rules.tenant == nil && ev.TenantID != "" {
				t = ev.TenantID // a tenanted domain's event names its tenant
			} else if e.rules.tenant == nil {
				err = errors.New("workflow: a rule is scoped to a tenant but RulesConfig.Tenant is nil")
			} else if t, err = e.rules.tenant(ctx, db, ev); err != nil {
				err = fmt.Errorf("workflow: tenant of %s: %w", ev.Ref(), err)
			}
		}
		return t, err
	}
}

// verdict is one rule's evaluation of one event.
type verdict struct {
	matched bool
	eval    Evaluation
	reason  string // why it was not evaluated, or what failed
	err     error  // reading the facts failed: retry
}

func (v verdict) explain() string {
	if v.reason != "" {
		return v.reason
	}
	return v.eval.Explanation()
}

// WorkflowSource is the metadata source of events recorded by workflow
// actions. Rules that do not allow workflow triggers ignore such events.
const WorkflowSource = "workflow"

// verdict decides whether rule c matches ev.
func (e *Engine) verdict(ctx context.Context, c *compiled, ev activity.Event, facts *Facts) verdict {
	switch {
	case c.invalid != "":
		return verdict{reason: "not evaluated: the rule cannot run: " + c.invalid}
	case !c.rule.AllowWorkflowTriggers && ev.Source != nil && *ev.Source == WorkflowSource:
		return verdict{reason: "not triggered: the event was recorded by a workflow action, and the rule does not allow workflow triggers"}
	}
	res, err := c.matcher.Evaluate(ctx, facts)
	if err != nil {
		return verdict{err: err, reason: "not decided: " + err.Error()}
	}
	return verdict{matched: res.Matched, eval: res}
}

// workflowActor is the actor of what a rule's actions record.
func workflowActor(r Rule) activity.Ref {
	ref := activity.System("workflow")
	ref.Label = "Workflow: " + r.Name
	return ref
}

// Process handles one event: see Engine. It returns nil when every matched
// rule ran (or was stopped by the causation depth, which the run log
// records and no retry can change), an error to retry otherwise: a rule
// whose conditions could not be read (a resolver failed) or whose action
// failed. Rules that finished are not run again by the retry, and actions
// that ran are skipped.
func (e *Engine) Process(ctx context.Context, d *inbox.Delivery) error {
	ev := d.Event
	schema := e.rules.schemas[ev.Domain]
	if schema == nil {
		return nil
	}
	db := d.DB
	if db == nil {
		db = e.rules.db
	}
	set, err := e.cache.set(ctx, db, ev.Domain, ev.Action)
	if err != nil {
		return err
	}
	cands, err := set.candidates(ctx, ev, e.tenantOf(db, ev))
	if err != nil || len(cands) == 0 {
		return err
	}
	log := runLog{db: db, ev: ev, now: e.now}
	facts := schema.NewFacts(ev)
	// A retry reads what earlier attempts did first, so finished rules are
	// not evaluated again. A first attempt reads it only when it has
	// something to log or run (a duplicate job may have done it): with
	// SkipMisses, an event no rule matches costs one query, the version's.
	var existing map[int64]runState
	if d.Attempt > 1 {
		if existing, err = log.states(ctx); err != nil {
			return err
		}
	}
	rows, toRun, errs := e.decide(ctx, cands, ev, facts, existing)
	if existing == nil && len(rows) > 0 {
		if existing, err = log.states(ctx); err != nil {
			return err
		}
		if len(existing) > 0 { // the facts are kept: no resolver runs twice
			rows, toRun, errs = e.decide(ctx, cands, ev, facts, existing)
		}
	}
	if err := log.start(ctx, rows); err != nil {
		return err
	}
	if len(toRun) > 0 {
		done, err := log.actionStates(ctx)
		if err != nil {
			return err
		}
		for _, c := range toRun {
			if err := e.runRule(ctx, d, &log, c, done[c.rule.ID]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return jobError(errs)
}

// decide evaluates the candidate rules that earlier attempts did not
// finish and returns the runs to log, the rules to run, and the errors of
// rules that could not be decided.
func (e *Engine) decide(ctx context.Context, cands []*compiled, ev activity.Event, facts *Facts, existing map[int64]runState) (rows []runRow, toRun []*compiled, errs []error) {
	for _, c := range cands {
		if st, ok := existing[c.rule.ID]; ok {
			switch {
			case st.final():
				continue
			case st.matched: // matched on an earlier attempt: resume its actions
				rows = append(rows, runRow{rule: c.rule, status: RunRunning, matched: true})
				toRun = append(toRun, c)
				continue
			}
		}
		v := e.verdict(ctx, c, ev, facts)
		if len(e.observers) > 0 {
			e.observeRule(ev, c.rule, v.observed(c))
		}
		switch {
		case v.err != nil:
			rows = append(rows, runRow{rule: c.rule, status: RunFailed, explanation: v.explain(), err: v.err.Error()})
			errs = append(errs, fmt.Errorf("workflow: rule %d (%s): %w", c.rule.ID, c.rule.Name, v.err))
		case c.invalid != "":
			rows = append(rows, runRow{rule: c.rule, status: RunFailed, explanation: v.explain(), err: c.invalid})
		case v.matched:
			rows = append(rows, runRow{rule: c.rule, status: RunRunning, matched: true, explanation: v.explain()})
			toRun = append(toRun, c)
		case e.misses:
			rows = append(rows, runRow{rule: c.rule, status: RunNoMatch, explanation: v.explain()})
		}
	}
	return rows, toRun, errs
}

// jobError combines the rules' errors into the job's: permanent only when
// every one is.
func jobError(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	permanent := true
	for _, err := range errs {
		permanent = permanent && inbox.IsPermanent(err)
	}
	if permanent {
		return inbox.Permanent(errors.Join(errs...))
	}
	// One permanent error must not make the whole job permanent: it rides
	// along as text, but a sink's refusal of the configuration in it stays
	// visible to the worker's breakers (flattened.SinkErrors).
	for i, err := range errs {
		if inbox.IsPermanent(err) {
			f := &flattened{msg: err.Error()}
			var mis *inbox.MisconfiguredError
			if errors.As(err, &mis) {
				f.sinks = []error{mis}
			}
			errs[i] = f
		}
	}
	return errors.Join(errs...)
}

// flattened is a permanent error of one rule in a job that is retried for
// another's: its text, and the sinks' refusals in it, which the worker
// reports to their breakers (inbox's SinkErrors) without making the job
// permanent (it does not unwrap).
type flattened struct {
	msg   string
	sinks []error
}

func (f *flattened) Error() string       { return f.msg }
func (f *flattened) SinkErrors() []error { return f.sinks }

// runRule runs a matched rule's actions in order, skipping those that ran
// on an earlier attempt, and records the run's outcome.
func (e *Engine) runRule(ctx context.Context, d *inbox.Delivery, log *runLog, c *compiled, done map[int]ActionStatus) error {
	ctx = activity.WithActor(ctx, workflowActor(c.rule))
	md := activity.MetadataFrom(ctx)
	md.Source = WorkflowSource
	ctx = activity.WithMetadata(ctx, md)
	for i := range c.rule.Actions {
		switch done[i] {
		case ActionDone, ActionSent:
			continue
		case ActionStopped:
			return log.finish(ctx, c.rule, RunStopped, "stopped: causation depth limit (an earlier attempt)")
		}
		actx, end := e.observeAction(ctx, d.Event, c.rule, i)
		err := e.runAction(actx, d, log, c, i)
		end(err)
		switch {
		case err == nil:
			continue
		case errors.Is(err, activity.ErrCausationDepth):
			e.log.WarnContext(ctx, "workflow: rule stopped at the causation depth limit", "rule", c.rule.ID, "event", d.Event.Ref().String(), "error", err)
			return log.finish(ctx, c.rule, RunStopped, fmt.Sprintf("stopped: causation depth limit: actions[%d] (%s): %v", i, c.rule.Actions[i].Type, err))
		}
		err = fmt.Errorf("workflow: rule %d (%s): actions[%d] (%s): %w", c.rule.ID, c.rule.Name, i, c.rule.Actions[i].Type, err)
		if ferr := log.finish(ctx, c.rule, RunFailed, err.Error()); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	return log.finish(ctx, c.rule, RunDone, "")
}

var _ inbox.InboxWithPolicy = (*Engine)(nil)
