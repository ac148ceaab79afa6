package privacy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/webhook"
	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/workflow"
)

// Request says who asked for an erasure, and why; it is recorded.
type Request struct {
	// By is who asked: an operator or the person ("users:3",
	// "support:ana"). Required. Do not put personal data here: it is kept.
	By string
	// Reason is free text kept with the record ("GDPR art. 17 request
	// #123"). Optional; the same caution applies.
	Reason string
}

// ErrInvalidRequest matches a Request that cannot be recorded.
var ErrInvalidRequest = errors.New("privacy: invalid erasure request")

func (r Request) validate() error {
	if strings.TrimSpace(r.By) == "" {
		return fmt.Errorf("%w: Request.By is empty: say who asked for the erasure (an operator or the person's key); it is recorded", ErrInvalidRequest)
	}
	for field, v := range map[string]string{"By": r.By, "Reason": r.Reason} {
		switch {
		case !utf8.ValidString(v):
			return fmt.Errorf("%w: Request.%s is not valid UTF-8", ErrInvalidRequest, field)
		case strings.IndexByte(v, 0) >= 0:
			return fmt.Errorf("%w: Request.%s contains a NUL byte, which PostgreSQL text cannot hold", ErrInvalidRequest, field)
		case len(v) > 4096:
			return fmt.Errorf("%w: Request.%s is %d bytes; keep it under 4096", ErrInvalidRequest, field, len(v))
		}
	}
	return nil
}

// Erasure is the record of one erasure (table tidings_erasures): whose,
// who asked, when, and how many rows of each table changed. It holds no
// personal data but the person's key.
type Erasure struct {
	ID     int64
	Person activity.Ref
	// Tenant is the tenant the person is an identity of, whose rows the
	// erasure reached (activity.TenantText form); "" when the domains are
	// untenanted, or the erasure reached every tenant
	// (Config.PersonsAcrossTenants, and records written before migration
	// 00022, when every erasure did).
	Tenant      string
	RequestedBy string
	Reason      string
	StartedAt   time.Time
	FinishedAt  time.Time
	Counts      activity.Erased
	// InFlight counts the deliveries (inbox_pending rows) not finished
	// when the erasure began that may copy the person's data after it: those
	// of the person's events (a job that loaded its event before writes
	// the old label into an in-app notification, a digest's snapshot),
	// and, when a workflow rule mentions the person, those of the events
	// the rule triggers on (an engine job that loaded the rule before
	// writes its name, explanation and parameters into the run log).
	// Erase again once they are done: EraseSettled does.
	InFlight int64

	pending  []pendingKey // the deliveries InFlight counts
	triggers []trigger    // what the rules that named the person trigger on
}

// pendingKey names one delivery (an inbox_pending row).
type pendingKey struct {
	Domain  string
	EventID int64
	Inbox   string
}

// Erase removes or irreversibly masks p's personal data in every table of
// the library and the app's Parts, keeps every event (counts and IDs
// unchanged), and records the erasure (tidings_erasures). It runs in one
// transaction (a savepoint when db is one): all of it or none.
//
// A person is an identity within a tenant: with a tenanted domain, Erase
// reaches only the rows of the context's tenant, and another tenant's
// person with the same key keeps every byte of theirs; without a tenant on
// ctx it is activity.ErrNoTenant, before any write. Under
// Config.PersonsAcrossTenants it reaches every tenant instead (see the
// package documentation's Tenants).
//
// The steps: collect p's personal strings (p.Values, plus the labels, IP
// addresses, user agents and personal-path values of p's events, see
// activity.Domain.PersonValues); mask the events (activity.Domain.Erase);
// then the inbox tables (inbox, notify, email, batch windows, slack, webhook), the
// workflow tables, and the Parts, each with the full set of strings. Each
// owner is called with the scope's context (the tenant, or
// activity.AcrossTenants without one), and so is each Part: a Part scopes
// its own tables the same way (activity.TenantFrom, activity.IsAcrossTenants).
//
// Stop recording for p first (the app deleted or disabled their account):
// an event recorded after Erase holds their data again.
func (x *Privacy) Erase(ctx context.Context, db *gorm.DB, p activity.Person, req Request) (Erasure, error) {
	if db == nil {
		return Erasure{}, activity.ErrNilDB
	}
	if err := p.Validate(); err != nil {
		return Erasure{}, err
	}
	if err := req.validate(); err != nil {
		return Erasure{}, err
	}
	sc, err := x.scope(ctx)
	if err != nil {
		return Erasure{}, err
	}
	return x.erase(sc, db, p, req)
}

// erase is Erase in scope sc.
func (x *Privacy) erase(sc scope, db *gorm.DB, p activity.Person, req Request) (Erasure, error) {
	ctx := sc.ctx
	if err := operator(ctx, db); err != nil {
		return Erasure{}, err
	}
	rec := Erasure{Person: p.Ref(), Tenant: sc.tenant, RequestedBy: req.By, Reason: req.Reason, StartedAt: x.cfg.Now(), Counts: activity.Erased{}}
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// 1. Every personal string the library holds of p.
		var subjectDomains []string
		for _, d := range x.cfg.Domains {
			vals, err := d.PersonValues(ctx, tx, p)
			if err != nil {
				return err
			}
			p = p.WithValues(vals...)
			if d.Subject().Table == p.Type {
				subjectDomains = append(subjectDomains, d.Name())
			}
		}
		// Deliveries in flight, taken before anything is masked (one that
		// finishes while the erasure runs may have written after the
		// table it wrote was masked): they may copy the old data once more.
		pending, triggers, err := x.inFlight(ctx, tx, p)
		if err != nil {
			return err
		}
		rec.InFlight, rec.pending, rec.triggers = int64(len(pending)), pending, triggers
		// 2. The events.
		for _, d := range x.cfg.Domains {
			n, err := d.Erase(ctx, tx, p)
			if err != nil {
				return err
			}
			rec.Counts.Add(d.Table(), n)
		}
		// 3. Everything copied from them, table owner by table owner.
		steps := []func() (activity.Erased, error){
			func() (activity.Erased, error) { return inbox.ErasePerson(ctx, tx, p) },
			func() (activity.Erased, error) { return notify.ErasePerson(ctx, tx, p) },
			func() (activity.Erased, error) { return email.ErasePerson(ctx, tx, p) },
			func() (activity.Erased, error) { return batch.ErasePerson(ctx, tx, p) },
			func() (activity.Erased, error) { return slack.ErasePerson(ctx, tx, p, subjectDomains) },
			func() (activity.Erased, error) { return webhook.ErasePerson(ctx, tx, p) },
			func() (activity.Erased, error) { return device.ErasePerson(ctx, tx, p) },
			func() (activity.Erased, error) { return workflow.ErasePerson(ctx, tx, p) },
		}
		for _, part := range x.cfg.Parts {
			if part.Erase != nil {
				steps = append(steps, func() (activity.Erased, error) {
					got, err := part.Erase(ctx, tx, p)
					if err != nil {
						return nil, fmt.Errorf("privacy: part %s: %w", part.Name, err)
					}
					return got, nil
				})
			}
		}
		for _, step := range steps {
			got, err := step()
			if err != nil {
				return err
			}
			rec.Counts.Merge(got)
		}
		// 4. The record, without the data.
		rec.FinishedAt = x.cfg.Now()
		counts, err := json.Marshal(rec.Counts)
		if err != nil {
			return err
		}
		return tx.Raw(`INSERT INTO tidings_erasures (tenant_id, person_type, person_id, requested_by, reason, started_at, finished_at, counts)
VALUES (?, ?, ?, ?, ?, ?, ?, ?::jsonb) RETURNING id`, sc.tenantArg(), p.Type, p.ID, req.By, req.Reason, rec.StartedAt, rec.FinishedAt, string(counts)).Scan(&rec.ID).Error
	})
	if err != nil {
		return Erasure{}, fmt.Errorf("privacy: erase %s: %w", p.Ref(), err)
	}
	return rec, nil
}

// ErrInFlight is returned (wrapped) by EraseSettled when deliveries that
// may copy the person's data were still in flight at its deadline.
var ErrInFlight = errors.New("privacy: deliveries of the person's events still in flight")

// EraseSettled is Erase, then a wait of at most maxWait (checking every
// 100ms) for the deliveries in flight when it began (Erasure.InFlight) to
// finish, then Erase again to mask what they copied. It returns the last
// erasure record; if some are still in flight at the deadline, an error
// wrapping ErrInFlight with that record: call it again later.
//
// When it is needed: while a worker runs, a job that loaded an event of
// the person before the erasure (or a workflow rule that names them) may
// write the old data after it, once: an in-app notification's label, a
// digest's snapshot, a run log's rule name, an action's result. Jobs
// waiting for a retry load the event when they run, and so see it erased
// (the jobs in Redis hold references); a queued job's first attempt may
// take a copy the worker read ahead or loaded for a sibling job up to a
// second before (inbox's loader), so those and the jobs running across
// the erasure are what may copy. (The loader reads ahead only events the
// relay handed out, with pending deliveries: an event of the person still
// in the outbox, held by the erasure until it commits, is loaded by its
// jobs after it.) EraseSettled waits for every pending
// delivery of the person's events, queued ones included, and for a
// backfill's jobs of them that are running (the worker gives such a job an
// inbox_pending row while it runs, inserted before it loads its event and
// waiting for an erasure that locked the event; a backfill's queued job
// loads the event when it runs). When a rule
// named the person, it also lists again, once the erasure committed, the
// deliveries of the events the rule triggers on (a relay may have claimed
// one after the first listing and before the commit, and its engine job
// read the rule as it was), waits for those too, and erases again even
// when none was left: a job that read the old rule may have finished
// between the commit and that listing. A delivery waiting for a retry still counts
// until it is done, so a sink that is down keeps EraseSettled waiting
// until maxWait. Without a worker running (a maintenance window, a
// script), Erase is enough. The privacy Handler uses it with
// HandlerConfig.Settle; the demo's person page does.
func (x *Privacy) EraseSettled(ctx context.Context, db *gorm.DB, p activity.Person, req Request, maxWait time.Duration) (Erasure, error) {
	rec, err := x.Erase(ctx, db, p, req)
	if err != nil || (rec.InFlight == 0 && len(rec.triggers) == 0) {
		return rec, err
	}
	sc, err := x.scope(ctx) // Erase checked it
	if err != nil {
		return rec, err
	}
	keys := rec.pending
	if len(rec.triggers) > 0 {
		// An engine job whose relay claimed its event after the erasure
		// listed the deliveries and before it committed read the rule
		// before the masked one was committed: list them again now.
		if err := waitForRelays(sc.ctx, db, rec.triggers, false); err != nil {
			return rec, err
		}
		more, err := triggerDeliveries(sc.ctx, db, rec.triggers)
		if err != nil {
			return rec, err
		}
		keys = compactKeys(append(slices.Clip(keys), more...))
	}
	deadline := time.Now().Add(maxWait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := stillPending(sc.ctx, db, keys)
		if err != nil {
			return rec, err
		}
		if n == 0 {
			return x.erase(sc, db, p, req)
		}
		if time.Now().After(deadline) {
			return rec, fmt.Errorf("%w: %d after %v; erase %s again once they are done", ErrInFlight, n, maxWait, p.Ref())
		}
		select {
		case <-ctx.Done():
			return rec, ctx.Err()
		case <-tick.C:
		}
	}
}

// inFlight lists the deliveries not finished yet that may copy p's data:
// those of p's events, in the scope ctx carries (p's events of the tenant:
// see activity.Domain.PersonCondition), and those of the events that the
// workflow rules mentioning p trigger on (ruleTriggers). Pass p
// with its values (PersonValues), before the rules are masked, and db in
// the erasure's transaction (READ COMMITTED: each statement sees what
// committed before it).
//
// A relay enqueues a batch's jobs before it commits their inbox_pending
// rows (in the statement that deletes their outbox rows): a job may be
// running, holding the old data, while its row is not visible yet. So
// first the outbox rows of those events are locked (FOR SHARE), which
// waits for a relay batch that claimed them (FOR UPDATE) to commit; then
// the pending rows are read. p's own outbox rows stay locked until the
// erasure commits, so no relay claims them meanwhile (it skips locked
// rows) and their jobs load the erased events; the rule triggers' rows
// (anyone's events, of every tenant) are only waited for: their locks are
// released at once (a savepoint rolled back), so a relay may claim one
// before the erasure commits; EraseSettled lists those deliveries again
// after the commit. It returns the deliveries and the rules' triggers.
func (x *Privacy) inFlight(ctx context.Context, db *gorm.DB, p activity.Person) ([]pendingKey, []trigger, error) {
	db = db.WithContext(ctx)
	conds := make([]string, len(x.cfg.Domains))
	condArgs := make([][]any, len(x.cfg.Domains))
	for i, d := range x.cfg.Domains {
		cond, args, err := d.PersonCondition(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		conds[i], condArgs[i] = cond, args
		if err := db.Exec(`SELECT o.id FROM `+activity.OutboxTable+` o WHERE o.domain = ? AND EXISTS (SELECT 1 FROM `+d.Table()+` WHERE id = o.event_id AND `+cond+`) FOR SHARE OF o`,
			append([]any{d.Name()}, args...)...).Error; err != nil {
			return nil, nil, fmt.Errorf("privacy: wait for the relay's batches of the person's events: %w", err)
		}
		// A backfill's job inserts its inbox_pending row reading its event
		// FOR SHARE before it loads it (inbox's trackBackfill): with the
		// person's events locked as the masking will, a job's row either
		// committed before the listing below, or its insert waits for
		// the erasure to commit and the job loads the erased event.
		if err := db.Exec(`SELECT id FROM `+d.Table()+` WHERE `+cond+` FOR NO KEY UPDATE`, args...).Error; err != nil {
			return nil, nil, fmt.Errorf("privacy: wait for the backfill jobs of the person's events: %w", err)
		}
	}
	triggers, err := ruleTriggers(ctx, db, p)
	if err != nil {
		return nil, nil, err
	}
	if err := waitForRelays(ctx, db, triggers, true); err != nil {
		return nil, nil, err
	}
	var out []pendingKey
	for i, d := range x.cfg.Domains {
		var keys []pendingKey
		err := db.Raw(`SELECT ip.domain, ip.event_id, ip.inbox FROM inbox_pending ip WHERE ip.domain = ? AND EXISTS (SELECT 1 FROM `+d.Table()+` WHERE id = ip.event_id AND `+conds[i]+`)`,
			append([]any{d.Name()}, condArgs[i]...)...).Scan(&keys).Error
		if err != nil {
			return nil, nil, fmt.Errorf("privacy: list deliveries in flight: %w", err)
		}
		out = append(out, keys...)
	}
	keys, err := triggerDeliveries(ctx, db, triggers)
	if err != nil {
		return nil, nil, err
	}
	return compactKeys(append(out, keys...)), triggers, nil
}

// waitForRelays waits for the relay batches that claimed an outbox row of
// an event the triggers name to commit (their inbox_pending rows): it
// locks those rows FOR SHARE and lets go of them at once (in a savepoint
// rolled back when inTx, db being a transaction; else the statement's
// own). They are anyone's events, of every tenant: an erasure does not
// hold their fan-out.
func waitForRelays(ctx context.Context, db *gorm.DB, triggers []trigger, inTx bool) error {
	if len(triggers) == 0 {
		return nil
	}
	db = db.WithContext(ctx)
	domains, actions := make(pgarray.Text, len(triggers)), make(pgarray.Text, len(triggers))
	for i, t := range triggers {
		domains[i], actions[i] = t.Domain, t.Action
	}
	lock := func() error {
		return db.Exec(`SELECT o.id FROM `+activity.OutboxTable+` o JOIN unnest(?::text[], ?::text[]) AS t(d, a) ON o.domain = t.d AND o.action = t.a FOR SHARE OF o`, domains, actions).Error
	}
	var err error
	if inTx {
		err = db.Exec(`SAVEPOINT tidings_in_flight`).Error
		if err == nil {
			err = lock()
		}
		if err == nil {
			err = db.Exec(`ROLLBACK TO SAVEPOINT tidings_in_flight`).Error
		}
	} else {
		err = lock()
	}
	if err != nil {
		return fmt.Errorf("privacy: wait for the relay's batches of the events rules naming the person trigger on: %w", err)
	}
	return nil
}

// triggerDeliveries lists the deliveries not finished yet of the events
// the triggers name. Every tenant's: they are only waited for, never
// changed, and inbox_pending (an operator table) does not say whose they
// are.
func triggerDeliveries(ctx context.Context, db *gorm.DB, triggers []trigger) ([]pendingKey, error) {
	if len(triggers) == 0 {
		return nil, nil
	}
	domains, actions := make(pgarray.Text, len(triggers)), make(pgarray.Text, len(triggers))
	for i, t := range triggers {
		domains[i], actions[i] = t.Domain, t.Action
	}
	var keys []pendingKey
	err := db.WithContext(ctx).Raw(`SELECT ip.domain, ip.event_id, ip.inbox FROM inbox_pending ip JOIN unnest(?::text[], ?::text[]) AS t(d, a) ON ip.domain = t.d AND ip.action = t.a`,
		domains, actions).Scan(&keys).Error
	if err != nil {
		return nil, fmt.Errorf("privacy: list deliveries in flight: %w", err)
	}
	return keys, nil
}

// compactKeys sorts keys and drops the repeated ones.
func compactKeys(keys []pendingKey) []pendingKey {
	slices.SortFunc(keys, func(a, b pendingKey) int {
		return cmp.Or(strings.Compare(a.Domain, b.Domain), cmp.Compare(a.EventID, b.EventID), strings.Compare(a.Inbox, b.Inbox))
	})
	return slices.Compact(keys)
}

// trigger is a (domain, action) pair a workflow rule triggers on.
type trigger struct {
	Domain string
	Action string
}

// ruleTriggers returns what the enabled workflow rules whose name,
// conditions or actions mention one of p.Values trigger on, in the scope
// ctx carries (as workflow.ErasePerson). An engine job for such an event
// that loaded those rules before the erasure may write them (name,
// explanation, parameters) after it. Call it before the rules are masked.
func ruleTriggers(ctx context.Context, db *gorm.DB, p activity.Person) ([]trigger, error) {
	if len(p.Values) == 0 {
		return nil, nil
	}
	pt := pgarray.Text(p.Patterns())
	tenant, targs := inbox.PersonTenantCondition(ctx, "", false)
	var out []trigger
	err := db.WithContext(ctx).Raw(`SELECT DISTINCT domain, triggered_on AS action FROM workflow_rules
WHERE enabled AND `+tenant+` AND (lower(name) LIKE ANY(?) OR lower(conditions::text) LIKE ANY(?) OR lower(actions::text) LIKE ANY(?))
ORDER BY 1, 2`, append(targs, pt, pt, pt)...).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("privacy: workflow rules that mention %s: %w", p.Ref(), err)
	}
	return out, nil
}

// stillPending counts the deliveries of keys not finished yet.
func stillPending(ctx context.Context, db *gorm.DB, keys []pendingKey) (int64, error) {
	domains, ids, inboxes := make(pgarray.Text, len(keys)), make(pgarray.Int8, len(keys)), make(pgarray.Text, len(keys))
	for i, k := range keys {
		domains[i], ids[i], inboxes[i] = k.Domain, k.EventID, k.Inbox
	}
	var n int64
	err := db.WithContext(ctx).Raw(`SELECT count(*) FROM inbox_pending ip JOIN unnest(?::text[], ?::bigint[], ?::text[]) AS k(d, e, i)
  ON ip.domain = k.d AND ip.event_id = k.e AND ip.inbox = k.i`, domains, ids, inboxes).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("privacy: count deliveries in flight: %w", err)
	}
	return n, nil
}

// Erasures returns the erasure records of one person, oldest first: those
// of the context's tenant (a person is an identity within a tenant), the
// untenanted ones without a tenant (untenanted domains, and erasures
// across tenants), and every tenant's under activity.AcrossTenants
// without one.
func Erasures(ctx context.Context, db *gorm.DB, person activity.Ref) ([]Erasure, error) {
	if db == nil {
		return nil, activity.ErrNilDB
	}
	if err := operator(ctx, db); err != nil {
		return nil, err
	}
	cond, args := "tenant_id IS NULL", []any{}
	if _, ok := activity.TenantFrom(ctx); ok {
		cond, args = "tenant_id = ?", []any{activity.TenantText(ctx)}
	} else if activity.IsAcrossTenants(ctx) {
		cond = "TRUE"
	}
	rows, err := db.WithContext(ctx).Raw(`SELECT id, coalesce(tenant_id, ''), person_type, person_id, requested_by, reason, started_at, finished_at, counts::text
FROM tidings_erasures WHERE `+cond+` AND person_type = ? AND person_id = ? ORDER BY id`, append(args, person.Type, person.ID)...).Rows()
	if err != nil {
		return nil, fmt.Errorf("privacy: read erasures of %s: %w", person, err)
	}
	defer rows.Close()
	var out []Erasure
	for rows.Next() {
		var e Erasure
		var counts string
		if err := rows.Scan(&e.ID, &e.Tenant, &e.Person.Type, &e.Person.ID, &e.RequestedBy, &e.Reason, &e.StartedAt, &e.FinishedAt, &counts); err != nil {
			return nil, fmt.Errorf("privacy: read erasures of %s: %w", person, err)
		}
		if err := json.Unmarshal([]byte(counts), &e.Counts); err != nil {
			return nil, fmt.Errorf("privacy: read erasures of %s: %w", person, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Reapply erases again every person of tidings_erasures, each in the
// tenant its record names, for after a backup was restored: the restored
// rows hold their data again. It serves every tenant: run it as the
// operator (a role that row-level security does not hold). A record
// without a tenant is erased again without one (untenanted domains), or
// in every tenant when a domain is tenanted (records written before
// migration 00022, whose erasure reached every tenant) or under
// Config.PersonsAcrossTenants. Each person's strings are found anew in the
// restored events (labels, IP addresses, user agents, personal paths);
// strings that were only in Person.Values (an address that appears in no
// event) are not known any more, so copies of those in free text stay:
// pass them again with Erase if the app still has them. It returns how
// many people it erased.
func (x *Privacy) Reapply(ctx context.Context, db *gorm.DB, by string) (int, error) {
	if db == nil {
		return 0, activity.ErrNilDB
	}
	if err := operator(ctx, db); err != nil {
		return 0, err
	}
	var people []struct{ TenantID, PersonType, PersonID string }
	if err := db.WithContext(ctx).Raw(`SELECT DISTINCT coalesce(tenant_id, '') AS tenant_id, person_type, person_id FROM tidings_erasures ORDER BY 1, 2, 3`).Scan(&people).Error; err != nil {
		return 0, fmt.Errorf("privacy: read erasures: %w", err)
	}
	req := Request{By: by, Reason: "re-applied (Privacy.Reapply)"}
	if err := req.validate(); err != nil {
		return 0, err
	}
	for i, p := range people {
		var sc scope
		switch {
		case p.TenantID != "" && !x.cfg.PersonsAcrossTenants:
			var err error
			if sc, err = x.scope(activity.WithTenant(ctx, p.TenantID)); err != nil {
				return i, err
			}
		case len(x.tenanted) > 0 || x.cfg.PersonsAcrossTenants:
			sc = scope{ctx: activity.AcrossTenants(activity.WithoutTenant(ctx)), across: true}
		default:
			sc = scope{ctx: activity.WithoutTenant(ctx)}
		}
		person := activity.Person{Type: p.PersonType, ID: p.PersonID}
		if err := person.Validate(); err != nil {
			return i, err
		}
		if _, err := x.erase(sc, db, person, req); err != nil {
			return i, err
		}
	}
	return len(people), nil
}

// ErrNeedsOperator is returned (wrapped) by Erase, EraseSettled, Reapply
// and Erasures when db's role is held to row-level security on the
// operator's tables (tidings_erasures, inbox_pending: see
// migrations.OperatorTables), before any other statement. Such a role
// sees no row of them: EraseSettled would find no delivery in flight and
// return while jobs copy the person's data again, Reapply would find no
// erasure to re-apply and Erasures no record, and Erase could not record
// itself. Call them with the operator's handle (a superuser, a role with
// BYPASSRLS, or the tables' owner when row-level security is not forced),
// as the relay and the worker run.
var ErrNeedsOperator = errors.New("privacy: needs the operator's role (row-level security hides tidings_erasures and inbox_pending from this one)")

// operator returns an error wrapping ErrNeedsOperator when db's role is
// held to row-level security on the operator's tables.
func operator(ctx context.Context, db *gorm.DB) error {
	var row struct {
		Role string
		Held bool
	}
	err := db.WithContext(ctx).Raw(`SELECT current_user AS role, row_security_active('tidings_erasures') OR row_security_active('inbox_pending') AS held`).Scan(&row).Error
	switch {
	case err != nil:
		return fmt.Errorf("privacy: check the role: %w", err)
	case row.Held:
		return fmt.Errorf("%w: role %q is held to it: call with the operator's handle (a superuser or a BYPASSRLS role), the one the worker uses", ErrNeedsOperator, row.Role)
	}
	return nil
}
