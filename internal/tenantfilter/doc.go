// Package tenantfilter holds one build-time switch: whether the library's
// own SQL filters by tenant (On). It is true in every build but the
// tidings_rlsonly test build, which compiles the filters out of activity,
// inbox and the packages built on it so that a test can prove the
// row-level security policies alone keep tenants apart:
//
//	go test -tags tidings_rlsonly ./internal/crosstenant/ ./activity/
//
// Write-side tenant values (the tenant_id an INSERT stores, a conflict key
// that includes it) are not filters and never depend on it. Worker-side
// dispatch that must see untenanted rows alongside a tenant's (webhook
// subscriptions, the workflow engine's rule cache) keeps its checks: a
// policy cannot stand in for them.
package tenantfilter
