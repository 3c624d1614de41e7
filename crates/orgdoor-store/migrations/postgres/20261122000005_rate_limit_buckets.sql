-- Rate-limit token buckets, shared by every instance: one row per endpoint set and scope key.
CREATE TABLE rate_limit_buckets (
    bucket TEXT PRIMARY KEY,
    tokens BIGINT NOT NULL,
    period BIGINT NOT NULL
);
