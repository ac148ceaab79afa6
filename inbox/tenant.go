package inbox

import (
	"context"

	"github.com/tidingsdev/tidings/activity"
)

// Tenants. An event of a tenanted domain (activity.DomainConfig.Tenant)
// reaches inboxes with its tenant (Delivery.Tenant, and activity.WithTenant
// on the job's context), and everything the library stores for it carries
// the tenant in a tenant_id column: notifications, preferences, digests,
// escalations, Slack threads, workflow rules and runs. Every read of those
// tables is scoped to the context's tenant (activity.WithTenant, set by
// activity.Middleware's Tenant): with a tenant, only that tenant's rows;
// without one, only untenanted rows. So a tenant never sees another's, and
// an untenanted app's calls and rows are as before.

// TenantOf returns the tenant on ctx as stored in the library's tables:
// "" for none (see activity.TenantText).
func TenantOf(ctx context.Context) string { return activity.TenantText(ctx) }

// TenantDefault is the Recipient of a tenant's default preference: a
// Preference with Recipient TenantDefault, set under a tenant's context,
// applies to every recipient of that tenant who has not chosen for that
// kind themselves (a user's own row overrides it).
const TenantDefault = "*"

// tenantArg is the value of a nullable tenant_id column: NULL for "".
func tenantArg(t string) any {
	if t == "" {
		return nil
	}
	return t
}

// TenantCondition returns the SQL condition scoping a library table to
// ctx's tenant ("tenant_id = ?" with the tenant, or "tenant_id IS NULL"
// without one), prefixed by alias when given ("n." for "n.tenant_id"), and
// its arguments. For the channel packages' own tables.
func TenantCondition(ctx context.Context, alias string) (string, []any) {
	t := TenantOf(ctx)
	if t == "" {
		return alias + "tenant_id IS NULL", nil
	}
	return alias + "tenant_id = ?", []any{t}
}
