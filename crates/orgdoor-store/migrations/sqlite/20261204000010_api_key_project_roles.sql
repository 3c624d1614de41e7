-- API keys given roles in a project (`/groups/{groupId}/apiKeys`). The composite keys make the
-- database refuse a key of another organization and drop the grant with the key or project.
CREATE UNIQUE INDEX api_keys_id_org ON api_keys (id, org_id);
CREATE TABLE api_key_project_roles (
    project_id  TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    api_key_id  TEXT NOT NULL,
    roles       TEXT NOT NULL,
    assigned_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, api_key_id),
    FOREIGN KEY (project_id, org_id) REFERENCES projects (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (api_key_id, org_id) REFERENCES api_keys (id, org_id) ON DELETE CASCADE
);
CREATE INDEX api_key_project_roles_key ON api_key_project_roles (api_key_id);
