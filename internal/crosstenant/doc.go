// Package crosstenant holds the cross-tenant test suite, and nothing else:
// two tenants with the same subject ids, actors, recipients and actions,
// and every public read and write of activity, inbox, inbox/notify,
// inbox/email (unsubscribe links, preferences), inbox/slack and workflow
// called as tenant A on tenant B's data. Each call must return nothing or a
// clear error, and no row of tenant B may change.
//
// Run it with the other tests: go test ./internal/crosstenant/.
package crosstenant
