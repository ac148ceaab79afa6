package activity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tidingsdev/tidings/internal/tenantfilter"
)

// Tenants. A domain declared with DomainConfig.Tenant is tenanted: every
// event carries a tenant key (an organisation, a workspace, an account), of
// the SQL type the declaration names, in its tenant_id column. Recording
// takes the tenant from an InTenant option, else from the context
// (WithTenant, usually set by Middleware), else from the event being
// handled (Cause.Tenant: events a job records inherit its event's tenant);
// recording without one is refused with ErrNoTenant before any write, and a
// tenant other than the cause's is refused with ErrCrossTenant.
//
// Every read of a tenanted domain (Feed, Event, EventsByID, CountByAction,
// LastOccurred, Replay, EventsAfter, Count, Retract) is scoped to the
// context's tenant (or the query's Tenant field): asking without one is
// ErrNoTenant, never "all tenants". So are the person-level calls
// (PersonValues, Erase, PersonEvents, PersonCondition): a person is an
// identity within a tenant. Trusted background processes that
// serve every tenant (the inbox relay and worker, backfills) say so
// explicitly with AcrossTenants.
//
// An untenanted domain ignores the context's tenant: its SQL is unchanged.

var (
	// ErrNoTenant is returned when a tenanted domain is recorded into or
	// read without a tenant: set one with WithTenant (or Middleware's
	// Tenant), pass InTenant, or, for a process that serves every tenant,
	// use AcrossTenants.
	ErrNoTenant = errors.New("activity: no tenant: the domain is tenanted; set one on the context with activity.WithTenant (or MiddlewareConfig.Tenant), or pass activity.InTenant(...)")

	// ErrInvalidTenant is returned (inside a *TenantError) when a tenant
	// key is of the wrong kind for the domain's Tenant key type, or is
	// given to a domain that is not tenanted.
	ErrInvalidTenant = errors.New("activity: invalid tenant")

	// ErrCrossTenant is returned (inside a *TenantError) when an event
	// would be recorded in one tenant while handling an event (its cause)
	// of another.
	ErrCrossTenant = errors.New("activity: cause belongs to another tenant")
)

// TenantError reports a tenant key that cannot be used.
type TenantError struct {
	Domain string
	Value  any
	Reason string
	err    error // ErrInvalidTenant or ErrCrossTenant
}

func (e *TenantError) Error() string {
	return fmt.Sprintf("activity: domain %q: tenant %v %s", e.Domain, e.Value, e.Reason)
}

// Is matches ErrInvalidTenant or ErrCrossTenant.
func (e *TenantError) Is(target error) bool {
	if e.err == nil {
		return target == ErrInvalidTenant
	}
	return target == e.err
}

type (
	tenantKey       struct{}
	acrossTenantKey struct{}
)

// WithTenant returns a context whose events are recorded in, and whose
// reads are scoped to, tenant (a key of the domain's Tenant key type: an
// integer, a UUID or a string; its text form is accepted for every type).
// Untenanted domains ignore it.
func WithTenant(ctx context.Context, tenant any) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenant)
}

// TenantFrom returns the tenant set on ctx with WithTenant.
func TenantFrom(ctx context.Context) (any, bool) {
	t := ctx.Value(tenantKey{})
	return t, t != nil
}

// AcrossTenants returns a context under which reads of tenanted domains
// without a tenant see every tenant: for trusted processes that serve all
// of them (the inbox relay and worker, backfills, maintenance), never for
// a request. A tenant set with WithTenant still scopes the reads.
func AcrossTenants(ctx context.Context) context.Context {
	return context.WithValue(ctx, acrossTenantKey{}, true)
}

func acrossTenants(ctx context.Context) bool {
	b, _ := ctx.Value(acrossTenantKey{}).(bool)
	return b
}

// IsAcrossTenants reports whether ctx was marked with AcrossTenants.
// Packages below activity use it where a call reaches every tenant on
// purpose (a person's rows when the app's person ids are global: see
// package privacy); their other calls ignore it.
func IsAcrossTenants(ctx context.Context) bool { return acrossTenants(ctx) }

// WithoutTenant returns ctx with no tenant: a tenant set before (by
// Middleware, WithTenant) is hidden from TenantFrom, TenantText and every
// read and write under it. With AcrossTenants on top, it is how a trusted
// call acts on every tenant from a request that carries one (package
// privacy does it for an app whose person ids are global).
func WithoutTenant(ctx context.Context) context.Context {
	return context.WithValue(ctx, tenantKey{}, nil)
}

type tenantOption struct{ v any }

// InTenant records the event in tenant, overriding the context's. On an
// untenanted domain it is refused (ErrInvalidTenant).
func InTenant(tenant any) Option { return tenantOption{tenant} }

func (o tenantOption) applyRecord(c *recordCall) { c.tenant, c.hasTenant = o.v, true }
func (o tenantOption) String() string            { return fmt.Sprintf("InTenant(%v)", o.v) }

// Tenanted reports whether the domain was declared with a Tenant key type.
func (d *Domain) Tenanted() bool { return d.tenant != "" }

// TenantKeyType returns the SQL type of the domain's tenant key, "" when
// the domain is not tenanted.
func (d *Domain) TenantKeyType() KeyType { return d.tenant }

// TenantKey returns v as the text form events carry in TenantID, after
// checking it against the domain's tenant key type.
func (d *Domain) TenantKey(v any) (string, error) {
	a, err := d.tenantArg(v)
	if err != nil {
		return "", err
	}
	return fmt.Sprint(a), nil
}

// tenantArg checks a tenant key against the domain's tenant key type and
// returns it as a query argument.
func (d *Domain) tenantArg(v any) (any, error) {
	if !d.Tenanted() {
		return nil, &TenantError{Domain: d.name, Value: v, Reason: "is given, but the domain is not tenanted: declare DomainConfig.Tenant to store tenants"}
	}
	a, reason := parseKey(d.tenant, "tenant key", v)
	if reason != "" {
		return nil, &TenantError{Domain: d.name, Value: v, Reason: reason}
	}
	return a, nil
}

// recordTenant returns the tenant a recording call writes (nil for an
// untenanted domain): the option's, else the context's, else the cause's.
func (d *Domain) recordTenant(ctx context.Context, c recordCall) (any, error) {
	if !d.Tenanted() {
		if c.hasTenant {
			return nil, &TenantError{Domain: d.name, Value: c.tenant, Reason: "is given, but the domain is not tenanted: declare DomainConfig.Tenant to store tenants"}
		}
		return nil, nil
	}
	v, ok := c.tenant, c.hasTenant
	if !ok {
		v, ok = TenantFrom(ctx)
	}
	cause, hasCause := CauseFrom(ctx)
	if !ok && hasCause && cause.Tenant != "" {
		v, ok = cause.Tenant, true
	}
	if !ok {
		return nil, ErrNoTenant
	}
	t, err := d.tenantArg(v)
	if err != nil {
		return nil, err
	}
	if hasCause && cause.Tenant != "" && fmt.Sprint(t) != cause.Tenant {
		return nil, &TenantError{Domain: d.name, Value: v, err: ErrCrossTenant,
			Reason: fmt.Sprintf("differs from the tenant %q of the event being handled (%s): an event caused by another tenant's event is refused", cause.Tenant, cause.Event)}
	}
	return t, nil
}

// readTenant returns the tenant a read is scoped to: q (a query's Tenant
// field) when set, else the context's. all is true for an unscoped read:
// an untenanted domain, or AcrossTenants without a tenant.
func (d *Domain) readTenant(ctx context.Context, q any) (t any, all bool, err error) {
	if !d.Tenanted() {
		if q != nil {
			return nil, false, &TenantError{Domain: d.name, Value: q, Reason: "is given, but the domain is not tenanted"}
		}
		return nil, true, nil
	}
	v, ok := q, q != nil
	if !ok {
		v, ok = TenantFrom(ctx)
	}
	if !ok {
		if acrossTenants(ctx) {
			return nil, true, nil
		}
		return nil, false, ErrNoTenant
	}
	t, err = d.tenantArg(v)
	return t, false, err
}

// parseKey checks v as a key of type kt, as subject keys are checked, and
// returns the query argument, or the reason it cannot be one.
func parseKey(kt KeyType, what string, v any) (any, string) {
	shadow := &Domain{subject: Subject{Table: "tenants", KeyType: kt}}
	a, err := shadow.subjectArg(v)
	if err != nil {
		var se *SubjectError
		if errors.As(err, &se) {
			return nil, strings.ReplaceAll(strings.ReplaceAll(se.Reason, "the subject key of tenants", "the "+what), "the subject", "the tenant")
		}
		return nil, err.Error()
	}
	return a, ""
}

// selectCols is the select list of the domain's reads: selectList, then
// tenant_id as text for a tenanted domain.
func (d *Domain) selectCols(prefix string) string {
	if d.tenant == "" {
		return selectList(prefix)
	}
	return selectList(prefix) + ", " + prefix + "tenant_id::text"
}

// scan scans one row selected with selectCols, after the leading columns
// in pre.
func (d *Domain) scan(s scanner, e *Event, pre ...any) error {
	es := d.eventScan()
	return es.scan(s, e, pre...)
}

// eventScan returns a scanner of the domain's event rows, for a query's
// rows.
func (d *Domain) eventScan() *eventScan {
	return &eventScan{domain: d.name, tenanted: d.tenant != ""}
}

// eventColumnCount is how many columns selectCols selects.
func (d *Domain) eventColumnCount() int {
	if d.tenant == "" {
		return len(eventColumns)
	}
	return len(eventColumns) + 1
}

// byID picks the tenant-scoped or the across-tenants form of a by-id read
// and its arguments.
func (d *Domain) byID(ctx context.Context, scoped, across string, ids any) (string, []any, error) {
	t, all, err := d.readTenant(ctx, nil)
	if err != nil {
		return "", nil, err
	}
	if all || !tenantfilter.On {
		return across, []any{ids}, nil
	}
	return scoped, []any{ids, t}, nil
}

// TenantText returns the tenant set on ctx as text, the form events carry
// in TenantID and the inbox tables store ("" when ctx has none): integers
// in decimal, UUIDs ([16]byte types) in their canonical form, strings as
// they are. Packages below activity scope their own tables with it.
func TenantText(ctx context.Context) string {
	v, ok := TenantFrom(ctx)
	if !ok {
		return ""
	}
	return keyString(v)
}
