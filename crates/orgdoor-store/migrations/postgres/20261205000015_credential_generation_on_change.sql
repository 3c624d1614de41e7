-- Statement triggers fire even for a statement that changed no row: every token issued (whose
-- sweep of expired tokens mostly deletes nothing) moved the generation, emptying every
-- instance's credentials and taking the counter's row lock. The counter now moves only when a
-- statement changed a row, as its transition table shows, and on TRUNCATE, which the earlier
-- triggers missed. One trigger per event: a trigger with a transition table has one event.
CREATE FUNCTION move_credential_generation_if_changed() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed_rows) THEN
        UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER api_keys_moves_credentials ON api_keys;
CREATE TRIGGER api_keys_update_moves_credentials AFTER UPDATE ON api_keys
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER api_keys_delete_moves_credentials AFTER DELETE ON api_keys
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER api_keys_truncate_moves_credentials AFTER TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();

DROP TRIGGER api_key_access_list_moves_credentials ON api_key_access_list;
CREATE TRIGGER api_key_access_list_insert_moves_credentials AFTER INSERT ON api_key_access_list
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER api_key_access_list_update_moves_credentials AFTER UPDATE ON api_key_access_list
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER api_key_access_list_delete_moves_credentials AFTER DELETE ON api_key_access_list
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER api_key_access_list_truncate_moves_credentials AFTER TRUNCATE ON api_key_access_list
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();

DROP TRIGGER api_key_project_roles_moves_credentials ON api_key_project_roles;
CREATE TRIGGER api_key_project_roles_insert_moves_credentials AFTER INSERT ON api_key_project_roles
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER api_key_project_roles_update_moves_credentials AFTER UPDATE ON api_key_project_roles
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER api_key_project_roles_delete_moves_credentials AFTER DELETE ON api_key_project_roles
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER api_key_project_roles_truncate_moves_credentials AFTER TRUNCATE ON api_key_project_roles
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();

DROP TRIGGER organizations_moves_credentials ON organizations;
CREATE TRIGGER organizations_update_moves_credentials AFTER UPDATE ON organizations
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER organizations_delete_moves_credentials AFTER DELETE ON organizations
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER organizations_truncate_moves_credentials AFTER TRUNCATE ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();

DROP TRIGGER service_accounts_moves_credentials ON service_accounts;
CREATE TRIGGER service_accounts_update_moves_credentials AFTER UPDATE ON service_accounts
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER service_accounts_delete_moves_credentials AFTER DELETE ON service_accounts
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER service_accounts_truncate_moves_credentials AFTER TRUNCATE ON service_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();

DROP TRIGGER service_account_access_list_moves_credentials ON service_account_access_list;
CREATE TRIGGER service_account_access_list_insert_moves_credentials AFTER INSERT ON service_account_access_list
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER service_account_access_list_update_moves_credentials AFTER UPDATE ON service_account_access_list
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER service_account_access_list_delete_moves_credentials AFTER DELETE ON service_account_access_list
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER service_account_access_list_truncate_moves_credentials AFTER TRUNCATE ON service_account_access_list
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();

DROP TRIGGER oauth_tokens_moves_credentials ON oauth_tokens;
CREATE TRIGGER oauth_tokens_update_moves_credentials AFTER UPDATE ON oauth_tokens
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER oauth_tokens_delete_moves_credentials AFTER DELETE ON oauth_tokens
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation_if_changed();
CREATE TRIGGER oauth_tokens_truncate_moves_credentials AFTER TRUNCATE ON oauth_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();
