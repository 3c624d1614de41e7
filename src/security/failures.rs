//! Throttling of failed authentication: password guessing against Digest keys and
//! service-account secrets, and token guessing on the invitee's page.
//!
//! Only failures are counted, so honest clients never spend anything. Each failure takes a
//! token from two buckets: one for the credential it named from that address, one for the
//! address as a whole (spraying many credentials). While either is empty, attempts from that
//! address are refused with 429 before any credential is checked, so guessing gains nothing
//! during the wait, and a client elsewhere using the same credential is not locked out. The
//! counts live in memory, per instance (docs/security.md); the number of buckets is bounded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use orgdoor_domain::{BucketState, TokenBucket};
use time::OffsetDateTime;

/// Failed attempts on one credential from one address, per minute.
pub const PER_CREDENTIAL: TokenBucket = TokenBucket {
    capacity: 20,
    refill: 20,
    period_seconds: 60,
};
/// Failed attempts on any credential from one address, per minute.
pub const PER_ADDRESS: TokenBucket = TokenBucket {
    capacity: 200,
    refill: 200,
    period_seconds: 60,
};
/// Most buckets kept; beyond, the full ones (forgettable) go first.
const MAX_BUCKETS: usize = 100_000;
/// Longest credential name kept in a key: longer ones cannot be real and are cut.
const MAX_NAME_LEN: usize = 64;

/// Which kind of credential was tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Digest,
    ClientSecret,
    /// An invitation link: unknown tokens and forged forms on the invitee's page.
    InvitationLink,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Credential {
        scheme: Scheme,
        name: Box<str>,
        peer: Option<IpAddr>,
    },
    Address {
        scheme: Scheme,
        peer: Option<IpAddr>,
    },
}

/// Seconds until attempts are taken again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: i64,
    pub limits: TokenBucket,
}

#[derive(Default)]
pub struct FailureLimiter {
    buckets: Mutex<HashMap<Key, BucketState>>,
}

impl FailureLimiter {
    /// Forgets every failure, as a reset of the store does.
    pub fn clear(&self) {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Whether an attempt on `name` from `peer` may be checked at all.
    pub fn check(
        &self,
        scheme: Scheme,
        name: &str,
        peer: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<(), Throttled> {
        let buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.is_empty() {
            return Ok(());
        }
        for (key, limits) in keys(scheme, name, peer) {
            let state = buckets.get(&key).copied();
            let (_, outcome) = limits.take(state, now);
            if !outcome.allowed {
                return Err(Throttled {
                    retry_after: outcome.retry_after,
                    limits,
                });
            }
        }
        Ok(())
    }

    /// Counts a failed attempt on `name` from `peer`.
    pub fn record_failure(
        &self,
        scheme: Scheme,
        name: &str,
        peer: Option<IpAddr>,
        now: OffsetDateTime,
    ) {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            forget_full(&mut buckets, now);
        }
        for (key, limits) in keys(scheme, name, peer) {
            let state = buckets.get(&key).copied();
            let (next, _) = limits.take(state, now);
            buckets.insert(key, next);
        }
    }
}

fn keys(scheme: Scheme, name: &str, peer: Option<IpAddr>) -> [(Key, TokenBucket); 2] {
    let mut end = name.len().min(MAX_NAME_LEN);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    [
        (
            Key::Credential {
                scheme,
                name: name[..end].into(),
                peer,
            },
            PER_CREDENTIAL,
        ),
        (Key::Address { scheme, peer }, PER_ADDRESS),
    ]
}

/// Drops buckets that have refilled (the same as none); if that frees too little, all of them:
/// throttling then restarts from zero rather than memory growing.
fn forget_full(buckets: &mut HashMap<Key, BucketState>, now: OffsetDateTime) {
    buckets.retain(|key, state| {
        let limits = match key {
            Key::Credential { .. } => PER_CREDENTIAL,
            Key::Address { .. } => PER_ADDRESS,
        };
        let (refilled, _) = limits.take(Some(*state), now);
        refilled.tokens + 1 < limits.capacity
    });
    if buckets.len() >= MAX_BUCKETS / 2 {
        tracing::warn!(
            buckets = buckets.len(),
            "too many failed-authentication buckets; forgetting them all"
        );
        buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-04 02:00:00 UTC);
    const HERE: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    const THERE: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 2, 3)));

    #[test]
    fn a_credential_is_refused_from_an_address_after_its_failures_and_nowhere_else() {
        let limiter = FailureLimiter::default();
        for _ in 0..PER_CREDENTIAL.capacity {
            assert!(limiter.check(Scheme::Digest, "abcdefgh", HERE, NOW).is_ok());
            limiter.record_failure(Scheme::Digest, "abcdefgh", HERE, NOW);
        }
        let throttled = limiter
            .check(Scheme::Digest, "abcdefgh", HERE, NOW)
            .expect_err("throttled");
        assert!((1..=60).contains(&throttled.retry_after));
        assert!(
            limiter
                .check(Scheme::Digest, "abcdefgh", THERE, NOW)
                .is_ok()
        );
        assert!(limiter.check(Scheme::Digest, "zyxwvuts", HERE, NOW).is_ok());
        assert!(
            limiter
                .check(Scheme::ClientSecret, "abcdefgh", HERE, NOW)
                .is_ok()
        );
        let later = NOW + Duration::seconds(60);
        assert!(
            limiter
                .check(Scheme::Digest, "abcdefgh", HERE, later)
                .is_ok()
        );
    }

    #[test]
    fn spraying_many_credentials_from_one_address_is_refused_too() {
        let limiter = FailureLimiter::default();
        for n in 0..PER_ADDRESS.capacity {
            limiter.record_failure(Scheme::ClientSecret, &format!("client-{n}"), HERE, NOW);
        }
        assert!(
            limiter
                .check(Scheme::ClientSecret, "never-tried", HERE, NOW)
                .is_err()
        );
        assert!(
            limiter
                .check(Scheme::ClientSecret, "never-tried", THERE, NOW)
                .is_ok()
        );
    }

    #[test]
    fn names_are_cut_and_buckets_bounded() {
        let limiter = FailureLimiter::default();
        let long = "é".repeat(1000);
        limiter.record_failure(Scheme::Digest, &long, HERE, NOW);
        let buckets = limiter
            .buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let longest = buckets
            .keys()
            .filter_map(|key| match key {
                Key::Credential { name, .. } => Some(name.len()),
                Key::Address { .. } => None,
            })
            .max();
        assert!(longest.is_some_and(|len| len <= MAX_NAME_LEN));
        drop(buckets);
        let mut many = HashMap::new();
        for n in 0..MAX_BUCKETS {
            many.insert(
                Key::Credential {
                    scheme: Scheme::Digest,
                    name: n.to_string().into(),
                    peer: HERE,
                },
                BucketState {
                    tokens: 0,
                    period: 0,
                },
            );
        }
        forget_full(&mut many, NOW);
        assert!(many.len() < MAX_BUCKETS / 2);
    }
}
