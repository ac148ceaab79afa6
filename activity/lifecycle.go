package activity

import "fmt"

// SubjectDeletePolicy chooses what deleting a subject row does to its
// events (DomainConfig.OnSubjectDelete).
type SubjectDeletePolicy int

const (
	// KeepHistory (the default) keeps a deleted subject's events: the
	// events table has no foreign key to the subject table, feeds keep
	// rendering them from the labels snapshotted at recording, and
	// retention, not deletion, ends them. Recording still refuses a
	// subject that does not exist: every recording statement checks it
	// (a *SubjectError, nothing written).
	KeepHistory SubjectDeletePolicy = iota
	// Cascade deletes a subject's events with it: the events table
	// references the subject table ON DELETE CASCADE (Rails'
	// dependent: :destroy). Choose it only when the history has no value
	// once its subject is gone.
	Cascade
)

// String names the policy as Go code does.
func (p SubjectDeletePolicy) String() string {
	switch p {
	case KeepHistory:
		return "activity.KeepHistory"
	case Cascade:
		return "activity.Cascade"
	}
	return fmt.Sprintf("SubjectDeletePolicy(%d)", int(p))
}

// OnSubjectDelete returns the domain's choice for deleted subjects.
func (d *Domain) OnSubjectDelete() SubjectDeletePolicy { return d.onDelete }

// subjectReference renders the events table's subject_id column reference:
// the cascading foreign key, or nothing.
func subjectReference(d *Domain) string {
	if d.onDelete == Cascade {
		return fmt.Sprintf(" REFERENCES %s (%s) ON DELETE CASCADE", d.subject.Table, d.subject.Key)
	}
	return ""
}

// dropSubjectFKSQL drops every foreign key of the events table that
// references the subject table (the one earlier versions of MigrationSQL
// created, whatever PostgreSQL named it).
func dropSubjectFKSQL(d *Domain) string {
	return fmt.Sprintf(`DO $drop$
DECLARE c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
              WHERE conrelid = '%[1]s'::regclass AND contype = 'f' AND confrelid = '%[2]s'::regclass LOOP
        EXECUTE format('ALTER TABLE %[1]s DROP CONSTRAINT %%I', c.conname);
    END LOOP;
END
$drop$;
`, d.table, d.subject.Table)
}
