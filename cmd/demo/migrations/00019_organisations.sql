-- Organisations: the demo's tenants. Every person, project and issue
-- belongs to one; the issue domain's events are tenanted by the issue's
-- organisation (00020, rendered by activity.GooseUpgradeTenant). A database
-- seeded before organisations gets one, Acme, holding everything.
-- +goose Up
CREATE TABLE organisations (
    id         bigserial   PRIMARY KEY,
    name       text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO organisations (name) SELECT 'Acme' WHERE EXISTS (SELECT 1 FROM users);
ALTER TABLE users ADD COLUMN org_id bigint REFERENCES organisations;
ALTER TABLE projects ADD COLUMN org_id bigint REFERENCES organisations;
ALTER TABLE issues ADD COLUMN org_id bigint REFERENCES organisations;
UPDATE users SET org_id = (SELECT min(id) FROM organisations);
UPDATE projects SET org_id = (SELECT min(id) FROM organisations);
UPDATE issues SET org_id = (SELECT min(id) FROM organisations);
ALTER TABLE users ALTER COLUMN org_id SET NOT NULL;
ALTER TABLE projects ALTER COLUMN org_id SET NOT NULL;
ALTER TABLE issues ALTER COLUMN org_id SET NOT NULL;
CREATE INDEX users_org ON users (org_id, id);
CREATE INDEX projects_org ON projects (org_id, id);
CREATE INDEX issues_org ON issues (org_id, id DESC);
-- events of issues deleted before organisations (their history is kept)
-- have no issue to take the tenant from: they go to the first organisation.
ALTER TABLE issue_events ADD COLUMN tenant_id bigint;
UPDATE issue_events SET tenant_id = (SELECT min(id) FROM organisations)
 WHERE NOT EXISTS (SELECT 1 FROM issues i WHERE i.id = issue_events.subject_id);
-- a comment import belongs to the organisation it was made in
ALTER TABLE comment_imports ADD COLUMN org_id bigint REFERENCES organisations;
UPDATE comment_imports SET org_id = (SELECT min(id) FROM organisations);

-- +goose Down
ALTER TABLE comment_imports DROP COLUMN org_id;
ALTER TABLE issue_events DROP COLUMN IF EXISTS tenant_id;
ALTER TABLE issues DROP COLUMN org_id;
ALTER TABLE projects DROP COLUMN org_id;
ALTER TABLE users DROP COLUMN org_id;
DROP TABLE organisations;
