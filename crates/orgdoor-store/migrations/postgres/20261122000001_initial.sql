-- The organization-access core: organizations, their API keys, teams, projects and invitations.
-- Ids are 24-character hex text and timestamps are UTC seconds since the epoch, so both
-- dialects store and return exactly the same values. Keep in step with migrations/sqlite.

-- Values every instance must share, such as the key that signs Digest nonces.
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE organizations (
    id                           TEXT PRIMARY KEY,
    name                         TEXT NOT NULL,
    skip_default_alerts_settings BOOLEAN NOT NULL,
    created_at                   BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    public_key  TEXT NOT NULL,
    -- MD5(publicKey:realm:privateKey); the private key itself is never stored.
    digest_ha1  BYTEA NOT NULL,
    description TEXT NOT NULL,
    roles       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT api_keys_public_key_unique UNIQUE (public_key)
);
CREATE INDEX api_keys_org ON api_keys (org_id);

CREATE TABLE teams (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT teams_name_unique UNIQUE (org_id, name_key),
    CONSTRAINT teams_id_org_unique UNIQUE (id, org_id)
);

CREATE TABLE projects (
    id                           TEXT PRIMARY KEY,
    org_id                       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                         TEXT NOT NULL,
    name_key                     TEXT NOT NULL,
    with_default_alerts_settings BOOLEAN NOT NULL,
    created_at                   BIGINT NOT NULL,
    CONSTRAINT projects_name_unique UNIQUE (org_id, name_key),
    CONSTRAINT projects_id_org_unique UNIQUE (id, org_id)
);

CREATE TABLE project_tags (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    position   BIGINT NOT NULL,
    tag_key    TEXT NOT NULL,
    tag_value  TEXT NOT NULL,
    PRIMARY KEY (project_id, position)
);

CREATE TABLE invitations (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL,
    org_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    username         TEXT NOT NULL,
    username_key     TEXT NOT NULL,
    roles            TEXT NOT NULL,
    inviter_username TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    -- At most one invitation per address and organization: an expired one is replaced.
    CONSTRAINT invitations_username_unique UNIQUE (org_id, username_key),
    CONSTRAINT invitations_user_id_unique UNIQUE (user_id)
);

-- The composite foreign keys make the database itself refuse a team or project of another
-- organization, and drop the reference when the team or project is deleted.
CREATE TABLE invitation_teams (
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL,
    team_id       TEXT NOT NULL,
    position      BIGINT NOT NULL,
    PRIMARY KEY (invitation_id, team_id),
    FOREIGN KEY (team_id, org_id) REFERENCES teams (id, org_id) ON DELETE CASCADE
);
CREATE INDEX invitation_teams_team ON invitation_teams (team_id, org_id);

CREATE TABLE invitation_project_roles (
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    role          TEXT NOT NULL,
    position      BIGINT NOT NULL,
    PRIMARY KEY (invitation_id, project_id, role),
    FOREIGN KEY (project_id, org_id) REFERENCES projects (id, org_id) ON DELETE CASCADE
);
CREATE INDEX invitation_project_roles_project ON invitation_project_roles (project_id, org_id);
