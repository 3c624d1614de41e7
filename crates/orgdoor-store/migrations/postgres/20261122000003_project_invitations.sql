-- Invitations straight into one project (the deprecated /groups/{groupId}/invites API).
-- At most one per address and project: a second invitation renews it, an expired one is replaced.
CREATE TABLE project_invitations (
    id               TEXT PRIMARY KEY,
    project_id       TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    username         TEXT NOT NULL,
    username_key     TEXT NOT NULL,
    roles            TEXT NOT NULL,
    inviter_username TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    CONSTRAINT project_invitations_username_unique UNIQUE (project_id, username_key)
);
