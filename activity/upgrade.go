package activity

import "fmt"

// historyIndexesSQL indexes the columns of tags and retraction (%[1]s is
// the events table).
const historyIndexesSQL = `-- tag filters (FeedQuery.Tags: tags @> '{"ticket": "SUP-1"}')
CREATE INDEX %[1]s_tags ON %[1]s USING gin (tags jsonb_path_ops) WHERE tags IS NOT NULL;
-- retracted events, for corrections pages
CREATE INDEX %[1]s_retracted ON %[1]s (retracted_at DESC) WHERE retracted_at IS NOT NULL;
`

// UpgradeSQL renders the SQL that brings an events table created by an
// earlier version of MigrationSQL up to this one (up), and back (down): the
// trace_parent, tags and retraction columns and their indexes, and the
// domain's throttle function re-created (its signature gained
// p_trace_parent; it refuses a missing subject or a strict isolation level
// without aborting the caller's transaction), and, unless the domain chose
// Cascade, the foreign key to the subject table dropped, so deleting a
// subject keeps its history (KeepHistory). It is safe to run on a table
// that is current already. cmd/tidings-migration -upgrade writes it as a
// goose file. Down drops the columns; run it only with the earlier
// version's throttle function restored.
func UpgradeSQL(d *Domain) (up, down string) {
	t := d.table
	up = fmt.Sprintf(`ALTER TABLE %[1]s
    ADD COLUMN IF NOT EXISTS trace_parent text,
    ADD COLUMN IF NOT EXISTS tags jsonb,
    ADD COLUMN IF NOT EXISTS retracted_at timestamptz,
    ADD COLUMN IF NOT EXISTS retracted_by text,
    ADD COLUMN IF NOT EXISTS retraction_reason text;
CREATE INDEX IF NOT EXISTS %[1]s_tags ON %[1]s USING gin (tags jsonb_path_ops) WHERE tags IS NOT NULL;
CREATE INDEX IF NOT EXISTS %[1]s_retracted ON %[1]s (retracted_at DESC) WHERE retracted_at IS NOT NULL;
DROP FUNCTION IF EXISTS %[1]s_record_throttled;
`, t) + throttleFunctionSQL(d)
	if d.onDelete == KeepHistory {
		up += dropSubjectFKSQL(d)
	}
	down = fmt.Sprintf(`DROP INDEX IF EXISTS %[1]s_retracted;
DROP INDEX IF EXISTS %[1]s_tags;
ALTER TABLE %[1]s DROP COLUMN IF EXISTS retraction_reason, DROP COLUMN IF EXISTS retracted_by,
    DROP COLUMN IF EXISTS retracted_at, DROP COLUMN IF EXISTS tags, DROP COLUMN IF EXISTS trace_parent;
`, t)
	if d.onDelete == KeepHistory {
		// NOT VALID: events of subjects deleted meanwhile stay; new ones
		// are checked again.
		down += fmt.Sprintf("ALTER TABLE %[1]s ADD CONSTRAINT %[1]s_subject_id_fkey FOREIGN KEY (subject_id) REFERENCES %[2]s (%[3]s) ON DELETE CASCADE NOT VALID;\n",
			t, d.subject.Table, d.subject.Key)
	}
	return up, down
}

// GooseUpgrade renders UpgradeSQL as a goose SQL migration file.
func GooseUpgrade(d *Domain) string {
	up, down := UpgradeSQL(d)
	return "-- Trace, tags and retraction columns and the throttle function of the " + d.name + " domain's events, rendered by activity.GooseUpgrade.\n" +
		"-- +goose Up\n-- +goose StatementBegin\n" + up + "-- +goose StatementEnd\n\n" +
		"-- +goose Down\n-- +goose StatementBegin\n" + down + "-- +goose StatementEnd\n"
}
