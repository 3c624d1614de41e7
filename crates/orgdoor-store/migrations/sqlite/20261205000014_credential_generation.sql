-- A counter that every change to what authenticates a caller moves: an API key, its access
-- list or project roles, a service account, its access list or tokens, an organization. Each
-- instance keeps credentials it has checked in memory and drops them all when it sees the
-- counter move; new rows move nothing, since nothing held in memory can name them, except
-- access-list entries and project roles, which narrow or widen what a held key may do.
CREATE TABLE credential_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);

INSERT INTO credential_generation (id, generation) VALUES (1, 0);

-- SQLite has row triggers only, one event each.
CREATE TRIGGER api_keys_update_moves_credentials AFTER UPDATE ON api_keys
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_keys_delete_moves_credentials AFTER DELETE ON api_keys
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_key_access_list_insert_moves_credentials AFTER INSERT ON api_key_access_list
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_key_access_list_update_moves_credentials AFTER UPDATE ON api_key_access_list
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_key_access_list_delete_moves_credentials AFTER DELETE ON api_key_access_list
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_key_project_roles_insert_moves_credentials AFTER INSERT ON api_key_project_roles
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_key_project_roles_update_moves_credentials AFTER UPDATE ON api_key_project_roles
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER api_key_project_roles_delete_moves_credentials AFTER DELETE ON api_key_project_roles
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER organizations_update_moves_credentials AFTER UPDATE ON organizations
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER organizations_delete_moves_credentials AFTER DELETE ON organizations
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER service_accounts_update_moves_credentials AFTER UPDATE ON service_accounts
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER service_accounts_delete_moves_credentials AFTER DELETE ON service_accounts
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER service_account_access_list_insert_moves_credentials AFTER INSERT ON service_account_access_list
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER service_account_access_list_update_moves_credentials AFTER UPDATE ON service_account_access_list
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER service_account_access_list_delete_moves_credentials AFTER DELETE ON service_account_access_list
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER oauth_tokens_update_moves_credentials AFTER UPDATE ON oauth_tokens
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER oauth_tokens_delete_moves_credentials AFTER DELETE ON oauth_tokens
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
END;
