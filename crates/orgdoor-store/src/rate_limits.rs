//! Rate-limit buckets shared by every instance on the store.

use async_trait::async_trait;
use orgdoor_domain::{BucketState, TakeOutcome, TokenBucket};
use time::OffsetDateTime;
use tracing::instrument;

use crate::StoreError;
use crate::rows::seconds;
use crate::sql::{Backend, Connection};

#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Takes a token from the named bucket under a lock, so the count holds across instances.
    async fn take_rate_limit_token(
        &self,
        bucket: &str,
        limits: TokenBucket,
        now: OffsetDateTime,
    ) -> Result<TakeOutcome, StoreError>;

    /// Deletes the buckets nobody has taken from since long enough to be full again (a
    /// missing bucket counts as full); returns how many went.
    async fn delete_idle_rate_limit_buckets(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

#[async_trait]
impl<B: Backend> RateLimitStore for B {
    #[instrument(level = "debug", skip(self))]
    async fn take_rate_limit_token(
        &self,
        bucket: &str,
        limits: TokenBucket,
        now: OffsetDateTime,
    ) -> Result<TakeOutcome, StoreError> {
        let bucket = bucket.to_owned();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let bucket = bucket.as_str();
                let row: Option<(i64, i64)> = tx
                    .query(&format!(
                        "SELECT tokens, period FROM rate_limit_buckets WHERE bucket = $1{}",
                        B::WriteConnection::LOCK_ROWS
                    ))
                    .bind(bucket)
                    .fetch_optional()
                    .await?;
                let state = row.map(|(tokens, period)| BucketState { tokens, period });
                let (next, outcome) = limits.take(state, now);
                // Two first requests may both find no row; the upsert then keeps the count of
                // whichever commits last, off by one at most once per bucket.
                tx.query(
                    "INSERT INTO rate_limit_buckets (bucket, tokens, period, expires_at) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (bucket) DO UPDATE SET tokens = excluded.tokens, \
                     period = excluded.period, expires_at = excluded.expires_at",
                )
                .bind(bucket)
                .bind(next.tokens)
                .bind(next.period)
                .bind(seconds(limits.full_again_after(now)))
                .execute()
                .await?;
                Ok(outcome)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn delete_idle_rate_limit_buckets(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let deleted = tx
                    .query("DELETE FROM rate_limit_buckets WHERE expires_at < $1")
                    .bind(seconds(now))
                    .execute()
                    .await?;
                Ok(deleted)
            })
        })
        .await
    }
}
