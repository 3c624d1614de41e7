-- The secret a token was minted with: deleting the secret deletes its tokens. Tokens minted
-- before this column existed have none and live out their hour.
ALTER TABLE oauth_tokens ADD COLUMN secret_id TEXT;
CREATE INDEX oauth_tokens_secret ON oauth_tokens (secret_id);
