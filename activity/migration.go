package activity

import (
	"fmt"
	"strings"
)

// MigrationSQL renders the SQL that creates (up) and drops (down) the
// domain's events table, its indexes and its throttle function. Put it in a
// migration of your app's own (cmd/tidings-migration writes a goose file):
//
//	up, down := activity.MigrationSQL(issues)
//
// It needs the library's own migrations (package migrations) applied first:
// they create the shared event ID sequence and the outbox table. The SQL is
// built only from the declaration's validated identifiers.
func MigrationSQL(d *Domain) (up, down string) {
	t := d.table
	// A partitioned table's primary key must hold its partition key.
	pk, pkPartitioned, partitionBy := "PRIMARY KEY", "", ""
	if d.partition != nil {
		pk, pkPartitioned, partitionBy = "NOT NULL", ",\n    PRIMARY KEY (id, occurred_at)", " PARTITION BY RANGE (occurred_at)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `CREATE TABLE %[1]s (
    id               bigint      %[5]s DEFAULT nextval('%[2]s'),
    subject_id       %[3]s NOT NULL%[4]s,
    action           text        NOT NULL,
    actor_type       text        NOT NULL,
    actor_id         text        NOT NULL,
    actor_label      text        NOT NULL DEFAULT '',
    record_type      text,
    record_id        text,
    record_label     text,
    extra            jsonb       NOT NULL DEFAULT '{}',
    occurred_at      timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    repeats          integer     NOT NULL DEFAULT 0,
    request_id       text,
    correlation_id   text,
    causation_domain text,
    causation_id     bigint,
    depth            smallint    NOT NULL DEFAULT 0,
    source           text,
    ip               inet,
    user_agent       text,
    trace_parent     text,
    tags             jsonb,
    retracted_at     timestamptz,
    retracted_by     text,
    retraction_reason text,
    CONSTRAINT %[1]s_record_ref CHECK ((record_type IS NULL) = (record_id IS NULL)),
    CONSTRAINT %[1]s_extra_object CHECK (jsonb_typeof(extra) = 'object')%[6]s
)%[7]s;
-- one subject's feed, newest first; also serves throttle lookups
CREATE INDEX %[1]s_subject_feed ON %[1]s (subject_id, occurred_at DESC, id DESC);
-- one actor's events
CREATE INDEX %[1]s_actor_feed ON %[1]s (actor_type, actor_id, occurred_at DESC, id DESC);
-- one action over time
CREATE INDEX %[1]s_action_time ON %[1]s (action, occurred_at DESC);
-- one record's events
CREATE INDEX %[1]s_record ON %[1]s (record_type, record_id) WHERE record_id IS NOT NULL;
-- one correlation id; the events one event caused
CREATE INDEX %[1]s_correlation ON %[1]s (correlation_id) WHERE correlation_id IS NOT NULL;
CREATE INDEX %[1]s_causation ON %[1]s (causation_id) WHERE causation_id IS NOT NULL;
-- feeds across subjects and replays, in time order
CREATE INDEX %[1]s_time ON %[1]s (occurred_at DESC, id DESC);
`+historyIndexesSQL, t, EventIDSequence, d.subject.KeyType, subjectReference(d), pk, pkPartitioned, partitionBy)
	if d.tenant != "" {
		b.WriteString(tenantColumnSQL(d))
	}
	if d.partition != nil {
		b.WriteString(partitionSetupSQL(d))
	}
	b.WriteString(throttleFunctionSQL(d))
	if d.rls {
		b.WriteString(rlsSQL(d))
	}
	up = b.String()
	down = fmt.Sprintf("DROP FUNCTION IF EXISTS %[1]s_record_throttled;\nDROP TABLE IF EXISTS %[1]s;\n", t)
	if d.partition != nil {
		down += partitionTeardownSQL(d)
	}
	return up, down
}

// throttleFunctionSQL renders the domain's throttled-record function. Its
// statements run at READ COMMITTED, each with a fresh snapshot: the advisory
// lock is taken first, so the statement that looks for the recent event
// sees the commit of any writer that held the lock before. (A lock taken in
// a CTE of the reading statement would not: that statement's snapshot
// predates the lock.)
//
// For a tenanted domain the function takes the tenant last, locks and
// looks up within it, and writes it on the event and its outbox row; the
// fragments are empty otherwise, so an untenanted domain's SQL is unchanged.
func throttleFunctionSQL(d *Domain) string {
	var tParam, tLock, tWhere, tCol, tVal, tOutCol, tOutVal string
	if d.tenant != "" {
		tParam, tLock, tWhere = ",\n    p_tenant "+string(d.tenant), " || chr(31) || p_tenant::text", "r.tenant_id = p_tenant AND "
		tCol, tVal, tOutCol, tOutVal = ", tenant_id", ", p_tenant", ", tenant_id", ", v_row.tenant_id::text"
	}
	return fmt.Sprintf(`
CREATE FUNCTION %[1]s_record_throttled(
    p_subject %[2]s, p_action text, p_actor_type text, p_actor_id text, p_actor_label text,
    p_record_type text, p_record_id text, p_record_label text, p_extra jsonb, p_now timestamptz,
    p_request_id text, p_correlation_id text, p_causation_domain text, p_causation_id bigint,
    p_depth smallint, p_source text, p_ip inet, p_user_agent text, p_trace_parent text, p_window interval, p_notify boolean%[9]s)
RETURNS TABLE (throttled boolean, ev %[1]s)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_row %[1]s;
BEGIN
    -- A refusal returns no row rather than raising, which would abort the
    -- caller's transaction: the caller tells the two cases apart.
    IF current_setting('transaction_isolation') <> 'read committed'
       OR NOT EXISTS (SELECT 1 FROM %[7]s WHERE %[8]s = p_subject) THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(
        '%[3]s'%[10]s || chr(31) || p_subject::text || chr(31) || p_action || chr(31) || p_actor_type || chr(31) || p_actor_id
        || chr(31) || coalesce(p_record_type, '') || chr(31) || coalesce(p_record_id, ''), 0));
    UPDATE %[1]s e
       SET occurred_at = greatest(e.occurred_at, p_now), updated_at = p_now, repeats = e.repeats + 1
     WHERE e.id = (
        SELECT r.id FROM %[1]s r
         WHERE %[11]sr.subject_id = p_subject AND r.action = p_action
           AND r.actor_type = p_actor_type AND r.actor_id = p_actor_id
           AND r.record_type IS NOT DISTINCT FROM p_record_type
           AND r.record_id IS NOT DISTINCT FROM p_record_id
           AND r.occurred_at >= p_now - p_window
         ORDER BY r.occurred_at DESC, r.id DESC
         LIMIT 1)
       AND e.occurred_at >= p_now - p_window -- prunes the partitions of a partitioned table
    RETURNING e.* INTO v_row;
    IF FOUND THEN
        RETURN QUERY SELECT true, v_row;
        RETURN;
    END IF;
    INSERT INTO %[1]s (%[4]s%[12]s)
    VALUES (p_subject, p_action, p_actor_type, p_actor_id, p_actor_label, p_record_type, p_record_id,
            p_record_label, p_extra, p_now, p_now, p_now, p_request_id, p_correlation_id,
            p_causation_domain, p_causation_id, p_depth, p_source, p_ip, p_user_agent, p_trace_parent%[13]s)
    RETURNING * INTO v_row;
    INSERT INTO %[5]s (domain, event_id, action, subject_id%[14]s) VALUES ('%[3]s', v_row.id, v_row.action, v_row.subject_id::text%[15]s);
    IF p_notify THEN
        PERFORM pg_notify('%[6]s', '%[3]s');
    END IF;
    RETURN QUERY SELECT false, v_row;
END
$fn$;
`, d.table, d.subject.KeyType, d.name, insertColumns, OutboxTable, OutboxChannel, d.subject.Table, d.subject.Key,
		tParam, tLock, tWhere, tCol, tVal, tOutCol, tOutVal)
}

// GooseMigration renders MigrationSQL as a goose SQL migration file, ready
// to save as migrations/NNNNN_<table>.sql in an app.
func GooseMigration(d *Domain) string {
	up, down := MigrationSQL(d)
	return "-- Events table of the " + d.name + " domain, rendered by activity.GooseMigration.\n" +
		"-- +goose Up\n-- +goose StatementBegin\n" + up + "-- +goose StatementEnd\n\n" +
		"-- +goose Down\n-- +goose StatementBegin\n" + down + "-- +goose StatementEnd\n"
}
