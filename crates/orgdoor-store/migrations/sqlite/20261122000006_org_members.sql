-- Members: people who accepted an invitation. A user is one person across organizations (one
-- id, one address); an organization membership carries the org roles, and through it the teams
-- and project roles. Invitations now also remember a decline.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    country       TEXT NOT NULL,
    mobile_number TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    CONSTRAINT users_username_unique UNIQUE (username_key)
);

CREATE TABLE org_members (
    org_id    TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    roles     TEXT NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE team_members (
    team_id  TEXT NOT NULL,
    org_id   TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id),
    FOREIGN KEY (team_id, org_id) REFERENCES teams (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES org_members (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX team_members_member ON team_members (org_id, user_id);

CREATE TABLE member_project_roles (
    org_id     TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    project_id TEXT NOT NULL,
    role       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id, project_id, role),
    FOREIGN KEY (project_id, org_id) REFERENCES projects (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES org_members (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX member_project_roles_project ON member_project_roles (project_id, org_id);

-- The pending user's id is the person's user id, shared by their invitations to several
-- organizations, so it is unique per organization only. SQLite cannot drop a constraint: the
-- invitation tables are rebuilt, children first so that no cascade fires.
CREATE TABLE invitations_copy AS SELECT * FROM invitations;
CREATE TABLE invitation_teams_copy AS SELECT * FROM invitation_teams;
CREATE TABLE invitation_project_roles_copy AS SELECT * FROM invitation_project_roles;
DROP TABLE invitation_teams;
DROP TABLE invitation_project_roles;
DROP TABLE invitations;

CREATE TABLE invitations (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL,
    org_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    username         TEXT NOT NULL,
    username_key     TEXT NOT NULL,
    roles            TEXT NOT NULL,
    inviter_username TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    -- Set when the invitee declined; a declined invitation is no longer pending.
    declined_at      INTEGER,
    CONSTRAINT invitations_username_unique UNIQUE (org_id, username_key),
    CONSTRAINT invitations_user_unique UNIQUE (org_id, user_id)
);
CREATE INDEX invitations_username ON invitations (username_key);

CREATE TABLE invitation_teams (
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL,
    team_id       TEXT NOT NULL,
    position      INTEGER NOT NULL,
    PRIMARY KEY (invitation_id, team_id),
    FOREIGN KEY (team_id, org_id) REFERENCES teams (id, org_id) ON DELETE CASCADE
);
CREATE INDEX invitation_teams_team ON invitation_teams (team_id, org_id);

CREATE TABLE invitation_project_roles (
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    role          TEXT NOT NULL,
    position      INTEGER NOT NULL,
    PRIMARY KEY (invitation_id, project_id, role),
    FOREIGN KEY (project_id, org_id) REFERENCES projects (id, org_id) ON DELETE CASCADE
);
CREATE INDEX invitation_project_roles_project ON invitation_project_roles (project_id, org_id);

INSERT INTO invitations
    (id, user_id, org_id, username, username_key, roles, inviter_username, created_at, expires_at)
    SELECT id, user_id, org_id, username, username_key, roles, inviter_username, created_at, expires_at
    FROM invitations_copy;
INSERT INTO invitation_teams SELECT invitation_id, org_id, team_id, position FROM invitation_teams_copy;
INSERT INTO invitation_project_roles
    SELECT invitation_id, org_id, project_id, role, position FROM invitation_project_roles_copy;
DROP TABLE invitations_copy;
DROP TABLE invitation_teams_copy;
DROP TABLE invitation_project_roles_copy;
