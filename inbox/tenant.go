package inbox

import (
	"context"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/tenantfilter"
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
// its arguments. For the channel packages' own tables whose tenant_id is
// nullable (NULL for an untenanted row); see TenantKeyCondition for those
// where it is part of a key. In the tidings_rlsonly test build the
// condition is "TRUE": the row-level security policies alone scope the
// rows (see migrations.RowLevelSecuritySQL).
func TenantCondition(ctx context.Context, alias string) (string, []any) {
	if !tenantfilter.On {
		return "TRUE", nil
	}
	t := TenantOf(ctx)
	if t == "" {
		return alias + "tenant_id IS NULL", nil
	}
	return alias + "tenant_id = ?", []any{t}
}

// TenantKeyCondition is TenantCondition for a table whose tenant_id is
// part of a key, NOT NULL and empty for an untenanted row (preferences,
// delivery choices, digests, Slack threads, batch windows): "tenant_id = ?"
// with ctx's tenant, empty when ctx has none. "TRUE" in the
// tidings_rlsonly test build.
func TenantKeyCondition(ctx context.Context, alias string) (string, []any) {
	if !tenantfilter.On {
		return "TRUE", nil
	}
	return alias + "tenant_id = ?", []any{TenantOf(ctx)}
}

// PersonTenantCondition is the tenant condition of a person-level call
// (erasure and export of one person's rows: ErasePerson, StoredChoices,
// StoredPreferences, notify.EachOf, the channels' erasers): a person is
// an identity within a tenant, so it is TenantCondition (keyed false) or
// TenantKeyCondition (keyed true), the context's tenant's rows only
// (untenanted rows only without one), except under activity.AcrossTenants
// with no tenant on ctx, where it holds for every row ("TRUE"): an app
// whose person ids are global across its tenants erases and exports a
// person in all of them (package privacy, Config.PersonsAcrossTenants).
func PersonTenantCondition(ctx context.Context, alias string, keyed bool) (string, []any) {
	if _, ok := activity.TenantFrom(ctx); !ok && activity.IsAcrossTenants(ctx) {
		return "TRUE", nil
	}
	if keyed {
		return TenantKeyCondition(ctx, alias)
	}
	return TenantCondition(ctx, alias)
}
