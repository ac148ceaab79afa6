//go:build tidings_rlsonly

package activity

// libraryTenantFilters is false in the tidings_rlsonly test build: reads
// leave tenant scoping to the row-level security policies alone. Never
// build an app with this tag.
const libraryTenantFilters = false
