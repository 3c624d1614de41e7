//! Token buckets, as Atlas limits its API (BEHAVIOR §7): each request takes a token; every
//! period `refill` tokens come back, up to `capacity`, all at once at the period's start.

use time::OffsetDateTime;

/// The limits of one endpoint set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    pub capacity: i64,
    pub refill: i64,
    pub period_seconds: i64,
}

/// A bucket's stored state: tokens left and the period they were counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketState {
    pub tokens: i64,
    pub period: i64,
}

/// What taking a token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakeOutcome {
    pub allowed: bool,
    /// Tokens left after this request (`RateLimit-Remaining`).
    pub remaining: i64,
    /// Seconds until tokens come back (`Retry-After` when refused).
    pub retry_after: i64,
}

impl TokenBucket {
    /// When a bucket last taken from at `now` is full again if nothing more is taken, so that
    /// forgetting it changes nothing: enough periods for the refills to reach capacity, plus
    /// the period under way.
    pub fn full_again_after(&self, now: OffsetDateTime) -> OffsetDateTime {
        let refill = self.refill.max(1);
        let periods = (self.capacity.max(0) + refill - 1) / refill + 1;
        let period_seconds = self.period_seconds.max(1);
        let seconds = periods.saturating_mul(period_seconds);
        now + time::Duration::seconds(seconds)
    }

    fn period_of(&self, now: OffsetDateTime) -> i64 {
        now.unix_timestamp().div_euclid(self.period_seconds.max(1))
    }

    /// Takes one token from `state` (a full bucket when there is none yet) and returns the new
    /// state with the outcome. A refused request takes nothing.
    pub fn take(
        &self,
        state: Option<BucketState>,
        now: OffsetDateTime,
    ) -> (BucketState, TakeOutcome) {
        let period = self.period_of(now);
        let tokens = match state {
            None => self.capacity,
            Some(state) => {
                let elapsed = period.saturating_sub(state.period).max(0);
                state
                    .tokens
                    .saturating_add(elapsed.saturating_mul(self.refill))
                    .min(self.capacity)
            }
        };
        let retry_after = (period + 1) * self.period_seconds.max(1) - now.unix_timestamp();
        if tokens > 0 {
            let left = tokens - 1;
            (
                BucketState {
                    tokens: left,
                    period,
                },
                TakeOutcome {
                    allowed: true,
                    remaining: left,
                    retry_after,
                },
            )
        } else {
            (
                BucketState { tokens, period },
                TakeOutcome {
                    allowed: false,
                    remaining: 0,
                    retry_after,
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const BUCKET: TokenBucket = TokenBucket {
        capacity: 3,
        refill: 2,
        period_seconds: 60,
    };
    const NOW: OffsetDateTime = datetime!(2026-11-22 12:00:10 UTC);

    #[test]
    fn a_bucket_empties_then_refuses_then_refills_stepwise() {
        let (mut state, first) = BUCKET.take(None, NOW);
        assert_eq!((first.allowed, first.remaining), (true, 2));
        for expected in [1, 0] {
            let (next, outcome) = BUCKET.take(Some(state), NOW);
            assert_eq!((outcome.allowed, outcome.remaining), (true, expected));
            state = next;
        }
        let (state, refused) = BUCKET.take(Some(state), NOW + Duration::seconds(49));
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, 1);
        let (_, refilled) = BUCKET.take(Some(state), NOW + Duration::seconds(50));
        assert_eq!(
            (refilled.allowed, refilled.remaining),
            (true, 1),
            "two tokens came back, one taken"
        );
    }

    #[test]
    fn refills_never_exceed_the_capacity() {
        let (_, outcome) = BUCKET.take(
            Some(BucketState {
                tokens: 0,
                period: 0,
            }),
            NOW,
        );
        assert_eq!(outcome.remaining, 2);
    }
}
