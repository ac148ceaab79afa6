package activity

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/internal/tenantfilter"
)

// personMatch holds the WHERE conditions that find p's events in d: as
// actor, as record, and as subject when d's subject table is p's type and
// p's ID is a valid subject key, and the tenant scope they are read in
// (see personTenant). Each condition takes its own arguments.
type personMatch struct {
	actor, record, subject             string
	actorArgs, recordArgs, subjectArgs []any
	tenant                             string
	tenantArgs                         []any
}

func (d *Domain) personMatch(ctx context.Context, p Person) (personMatch, error) {
	m := personMatch{
		actor:      "(actor_type = ? AND actor_id = ?)",
		record:     "(record_type = ? AND record_id = ?)",
		subject:    "false",
		actorArgs:  []any{p.Type, p.ID},
		recordArgs: []any{p.Type, p.ID},
	}
	if d.subject.Table == p.Type {
		if key, err := d.subjectArg(p.ID); err == nil {
			m.subject = "(subject_id = ?)"
			m.subjectArgs = []any{key}
		}
	}
	var err error
	m.tenant, m.tenantArgs, err = d.personTenant(ctx)
	return m, err
}

// personTenant returns the tenant condition of a person-level call on d's
// events: a person is an identity within a tenant, so a tenanted domain
// reads and changes only the context's tenant's events ("tenant_id = ?");
// without a tenant it is ErrNoTenant, unless ctx is AcrossTenants (an app
// whose person ids are global across its tenants: package privacy's
// Config.PersonsAcrossTenants), when it is every tenant ("TRUE"). An
// untenanted domain ignores the context's tenant ("TRUE"), and so does
// the tidings_rlsonly test build (the policies scope the rows).
func (d *Domain) personTenant(ctx context.Context) (string, []any, error) {
	t, all, err := d.readTenant(ctx, nil)
	if err != nil {
		return "", nil, fmt.Errorf("activity: domain %q: a person is read in one tenant: %w", d.name, err)
	}
	if all || !tenantfilter.On {
		return "TRUE", nil, nil
	}
	return "tenant_id = ?", []any{t}, nil
}

// anyRole renders "(actor OR record OR subject) AND tenant" and its
// arguments.
func (m personMatch) anyRole() (string, []any) {
	var args []any
	args = append(args, m.actorArgs...)
	args = append(args, m.recordArgs...)
	args = append(args, m.subjectArgs...)
	args = append(args, m.tenantArgs...)
	return "((" + m.actor + " OR " + m.record + " OR " + m.subject + ") AND " + m.tenant + ")", args
}

// PersonValues returns the personal strings d's events hold of p: the
// labels of their events as actor and as record, the IP addresses and user
// agents of their events as actor, and the values at the personal paths of
// their events as actor (see DomainConfig.PersonalPaths; in an event about
// them done by someone else, those paths may hold the other person's data). Strings
// shorter than MinPersonValue are left out. Erasure looks for these in
// copies and free text elsewhere (package privacy).
//
// A person is an identity within a tenant: on a tenanted domain it reads
// the context's tenant's events only, and without a tenant it is
// ErrNoTenant (never every tenant), unless ctx is AcrossTenants (the app's
// person ids are global: package privacy's Config.PersonsAcrossTenants).
// Erase, PersonEvents and PersonCondition are scoped the same way; an
// untenanted domain ignores the context's tenant.
func (d *Domain) PersonValues(ctx context.Context, db *gorm.DB, p Person) ([]string, error) {
	if db == nil {
		return nil, ErrNilDB
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	m, err := d.personMatch(ctx, p)
	if err != nil {
		return nil, err
	}
	where, whereArgs := m.anyRole()
	var args []any
	args = append(args, m.actorArgs...)
	args = append(args, m.recordArgs...)
	args = append(args, m.actorArgs...)
	args = append(args, pgarray.Text(d.personalPathArrays()))
	args = append(args, whereArgs...)
	args = append(args, MinPersonValue)
	q := `SELECT DISTINCT v FROM (
  SELECT coalesce(CASE WHEN ` + m.actor + ` THEN ARRAY[actor_label, host(ip), user_agent] END, '{}')
      || coalesce(CASE WHEN ` + m.record + ` THEN ARRAY[record_label] END, '{}')
      || coalesce(CASE WHEN ` + m.actor + ` THEN ARRAY(SELECT extra #>> p::text[] FROM unnest(?::text[]) AS p) END, '{}') AS vs
    FROM ` + d.table + ` WHERE ` + where + `
) x, unnest(x.vs) AS v
WHERE v IS NOT NULL AND char_length(btrim(v)) >= ?`
	var vals []string
	rows, err := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Raw(q, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("activity: personal values of %s in %s: %w", p.Ref(), d.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("activity: personal values of %s in %s: %w", p.Ref(), d.name, err)
		}
		vals = append(vals, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("activity: personal values of %s in %s: %w", p.Ref(), d.name, err)
	}
	return vals, rows.Close()
}

// Erase masks p's personal data in d's events table, in place, and keeps
// every event (counts and IDs stay; feeds render ErasedLabel):
//
//   - events where p is the actor: actor_label becomes ErasedLabel, ip
//     and user_agent NULL;
//   - events where p is the record: record_label becomes ErasedLabel;
//   - events where p is actor, record or subject: the personal paths of
//     extra are removed, and every string of extra, tags and
//     retraction_reason that contains one of p.Values is masked
//     ("[erased]");
//   - any other event of the tenant: personal paths and tags that mention
//     one of p.Values (removed, masked), and every mention in the copies
//     made of p's data, found through indexes: retraction reasons (Retract
//     copies its reason onto the retracted events and into the extra of
//     the "_retracted" event it records), and the labels and extra of
//     events recorded by a system actor or caused by another event (a
//     workflow rule's actions record events labelled "Workflow: <rule
//     name>", with its parameters in extra; an inbox job's event copies
//     what it read). Texts people wrote in their own events that mention p
//     stay theirs (declare a personal path, or erase them in a Part). This
//     is a scan of the tenant's events, once per erasure.
//
// Only the context's tenant's events change (see PersonValues): another
// tenant's person with the same key is another person.
//
// Pass p with the values PersonValues found (package privacy does), so
// copies are recognised. It returns how many events changed. Two UPDATE
// statements; run it in the caller's transaction to make it atomic with
// the rest of an erasure. It needs the library's migration 00017.
func (d *Domain) Erase(ctx context.Context, db *gorm.DB, p Person) (int64, error) {
	if db == nil {
		return 0, ErrNilDB
	}
	if err := p.Validate(); err != nil {
		return 0, err
	}
	m, err := d.personMatch(ctx, p)
	if err != nil {
		return 0, err
	}
	vals := pgarray.Text(p.Values)
	pats := pgarray.Text(p.Patterns())
	db = db.Session(&gorm.Session{NewDB: true, Context: ctx})

	// 1. The events p takes part in. Personal paths go with chained #-
	// (no function call per row); the masking functions run only on
	// values the LIKE filter found p's strings in.
	extra := "extra"
	var pathArgs []any
	for _, path := range d.personalPathArrays() {
		extra = "(" + extra + " #- ?::text[])"
		pathArgs = append(pathArgs, path)
	}
	where, whereArgs := m.anyRole()
	var args []any
	args = append(args, m.actorArgs...)
	args = append(args, ErasedLabel)
	args = append(args, m.recordArgs...)
	args = append(args, ErasedLabel)
	args = append(args, m.actorArgs...)
	args = append(args, m.actorArgs...)
	set := `
  actor_label = CASE WHEN ` + m.actor + ` THEN ? ELSE actor_label END,
  record_label = CASE WHEN ` + m.record + ` THEN ? ELSE record_label END,
  ip = CASE WHEN ` + m.actor + ` THEN NULL ELSE ip END,
  user_agent = CASE WHEN ` + m.actor + ` THEN NULL ELSE user_agent END`
	if len(pathArgs) > 0 {
		set += `,
  extra = ` + extra
		args = append(args, pathArgs...)
	}
	if len(p.Values) > 0 {
		set += `,
  tags = CASE WHEN tags IS NOT NULL AND lower(tags::text) LIKE ANY(?) THEN tidings_mask_jsonb(tags, ?) ELSE tags END,
  retraction_reason = CASE WHEN lower(retraction_reason) LIKE ANY(?) THEN tidings_mask_text(retraction_reason, ?) ELSE retraction_reason END`
		args = append(args, pats, vals, pats, vals)
	}
	args = append(args, whereArgs...)
	res := db.Exec(`UPDATE `+d.table+` SET`+set+`
WHERE `+where, args...)
	if res.Error != nil {
		return 0, fmt.Errorf("activity: erase %s from %s: %w", p.Ref(), d.table, res.Error)
	}
	n := res.RowsAffected
	if len(p.Values) == 0 {
		return n, nil
	}
	// Other strings of extra in p's events that mention p (a body that
	// quotes their name): masked, on the rows the LIKE filter finds.
	args = append([]any{vals}, whereArgs...)
	args = append(args, pats)
	res = db.Exec(`UPDATE `+d.table+` SET extra = tidings_mask_jsonb(extra, ?)
WHERE `+where+` AND lower(extra::text) LIKE ANY(?)`, args...)
	if res.Error != nil {
		return n, fmt.Errorf("activity: erase %s from %s: %w", p.Ref(), d.table, res.Error)
	}

	// 2. Other events: personal paths and tags that mention p, and the
	// copies of p's data (see above). Each arm of the filter is one the
	// table's partial indexes answer (tags, retracted_at, causation_id,
	// actor_type, action), so without personal paths this is a bitmap
	// scan of those rows, not of the table; a LIKE comes before any
	// function, and a row changes only where a whole word matches (Hana
	// keeps "hana.erasmus@...").
	paths := pgarray.Text(d.personalPathArrays())
	made := "(causation_id IS NOT NULL OR actor_type = '" + SystemActorType + "')"
	retractions := pgarray.Text(d.retractionActions())
	cond := `(tags IS NOT NULL AND lower(tags::text) LIKE ANY(?))
    OR (retracted_at IS NOT NULL AND lower(retraction_reason) LIKE ANY(?))
    OR (action = ANY(?::text[]) AND lower(extra::text) LIKE ANY(?))
    OR (causation_id IS NOT NULL AND (lower(actor_label) LIKE ANY(?) OR lower(record_label) LIKE ANY(?) OR lower(extra::text) LIKE ANY(?)))
    OR (actor_type = '` + SystemActorType + `' AND (lower(actor_label) LIKE ANY(?) OR lower(record_label) LIKE ANY(?) OR lower(extra::text) LIKE ANY(?)))`
	condArgs := []any{pats, pats, retractions, pats, pats, pats, pats, pats, pats, pats}
	if len(d.personal) > 0 {
		var first []string
		for _, keys := range d.personal {
			first = append(first, keys[0])
		}
		cond = "(jsonb_exists_any(extra, ?::text[]) AND lower(extra::text) LIKE ANY(?))\n    OR " + cond
		condArgs = append([]any{pgarray.Text(first), pats}, condArgs...)
	}
	args = []any{pats, vals, pats, vals, retractions, pats, paths, vals, vals, paths, vals, pats, vals, pats, vals}
	args = append(args, m.tenantArgs...)
	args = append(args, whereArgs...)
	args = append(args, condArgs...)
	args = append(args, vals, vals, paths, vals, vals, vals, vals)
	res = db.Exec(`UPDATE `+d.table+` SET
  actor_label = CASE WHEN `+made+` AND lower(actor_label) LIKE ANY(?) THEN tidings_mask_text(actor_label, ?) ELSE actor_label END,
  record_label = CASE WHEN `+made+` AND lower(record_label) LIKE ANY(?) THEN tidings_mask_text(record_label, ?) ELSE record_label END,
  extra = CASE WHEN (`+made+` OR action = ANY(?::text[])) AND lower(extra::text) LIKE ANY(?)
    THEN tidings_mask_jsonb(tidings_drop_paths(extra, ?, ?), ?) ELSE tidings_drop_paths(extra, ?, ?) END,
  tags = CASE WHEN lower(tags::text) LIKE ANY(?) THEN tidings_mask_jsonb(tags, ?) ELSE tags END,
  retraction_reason = CASE WHEN lower(retraction_reason) LIKE ANY(?) THEN tidings_mask_text(retraction_reason, ?) ELSE retraction_reason END
WHERE `+m.tenant+` AND NOT coalesce(`+where+`, false)
  AND (`+cond+`)
  AND ((`+made+` AND (tidings_mentions(actor_label, ?) OR tidings_mentions(record_label, ?)))
    OR tidings_drop_paths(extra, ?, ?) IS DISTINCT FROM extra OR tidings_mask_jsonb(extra, ?) IS DISTINCT FROM extra
    OR tidings_mask_jsonb(tags, ?) IS DISTINCT FROM tags OR tidings_mentions(retraction_reason, ?))`, args...)
	if res.Error != nil {
		return n, fmt.Errorf("activity: erase %s's values from %s: %w", p.Ref(), d.table, res.Error)
	}
	return n + res.RowsAffected, nil
}

// retractionActions returns the domain's actions that Retract may record
// (those ending in "_retracted"), with their former names (aliases), so an
// erasure finds the retraction events whose extra copies a reason.
func (d *Domain) retractionActions() []string {
	var out []string
	for _, a := range d.actions {
		if strings.HasSuffix(a, "_retracted") {
			out = append(out, a)
		}
	}
	for old := range d.catalog.aliases {
		if strings.HasSuffix(old, "_retracted") {
			out = append(out, old)
		}
	}
	slices.Sort(out)
	return out
}

// PersonCondition returns a condition on d's events table (columns
// unqualified) that holds for the events p takes part in (actor, record,
// or subject when d's subject table is p's type) in the context's tenant
// (see Erase), with its arguments. Use it in a subquery over d.Table():
// other packages count or join p's events with it (package privacy counts
// deliveries still in flight). Without a tenant on a tenanted domain it is
// ErrNoTenant, unless ctx is AcrossTenants.
func (d *Domain) PersonCondition(ctx context.Context, p Person) (string, []any, error) {
	m, err := d.personMatch(ctx, p)
	if err != nil {
		return "", nil, err
	}
	cond, args := m.anyRole()
	return cond, args, nil
}
