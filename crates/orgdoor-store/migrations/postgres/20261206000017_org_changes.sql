-- A record of which organizations' invitations and users changed, for the instances that keep
-- an organization's pending invitations in memory. Each changed organization gets a row stamped
-- with its transaction's id; an instance reads the rows committed since its last reading's
-- snapshot (visible in the new one, not in the old), so a transaction that commits late is
-- still seen, whatever order ids were given in. Rows are appended (an upsert per organization
-- would make concurrent writes to one organization wait on its row) and pruned once every
-- instance has had time to read them. A reset, whose TRUNCATE fires no row triggers, marks
-- every organization at once with the row '*'.
CREATE TABLE org_changes (
    txid   xid8 NOT NULL DEFAULT pg_current_xact_id(),
    org_id TEXT NOT NULL
);
CREATE INDEX org_changes_by_txid ON org_changes (txid);

CREATE FUNCTION record_org_changes() RETURNS trigger AS $$
BEGIN
    INSERT INTO org_changes (org_id) SELECT DISTINCT org_id FROM changed_rows;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION record_organization_changes() RETURNS trigger AS $$
BEGIN
    INSERT INTO org_changes (org_id) SELECT DISTINCT id FROM changed_rows;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- A person's profile shows in every organization they belong to.
CREATE FUNCTION record_user_changes() RETURNS trigger AS $$
BEGIN
    INSERT INTO org_changes (org_id)
        SELECT DISTINCT m.org_id FROM changed_rows u JOIN org_members m ON m.user_id = u.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER invitations_insert_records_org_change AFTER INSERT ON invitations
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER invitations_update_records_org_change AFTER UPDATE ON invitations
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER invitations_delete_records_org_change AFTER DELETE ON invitations
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER invitation_teams_insert_records_org_change AFTER INSERT ON invitation_teams
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER invitation_teams_update_records_org_change AFTER UPDATE ON invitation_teams
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER invitation_teams_delete_records_org_change AFTER DELETE ON invitation_teams
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER invitation_project_roles_insert_records_org_change AFTER INSERT ON invitation_project_roles
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER invitation_project_roles_update_records_org_change AFTER UPDATE ON invitation_project_roles
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER invitation_project_roles_delete_records_org_change AFTER DELETE ON invitation_project_roles
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER org_members_insert_records_org_change AFTER INSERT ON org_members
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER org_members_update_records_org_change AFTER UPDATE ON org_members
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER org_members_delete_records_org_change AFTER DELETE ON org_members
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER team_members_insert_records_org_change AFTER INSERT ON team_members
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER team_members_update_records_org_change AFTER UPDATE ON team_members
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER team_members_delete_records_org_change AFTER DELETE ON team_members
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER member_project_roles_insert_records_org_change AFTER INSERT ON member_project_roles
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER member_project_roles_update_records_org_change AFTER UPDATE ON member_project_roles
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER member_project_roles_delete_records_org_change AFTER DELETE ON member_project_roles
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_org_changes();
CREATE TRIGGER organizations_insert_records_org_change AFTER INSERT ON organizations
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_organization_changes();
CREATE TRIGGER organizations_update_records_org_change AFTER UPDATE ON organizations
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_organization_changes();
CREATE TRIGGER organizations_delete_records_org_change AFTER DELETE ON organizations
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_organization_changes();
CREATE TRIGGER users_update_records_org_change AFTER UPDATE ON users
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION record_user_changes();
