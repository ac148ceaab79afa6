package privacy

import (
	"context"
	"fmt"

	"github.com/tidingsdev/tidings/activity"
)

// scope is where a person's rows are: the context every table owner is
// called with, and the tenant recorded with an erasure and shown in an
// export.
type scope struct {
	ctx    context.Context
	tenant string // the tenant as text; "" for none (untenanted domains) or every tenant
	across bool   // every tenant (Config.PersonsAcrossTenants)
}

// scope returns the scope of a person-level call made with ctx:
//
//   - Config.PersonsAcrossTenants: every tenant, whatever ctx carries
//     (activity.WithoutTenant, then activity.AcrossTenants);
//   - a tenanted domain among Config.Domains: ctx's tenant, checked
//     against each tenanted domain's key type; without one,
//     activity.ErrNoTenant (never every tenant);
//   - only untenanted domains: the untenanted rows (ctx's tenant, if any,
//     is dropped: untenanted domains ignore it, and so must their copies).
//
// It runs before any statement.
func (x *Privacy) scope(ctx context.Context) (scope, error) {
	switch {
	case x.cfg.PersonsAcrossTenants:
		return scope{ctx: activity.AcrossTenants(activity.WithoutTenant(ctx)), across: true}, nil
	case len(x.tenanted) == 0:
		return scope{ctx: activity.WithoutTenant(ctx)}, nil
	}
	t, ok := activity.TenantFrom(ctx)
	if !ok {
		return scope{}, fmt.Errorf("privacy: %w: a person is an identity within a tenant, and domain %q is tenanted: call with the person's tenant on the context (activity.WithTenant, or activity.MiddlewareConfig.Tenant for a request); if the app's person ids are global across its tenants, set Config.PersonsAcrossTenants",
			activity.ErrNoTenant, x.tenanted[0].Name())
	}
	for _, d := range x.tenanted {
		if _, err := d.TenantKey(t); err != nil {
			return scope{}, fmt.Errorf("privacy: the context's tenant: %w", err)
		}
	}
	return scope{ctx: ctx, tenant: activity.TenantText(ctx)}, nil
}

// tenantArg is the tenant_id an erasure record stores: NULL for none.
func (s scope) tenantArg() any {
	if s.tenant == "" {
		return nil
	}
	return s.tenant
}
