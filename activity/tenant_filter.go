//go:build !tidings_rlsonly

package activity

// libraryTenantFilters is true: reads of a tenanted domain filter by
// tenant in their SQL. The tidings_rlsonly build tag turns the filters off
// (a test build only), to prove that the row-level security policies of
// DomainConfig.RowLevelSecurity hold on their own.
const libraryTenantFilters = true
