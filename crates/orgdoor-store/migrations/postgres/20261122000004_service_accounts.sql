-- Service accounts (OAuth 2.0 client credentials), their secrets, the access tokens issued to
-- them and their access lists. Secrets and tokens are stored only as SHA-256 digests.
CREATE TABLE service_accounts (
    client_id   TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    roles       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX service_accounts_org ON service_accounts (org_id);

CREATE TABLE service_account_secrets (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES service_accounts (client_id) ON DELETE CASCADE,
    digest     BYTEA NOT NULL,
    masked     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX service_account_secrets_client ON service_account_secrets (client_id);

-- Tokens live here, not in any process, so every instance accepts and revokes them alike.
CREATE TABLE oauth_tokens (
    digest     BYTEA PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES service_accounts (client_id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_tokens_client ON oauth_tokens (client_id, expires_at);

CREATE TABLE service_account_access_list (
    client_id  TEXT NOT NULL REFERENCES service_accounts (client_id) ON DELETE CASCADE,
    cidr       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, cidr)
);
