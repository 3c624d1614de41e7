-- An organization's users are listed a page at a time, cut by status: each status's share is
-- counted from this index alone, without reading a row.
CREATE INDEX invitations_by_status ON invitations (org_id, declined_at, expires_at);
