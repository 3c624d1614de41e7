-- Teams given roles in a project (`/groups/{groupId}/teams`). The composite keys make the
-- database refuse a team of another organization and drop the grant with the team or project.
CREATE TABLE project_teams (
    project_id  TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    team_id     TEXT NOT NULL,
    roles       TEXT NOT NULL,
    assigned_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, team_id),
    FOREIGN KEY (project_id, org_id) REFERENCES projects (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (team_id, org_id) REFERENCES teams (id, org_id) ON DELETE CASCADE
);
CREATE INDEX project_teams_team ON project_teams (team_id, org_id);
