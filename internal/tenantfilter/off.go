//go:build tidings_rlsonly

package tenantfilter

// On is false in the tidings_rlsonly test build: the library leaves tenant
// scoping to the row-level security policies alone. Never build an app
// with this tag.
const On = false
