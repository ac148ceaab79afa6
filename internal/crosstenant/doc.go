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
//
// Each case records the calls it makes as A on B's data (cover). After
// both runs, every-call-has-a-case parses the module's packages (go/ast,
// go/types within each package) and lists every exported function and
// method that runs SQL on a table of migrations.TenantTables; it fails
// naming each one no case covers, unless it serves every tenant on purpose
// and says so by name (...AllTenants, listed in operatorCalls) or is on
// the awaitingCase list, which may only shrink. A new call on tenant data
// fails it until it has a case; a case whose call loses its tenant filter
// fails its own checks (B's rows change, or A's answer holds B's).
package crosstenant
