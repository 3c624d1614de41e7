-- The addresses each API key may be used from; an empty list allows every address.
CREATE TABLE api_key_access_list (
    api_key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    -- A network in CIDR form with host bits cleared (a single address is /32 or /128).
    cidr       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (api_key_id, cidr)
);
