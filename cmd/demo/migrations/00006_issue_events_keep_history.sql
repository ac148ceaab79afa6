-- Trace, tags and retraction columns and the throttle function of the issue domain's events, rendered by activity.GooseUpgrade.
-- +goose Up
-- +goose StatementBegin
ALTER TABLE issue_events
    ADD COLUMN IF NOT EXISTS trace_parent text,
    ADD COLUMN IF NOT EXISTS tags jsonb,
    ADD COLUMN IF NOT EXISTS retracted_at timestamptz,
    ADD COLUMN IF NOT EXISTS retracted_by text,
    ADD COLUMN IF NOT EXISTS retraction_reason text;
CREATE INDEX IF NOT EXISTS issue_events_tags ON issue_events USING gin (tags jsonb_path_ops) WHERE tags IS NOT NULL;
CREATE INDEX IF NOT EXISTS issue_events_retracted ON issue_events (retracted_at DESC) WHERE retracted_at IS NOT NULL;
DROP FUNCTION IF EXISTS issue_events_record_throttled;

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
DO $drop$
DECLARE c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
              WHERE conrelid = 'issue_events'::regclass AND contype = 'f' AND confrelid = 'issues'::regclass LOOP
        EXECUTE format('ALTER TABLE issue_events DROP CONSTRAINT %I', c.conname);
    END LOOP;
END
$drop$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP INDEX IF EXISTS issue_events_retracted;
DROP INDEX IF EXISTS issue_events_tags;
ALTER TABLE issue_events DROP COLUMN IF EXISTS retraction_reason, DROP COLUMN IF EXISTS retracted_by,
    DROP COLUMN IF EXISTS retracted_at, DROP COLUMN IF EXISTS tags, DROP COLUMN IF EXISTS trace_parent;
ALTER TABLE issue_events ADD CONSTRAINT issue_events_subject_id_fkey FOREIGN KEY (subject_id) REFERENCES issues (id) ON DELETE CASCADE NOT VALID;
-- +goose StatementEnd
