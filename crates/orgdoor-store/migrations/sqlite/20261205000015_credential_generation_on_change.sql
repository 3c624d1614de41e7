-- Nothing to change here. On PostgreSQL this migration makes the credential generation move
-- only for statements that changed a row, and on TRUNCATE; SQLite's row triggers already fire
-- only for rows changed, and SQLite has no TRUNCATE (a DELETE without WHERE runs its triggers).
SELECT 1;
