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

CREATE FUNCTION move_credential_generation() RETURNS trigger AS $$
BEGIN
    UPDATE credential_generation SET generation = generation + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Once per statement, so a bulk delete moves the counter (and locks its row) once.
CREATE TRIGGER api_keys_moves_credentials AFTER UPDATE OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();

CREATE TRIGGER api_key_access_list_moves_credentials AFTER INSERT OR UPDATE OR DELETE ON api_key_access_list
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();

CREATE TRIGGER api_key_project_roles_moves_credentials AFTER INSERT OR UPDATE OR DELETE ON api_key_project_roles
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();

CREATE TRIGGER organizations_moves_credentials AFTER UPDATE OR DELETE ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();

CREATE TRIGGER service_accounts_moves_credentials AFTER UPDATE OR DELETE ON service_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();

CREATE TRIGGER service_account_access_list_moves_credentials AFTER INSERT OR UPDATE OR DELETE ON service_account_access_list
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();

CREATE TRIGGER oauth_tokens_moves_credentials AFTER UPDATE OR DELETE ON oauth_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION move_credential_generation();
