-- When a bucket, left alone, is full again and so the same as no bucket at all: idle buckets
-- past it are deleted, so buckets do not pile up. Existing rows count as expired at once.
ALTER TABLE rate_limit_buckets ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX rate_limit_buckets_expires_at ON rate_limit_buckets (expires_at);
