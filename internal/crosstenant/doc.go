// Package crosstenant holds the cross-tenant test suite, and nothing else:
// two tenants with the same subject ids, actors, recipients and actions,
// and every public read and write of activity, inbox, inbox/notify,
// inbox/email (unsubscribe links, preferences), inbox/slack, workflow and
// batching called as tenant A on tenant B's data. Each call must return
// nothing or a clear error, and no row of tenant B may change.
//
// The database has row-level security on (the events table's and
// migrations.RowLevelSecuritySQL), and every call made with a tenant's
// context runs as a role held to it, with tidings.tenant set to that
// tenant; only what serves every tenant (the relay, the batch flusher's
// claims, the workflow engine's rule cache) and the checks run as the
// superuser. So the suite proves two things: in the normal build, with
// the library's filters and the policies both in place,
//
//	go test ./internal/crosstenant/
//
// and, with the library's filters compiled out (internal/tenantfilter),
// that the policies alone keep the tenants apart:
//
//	go test -tags tidings_rlsonly ./internal/crosstenant/
package crosstenant
