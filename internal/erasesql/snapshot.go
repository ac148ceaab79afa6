// Package erasesql holds the SQL that masks a person's data in JSON
// snapshots of events (activity.Event as JSON: email escalations, batch
// items), shared by the erasers of the packages that keep such copies,
// and Run, which runs an eraser's statements and counts their rows.
package erasesql

import (
	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// Snapshot returns the expression that masks p in the event snapshot held
// by column col (a jsonb column, named by the caller's own SQL, never by
// input), with its arguments: an event p did (actor) loses its label, IP
// address and user agent, one about p as a record its record label, and
// every string of it that mentions one of p.Values is masked
// (tidings_mask_jsonb, migration 00017).
func Snapshot(col string, p activity.Person) (string, []any) {
	expr := `tidings_mask_jsonb(
    ((CASE WHEN ` + col + `->>'record_type' = ? AND ` + col + `->>'record_id' = ? THEN jsonb_set(` + col + `, '{record_label}', to_jsonb(?::text)) ELSE ` + col + ` END)
     || (CASE WHEN ` + col + `->>'actor_type' = ? AND ` + col + `->>'actor_id' = ? THEN jsonb_build_object('actor_label', ?::text) ELSE '{}'::jsonb END))
    - (CASE WHEN ` + col + `->>'actor_type' = ? AND ` + col + `->>'actor_id' = ? THEN ARRAY['ip', 'user_agent'] ELSE '{}'::text[] END), ?)`
	return expr, []any{p.Type, p.ID, activity.ErasedLabel, p.Type, p.ID, activity.ErasedLabel, p.Type, p.ID, pgarray.Text(p.Values)}
}

// SnapshotWhere returns the condition that finds the snapshots in col
// Snapshot changes (p's roles, or a mention of p.Values: a LIKE filter on
// the JSON text, see activity.Person.Patterns), with its arguments.
func SnapshotWhere(col string, p activity.Person) (string, []any) {
	where := `((` + col + `->>'actor_type' = ? AND ` + col + `->>'actor_id' = ?) OR (` + col + `->>'record_type' = ? AND ` + col + `->>'record_id' = ?)
   OR lower(` + col + `::text) LIKE ANY(?))`
	return where, []any{p.Type, p.ID, p.Type, p.ID, pgarray.Text(p.Patterns())}
}
