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
    created_at    BIGINT NOT NULL,
    CONSTRAINT users_username_unique UNIQUE (username_key)
);

CREATE TABLE org_members (
    org_id    TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    roles     TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE team_members (
    team_id  TEXT NOT NULL,
    org_id   TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    added_at BIGINT NOT NULL,
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
    position   BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id, project_id, role),
    FOREIGN KEY (project_id, org_id) REFERENCES projects (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES org_members (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX member_project_roles_project ON member_project_roles (project_id, org_id);

-- The pending user's id is the person's user id, shared by their invitations to several
-- organizations, so it is unique per organization only.
ALTER TABLE invitations DROP CONSTRAINT invitations_user_id_unique;
ALTER TABLE invitations ADD CONSTRAINT invitations_user_unique UNIQUE (org_id, user_id);
-- Set when the invitee declined; a declined invitation is no longer pending.
ALTER TABLE invitations ADD COLUMN declined_at BIGINT;
CREATE INDEX invitations_username ON invitations (username_key);
