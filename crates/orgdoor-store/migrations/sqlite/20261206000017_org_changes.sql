-- A record of which organizations' invitations and users changed, for the instances that keep
-- an organization's pending invitations in memory: each change gives the organization's row
-- the next sequence number, so an instance asks for the rows numbered after the last it saw and
-- forgets those organizations. One row per organization (the writer is one connection, so
-- numbers follow commit order): the table stays as small as the number of organizations and
-- needs no pruning. A reset marks every organization at once with the row '*'.
CREATE TABLE org_changes (
    org_id TEXT PRIMARY KEY,
    seq    INTEGER NOT NULL
);
CREATE INDEX org_changes_by_seq ON org_changes (seq);

-- Inserting an id here records a change to that organization: the one place that numbers it.
-- Two statements rather than an upsert: a trigger's conflict clause gives way to the
-- triggering statement's (an `INSERT OR IGNORE` would silently skip the record).
CREATE VIEW org_change_marks AS SELECT org_id FROM org_changes;

CREATE TRIGGER org_change_marks_number INSTEAD OF INSERT ON org_change_marks
BEGIN
    UPDATE org_changes SET seq = (SELECT max(seq) FROM org_changes) + 1
        WHERE org_id = NEW.org_id;
    INSERT INTO org_changes (org_id, seq)
        SELECT NEW.org_id, coalesce((SELECT max(seq) FROM org_changes), 0) + 1
        WHERE NOT EXISTS (SELECT 1 FROM org_changes WHERE org_id = NEW.org_id);
END;

CREATE TRIGGER invitations_insert_records_org_change AFTER INSERT ON invitations
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.org_id);
END;

CREATE TRIGGER invitations_update_records_org_change AFTER UPDATE ON invitations
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.org_id);
END;

CREATE TRIGGER invitations_delete_records_org_change AFTER DELETE ON invitations
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (OLD.org_id);
END;

CREATE TRIGGER invitation_teams_insert_records_org_change AFTER INSERT ON invitation_teams
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.org_id);
END;

CREATE TRIGGER invitation_teams_update_records_org_change AFTER UPDATE ON invitation_teams
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.org_id);
END;

CREATE TRIGGER invitation_teams_delete_records_org_change AFTER DELETE ON invitation_teams
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (OLD.org_id);
END;

CREATE TRIGGER invitation_project_roles_insert_records_org_change AFTER INSERT ON invitation_project_roles
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.org_id);
END;

CREATE TRIGGER invitation_project_roles_update_records_org_change AFTER UPDATE ON invitation_project_roles
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.org_id);
END;

CREATE TRIGGER invitation_project_roles_delete_records_org_change AFTER DELETE ON invitation_project_roles
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (OLD.org_id);
END;

CREATE TRIGGER org_members_insert_records_org_change AFTER INSERT ON org_members
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.org_id);
END;

CREATE TRIGGER org_members_update_records_org_change AFTER UPDATE ON org_members
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.org_id);
END;

CREATE TRIGGER org_members_delete_records_org_change AFTER DELETE ON org_members
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (OLD.org_id);
END;

CREATE TRIGGER team_members_insert_records_org_change AFTER INSERT ON team_members
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.org_id);
END;

CREATE TRIGGER team_members_update_records_org_change AFTER UPDATE ON team_members
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.org_id);
END;

CREATE TRIGGER team_members_delete_records_org_change AFTER DELETE ON team_members
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (OLD.org_id);
END;

CREATE TRIGGER member_project_roles_insert_records_org_change AFTER INSERT ON member_project_roles
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.org_id);
END;

CREATE TRIGGER member_project_roles_update_records_org_change AFTER UPDATE ON member_project_roles
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.org_id);
END;

CREATE TRIGGER member_project_roles_delete_records_org_change AFTER DELETE ON member_project_roles
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (OLD.org_id);
END;

CREATE TRIGGER organizations_insert_records_org_change AFTER INSERT ON organizations
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.id);
END;

CREATE TRIGGER organizations_update_records_org_change AFTER UPDATE ON organizations
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (NEW.id);
END;

CREATE TRIGGER organizations_delete_records_org_change AFTER DELETE ON organizations
BEGIN
    INSERT INTO org_change_marks (org_id) VALUES (OLD.id);
END;

-- A person's profile shows in every organization they belong to.
CREATE TRIGGER users_update_records_org_change AFTER UPDATE ON users
BEGIN
    INSERT INTO org_change_marks (org_id) SELECT org_id FROM org_members WHERE user_id = NEW.id;
END;
