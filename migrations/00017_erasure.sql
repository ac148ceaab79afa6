-- +goose Up
-- Erasure of a person's personal data (package privacy).

-- tidings_erasures records that an erasure happened, never the data: whose
-- (the app's key of the person, like "users" / "3", which names nobody once
-- the app deleted its own row), who asked, when, and how many rows of each
-- table were masked or removed.
CREATE TABLE tidings_erasures (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_type  text        NOT NULL,
    person_id    text        NOT NULL,
    requested_by text        NOT NULL,
    reason       text        NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    counts       jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX tidings_erasures_person ON tidings_erasures (person_type, person_id);

-- tidings_mask_text replaces every occurrence of any of vals in t, ignoring
-- case, with '[erased]'; an occurrence counts only as a whole word (not
-- preceded or followed by a letter or digit: "ana@example.com" is not
-- masked inside "hana@example.com"). vals shorter than 3 characters are
-- ignored.
-- +goose StatementBegin
CREATE FUNCTION tidings_mask_text(t text, vals text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    v text;
BEGIN
    IF t IS NULL OR vals IS NULL THEN
        RETURN t;
    END IF;
    FOREACH v IN ARRAY vals LOOP
        IF v IS NOT NULL AND length(v) >= 3 AND strpos(lower(t), lower(v)) > 0 THEN
            t := regexp_replace(t, '(?<![[:alnum:]])' || regexp_replace(v, '([.^$*+?()\[\]{}|\\-])', '\\\1', 'g') || '(?![[:alnum:]])', '[erased]', 'gi');
        END IF;
    END LOOP;
    RETURN t;
END
$fn$;
-- +goose StatementEnd

-- tidings_mask_jsonb walks j and replaces every string (value or object
-- key) that contains any of vals, ignoring case, with its masked text.
-- +goose StatementBegin
CREATE FUNCTION tidings_mask_jsonb(j jsonb, vals text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
    IF j IS NULL OR vals IS NULL THEN
        RETURN j;
    END IF;
    CASE jsonb_typeof(j)
    WHEN 'object' THEN
        RETURN coalesce((SELECT jsonb_object_agg(tidings_mask_text(k, vals), tidings_mask_jsonb(v, vals))
                           FROM jsonb_each(j) AS e(k, v)), '{}'::jsonb);
    WHEN 'array' THEN
        RETURN coalesce((SELECT jsonb_agg(tidings_mask_jsonb(v, vals) ORDER BY i)
                           FROM jsonb_array_elements(j) WITH ORDINALITY AS e(v, i)), '[]'::jsonb);
    WHEN 'string' THEN
        RETURN to_jsonb(tidings_mask_text(j #>> '{}', vals));
    ELSE
        RETURN j;
    END CASE;
END
$fn$;
-- +goose StatementEnd

-- tidings_mentions reports whether t contains any of vals (3 characters or
-- more) as a whole word, ignoring case, as tidings_mask_text would mask it.
-- +goose StatementBegin
CREATE FUNCTION tidings_mentions(t text, vals text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT t IS NOT NULL AND vals IS NOT NULL AND tidings_mask_text(t, vals) IS DISTINCT FROM t
$fn$;
-- +goose StatementEnd

-- tidings_drop_paths removes from j each of paths (text[] literals, like
-- '{author,name}'); with vals, only the paths whose value mentions one of
-- them.
-- +goose StatementBegin
CREATE FUNCTION tidings_drop_paths(j jsonb, paths text[], vals text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    p text;
BEGIN
    IF j IS NULL OR paths IS NULL THEN
        RETURN j;
    END IF;
    FOREACH p IN ARRAY paths LOOP
        IF vals IS NULL OR tidings_mentions(j #>> p::text[], vals) THEN
            j := j #- p::text[];
        END IF;
    END LOOP;
    RETURN j;
END
$fn$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION tidings_drop_paths(jsonb, text[], text[]);
DROP FUNCTION tidings_mentions(text, text[]);
DROP FUNCTION tidings_mask_jsonb(jsonb, text[]);
DROP FUNCTION tidings_mask_text(text, text[]);
DROP TABLE tidings_erasures;
