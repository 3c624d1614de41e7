//! Rate-limit buckets, shared by every instance through the store: tokens counted down and
//! refilled per period, buckets forgotten once idle long enough to be full again, and no take
//! lost to concurrent callers.

use std::sync::Arc;

use orgdoor_domain::{TakeOutcome, TokenBucket};
use orgdoor_store::Store;
use time::Duration;

use crate::fixtures::NOW;

on_every_store!(
    buckets_count_down_refuse_and_refill_each_period,
    idle_buckets_are_forgotten_once_full_again,
    concurrent_takes_from_one_bucket_lose_none,
);

/// Two tokens, one back a minute. [`NOW`] is 23 seconds before a minute starts.
const LIMITS: TokenBucket = TokenBucket {
    capacity: 2,
    refill: 1,
    period_seconds: 60,
};

fn outcome(allowed: bool, remaining: i64, retry_after: i64) -> TakeOutcome {
    TakeOutcome {
        allowed,
        remaining,
        retry_after,
    }
}

async fn buckets_count_down_refuse_and_refill_each_period(store: Arc<dyn Store>) {
    let take = |bucket, at| store.take_rate_limit_token(bucket, LIMITS, at);
    assert_eq!(take("a", NOW).await.unwrap(), outcome(true, 1, 23));
    assert_eq!(take("a", NOW).await.unwrap(), outcome(true, 0, 23));
    let refused = take("a", NOW + Duration::seconds(10)).await.unwrap();
    assert_eq!(refused, outcome(false, 0, 13));
    // Another bucket counts on its own.
    assert_eq!(take("b", NOW).await.unwrap(), outcome(true, 1, 23));
    // The next minute brings one token back; the refusal took none.
    let next_minute = NOW + Duration::seconds(23);
    assert_eq!(take("a", next_minute).await.unwrap(), outcome(true, 0, 60));
    assert_eq!(take("a", next_minute).await.unwrap(), outcome(false, 0, 60));
}

async fn idle_buckets_are_forgotten_once_full_again(store: Arc<dyn Store>) {
    let take = |bucket, at| store.take_rate_limit_token(bucket, LIMITS, at);
    let later = NOW + Duration::minutes(5);
    take("early", NOW).await.unwrap();
    take("early", NOW).await.unwrap();
    take("late", later).await.unwrap();
    assert_eq!(store.delete_idle_rate_limit_buckets(NOW).await.unwrap(), 0);
    let early_full = LIMITS.full_again_after(NOW) + Duration::seconds(1);
    assert!(early_full < later, "the test's instants are apart");
    assert_eq!(
        store
            .delete_idle_rate_limit_buckets(early_full)
            .await
            .unwrap(),
        1,
        "only the bucket idle long enough"
    );
    // Forgotten means full: the same as the bucket would have read.
    assert_eq!(take("early", later).await.unwrap().remaining, 1);
    let late_full = LIMITS.full_again_after(later) + Duration::seconds(1);
    assert_eq!(
        store
            .delete_idle_rate_limit_buckets(late_full)
            .await
            .unwrap(),
        2
    );
}

async fn concurrent_takes_from_one_bucket_lose_none(store: Arc<dyn Store>) {
    let limits = TokenBucket {
        capacity: 100,
        refill: 1,
        period_seconds: 3600,
    };
    // The first take makes the bucket (two first takes may both find none: documented).
    store
        .take_rate_limit_token("shared", limits, NOW)
        .await
        .unwrap();
    let takes = (0..16).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.take_rate_limit_token("shared", limits, NOW).await })
    });
    for take in takes {
        assert!(take.await.unwrap().unwrap().allowed);
    }
    let last = store
        .take_rate_limit_token("shared", limits, NOW)
        .await
        .unwrap();
    assert_eq!(last.remaining, 100 - 1 - 16 - 1);
}
