-- The issue domain's events made tenanted (by issues.org_id), rendered by activity.GooseUpgradeTenant.
-- +goose Up
-- +goose StatementBegin
ALTER TABLE issue_events ADD COLUMN IF NOT EXISTS tenant_id bigint;
-- every event takes its subject's tenant
UPDATE issue_events e SET tenant_id = s.org_id FROM issues s WHERE s.id = e.subject_id AND e.tenant_id IS NULL;
ALTER TABLE issue_events ALTER COLUMN tenant_id SET NOT NULL;
-- indexes lead with the tenant, but for the two feed indexes, which put
-- it right after the subject (the actor): a page compares the key as a
-- one-element array (see Feed), and PostgreSQL keeps an index's order
-- under an array condition on its first column only
DROP INDEX IF EXISTS issue_events_subject_feed;
CREATE INDEX issue_events_subject_feed ON issue_events (subject_id, tenant_id, occurred_at DESC, id DESC);
DROP INDEX IF EXISTS issue_events_actor_feed;
CREATE INDEX issue_events_actor_feed ON issue_events (actor_type, actor_id, tenant_id, occurred_at DESC, id DESC);
DROP INDEX IF EXISTS issue_events_action_time;
CREATE INDEX issue_events_action_time ON issue_events (tenant_id, action, occurred_at DESC);
DROP INDEX IF EXISTS issue_events_record;
CREATE INDEX issue_events_record ON issue_events (tenant_id, record_type, record_id) WHERE record_id IS NOT NULL;
DROP INDEX IF EXISTS issue_events_correlation;
CREATE INDEX issue_events_correlation ON issue_events (tenant_id, correlation_id) WHERE correlation_id IS NOT NULL;
DROP INDEX IF EXISTS issue_events_causation;
CREATE INDEX issue_events_causation ON issue_events (tenant_id, causation_id) WHERE causation_id IS NOT NULL;
DROP INDEX IF EXISTS issue_events_time;
CREATE INDEX issue_events_time ON issue_events (tenant_id, occurred_at DESC, id DESC);
DROP INDEX IF EXISTS issue_events_retracted;
CREATE INDEX issue_events_retracted ON issue_events (tenant_id, retracted_at DESC) WHERE retracted_at IS NOT NULL;
DROP FUNCTION IF EXISTS issue_events_record_throttled;

CREATE FUNCTION issue_events_record_throttled(
    p_subject bigint, p_action text, p_actor_type text, p_actor_id text, p_actor_label text,
    p_record_type text, p_record_id text, p_record_label text, p_extra jsonb, p_now timestamptz,
    p_request_id text, p_correlation_id text, p_causation_domain text, p_causation_id bigint,
    p_depth smallint, p_source text, p_ip inet, p_user_agent text, p_trace_parent text, p_window interval, p_notify boolean,
    p_tenant bigint)
RETURNS TABLE (throttled boolean, ev issue_events)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_row issue_events;
BEGIN
    -- A refusal returns no row rather than raising, which would abort the
    -- caller's transaction: the caller tells the two cases apart.
    IF current_setting('transaction_isolation') <> 'read committed'
       OR NOT EXISTS (SELECT 1 FROM issues WHERE id = p_subject) THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(
        'issue' || chr(31) || p_tenant::text || chr(31) || p_subject::text || chr(31) || p_action || chr(31) || p_actor_type || chr(31) || p_actor_id
        || chr(31) || coalesce(p_record_type, '') || chr(31) || coalesce(p_record_id, ''), 0));
    UPDATE issue_events e
       SET occurred_at = greatest(e.occurred_at, p_now), updated_at = p_now, repeats = e.repeats + 1
     WHERE e.id = (
        SELECT r.id FROM issue_events r
         WHERE r.tenant_id = p_tenant AND r.subject_id = p_subject AND r.action = p_action
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
    INSERT INTO issue_events (subject_id, action, actor_type, actor_id, actor_label, record_type, record_id, record_label, extra, occurred_at, created_at, updated_at, request_id, correlation_id, causation_domain, causation_id, depth, source, ip, user_agent, trace_parent, tenant_id)
    VALUES (p_subject, p_action, p_actor_type, p_actor_id, p_actor_label, p_record_type, p_record_id,
            p_record_label, p_extra, p_now, p_now, p_now, p_request_id, p_correlation_id,
            p_causation_domain, p_causation_id, p_depth, p_source, p_ip, p_user_agent, p_trace_parent, p_tenant)
    RETURNING * INTO v_row;
    INSERT INTO activity_outbox (domain, event_id, action, subject_id, tenant_id) VALUES ('issue', v_row.id, v_row.action, v_row.subject_id::text, v_row.tenant_id::text);
    IF p_notify THEN
        PERFORM pg_notify('tidings_outbox', 'issue');
    END IF;
    RETURN QUERY SELECT false, v_row;
END
$fn$;
-- pending fan-out carries the tenant too
UPDATE activity_outbox o SET tenant_id = e.tenant_id::text FROM issue_events e WHERE o.domain = 'issue' AND o.event_id = e.id AND o.tenant_id IS NULL;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP POLICY IF EXISTS issue_events_tenant ON issue_events;
ALTER TABLE issue_events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE issue_events DISABLE ROW LEVEL SECURITY;
DROP FUNCTION IF EXISTS issue_events_record_throttled;
DROP INDEX IF EXISTS issue_events_subject_feed, issue_events_actor_feed, issue_events_action_time, issue_events_record, issue_events_correlation, issue_events_causation, issue_events_time, issue_events_retracted;
ALTER TABLE issue_events DROP COLUMN tenant_id;
CREATE INDEX issue_events_subject_feed ON issue_events (subject_id, occurred_at DESC, id DESC);
CREATE INDEX issue_events_actor_feed ON issue_events (actor_type, actor_id, occurred_at DESC, id DESC);
CREATE INDEX issue_events_action_time ON issue_events (action, occurred_at DESC);
CREATE INDEX issue_events_record ON issue_events (record_type, record_id) WHERE record_id IS NOT NULL;
CREATE INDEX issue_events_correlation ON issue_events (correlation_id) WHERE correlation_id IS NOT NULL;
CREATE INDEX issue_events_causation ON issue_events (causation_id) WHERE causation_id IS NOT NULL;
CREATE INDEX issue_events_time ON issue_events (occurred_at DESC, id DESC);
CREATE INDEX issue_events_retracted ON issue_events (retracted_at DESC) WHERE retracted_at IS NOT NULL;

CREATE FUNCTION issue_events_record_throttled(
    p_subject bigint, p_action text, p_actor_type text, p_actor_id text, p_actor_label text,
    p_record_type text, p_record_id text, p_record_label text, p_extra jsonb, p_now timestamptz,
    p_request_id text, p_correlation_id text, p_causation_domain text, p_causation_id bigint,
    p_depth smallint, p_source text, p_ip inet, p_user_agent text, p_trace_parent text, p_window interval, p_notify boolean)
RETURNS TABLE (throttled boolean, ev issue_events)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_row issue_events;
BEGIN
    -- A refusal returns no row rather than raising, which would abort the
    -- caller's transaction: the caller tells the two cases apart.
    IF current_setting('transaction_isolation') <> 'read committed'
       OR NOT EXISTS (SELECT 1 FROM issues WHERE id = p_subject) THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(
        'issue' || chr(31) || p_subject::text || chr(31) || p_action || chr(31) || p_actor_type || chr(31) || p_actor_id
        || chr(31) || coalesce(p_record_type, '') || chr(31) || coalesce(p_record_id, ''), 0));
    UPDATE issue_events e
       SET occurred_at = greatest(e.occurred_at, p_now), updated_at = p_now, repeats = e.repeats + 1
     WHERE e.id = (
        SELECT r.id FROM issue_events r
         WHERE r.subject_id = p_subject AND r.action = p_action
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
    INSERT INTO issue_events (subject_id, action, actor_type, actor_id, actor_label, record_type, record_id, record_label, extra, occurred_at, created_at, updated_at, request_id, correlation_id, causation_domain, causation_id, depth, source, ip, user_agent, trace_parent)
    VALUES (p_subject, p_action, p_actor_type, p_actor_id, p_actor_label, p_record_type, p_record_id,
            p_record_label, p_extra, p_now, p_now, p_now, p_request_id, p_correlation_id,
            p_causation_domain, p_causation_id, p_depth, p_source, p_ip, p_user_agent, p_trace_parent)
    RETURNING * INTO v_row;
    INSERT INTO activity_outbox (domain, event_id, action, subject_id) VALUES ('issue', v_row.id, v_row.action, v_row.subject_id::text);
    IF p_notify THEN
        PERFORM pg_notify('tidings_outbox', 'issue');
    END IF;
    RETURN QUERY SELECT false, v_row;
END
$fn$;
-- +goose StatementEnd
