//go:build !tidings_rlsonly

package tenantfilter

// On is true: the library's reads and writes of tenanted rows filter by
// the tenant in their SQL. The tidings_rlsonly build tag turns the filters
// off (a test build only), to prove that the row-level security policies
// (activity.DomainConfig.RowLevelSecurity, migrations.RowLevelSecuritySQL)
// hold on their own.
const On = true
