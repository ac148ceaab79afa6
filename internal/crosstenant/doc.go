// Package crosstenant holds the cross-tenant test suite, and nothing else:
// two tenants with the same subject ids, actors, recipients and actions,
// and every public read and write of activity, inbox, inbox/notify,
// inbox/email (unsubscribe links, preferences), inbox/slack, workflow and
// batching called as tenant A on tenant B's data. Each call must return
// nothing or a clear error, and no row of tenant B may change.
//
// The database has row-level security on (the events table's and
// migrations.RowLevelSecuritySQL), and TestCrossTenant runs the suite
// twice. As the superuser, whom no policy holds: the library's filters
// alone must keep the tenants apart, and removing any one of them fails
// it. Then as the app's role, held to the policies, with tidings.tenant
// set to the tenant of each call's context; only what serves every tenant
// (the relay, the batch flusher's claims, the workflow engine's rule
// cache) and the checks run as the superuser there. With the library's
// filters compiled out (internal/tenantfilter), the first run is skipped
// and the second proves the policies alone hold:
//
//	go test ./internal/crosstenant/
//	go test -tags tidings_rlsonly ./internal/crosstenant/
package crosstenant
