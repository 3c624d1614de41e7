-- Mail for invitations: the link's token (only its SHA-256; the token itself is in the message)
-- on the invitation, so the link dies with the invitation, and the outbox the message waits in
-- until it is delivered, written in the invitation's transaction.
ALTER TABLE invitations ADD COLUMN link_token_hash TEXT;
CREATE UNIQUE INDEX invitations_link_token ON invitations (link_token_hash);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- No foreign key: the message is kept after its invitation is answered or cancelled.
    invitation_id   TEXT,
    -- The link the message carries: when the invitation no longer has it (cancelled, answered,
    -- sent again), the message is withdrawn instead of sent.
    link_token_hash TEXT,
    recipient       TEXT NOT NULL,
    recipient_key   TEXT NOT NULL,
    subject         TEXT NOT NULL,
    -- The text and HTML parts and the link, sealed: they carry the link's token.
    sealed_body     BLOB NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_org ON outbox (org_id, created_at, id);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'PENDING';
