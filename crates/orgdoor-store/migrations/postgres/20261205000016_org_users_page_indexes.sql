-- An organization's users are listed a page at a time, cut by status: each status's share is
-- counted from this index alone, without reading a row.
CREATE INDEX invitations_by_status ON invitations (org_id, declined_at, expires_at);

-- And a page of invitees is read walking the organization's invitations in address order,
-- byte by byte (the order SQLite's unique index on the same columns already gives).
CREATE INDEX invitations_by_address ON invitations (org_id, username_key COLLATE "C");
