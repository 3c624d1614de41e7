//! Digest replay protection: each `(nonce, nc)` pair authenticates one request only.
//!
//! A nonce is accepted for [`NONCE_LIFETIME`], so a pair needs remembering only that long (plus
//! the clock skew allowed); pairs are kept in memory, per instance, in the order they were
//! first used, and forgotten after that. A captured `Authorization` header is therefore
//! refused by the instance that served it; behind a load balancer it could still be accepted
//! once by each other instance within the nonce's minute (docs/security.md). A replay gets a
//! `stale=true` challenge, so a client that resends a request after a network error
//! authenticates again at once. The memory is bounded: beyond [`MAX_REMEMBERED`] pairs the
//! oldest are forgotten early.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use super::digest::NONCE_LIFETIME;

/// Most pairs remembered at once: about 4,000 requests a second for a whole nonce lifetime, in
/// roughly 20 MiB.
pub const MAX_REMEMBERED: usize = 250_000;
/// Longest a nonce can be accepted after its first use: its lifetime and the clock skew.
const REMEMBER_SECONDS: i64 = NONCE_LIFETIME.whole_seconds() + 5;

type Pair = (Box<str>, u32);

#[derive(Default)]
pub struct ReplayGuard {
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    pairs: HashSet<Pair>,
    /// The pairs in the order they were first used, with when.
    order: VecDeque<(i64, Pair)>,
}

impl ReplayGuard {
    /// Records the pair; false if it was used before (a replay).
    pub fn first_use(&self, nonce: &str, nc: u32, now: OffsetDateTime) -> bool {
        let now = now.unix_timestamp();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        while seen
            .order
            .front()
            .is_some_and(|(used_at, _)| used_at.saturating_add(REMEMBER_SECONDS) < now)
        {
            seen.forget_oldest();
        }
        let pair: Pair = (nonce.into(), nc);
        if seen.pairs.contains(&pair) {
            return false;
        }
        while seen.pairs.len() >= MAX_REMEMBERED {
            seen.forget_oldest();
        }
        seen.pairs.insert(pair.clone());
        seen.order.push_back((now, pair));
        true
    }
}

impl Seen {
    fn forget_oldest(&mut self) {
        if let Some((_, pair)) = self.order.pop_front() {
            self.pairs.remove(&pair);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-04 02:00:00 UTC);

    #[test]
    fn each_pair_is_accepted_once_and_forgotten_after_the_nonce_lifetime() {
        let guard = ReplayGuard::default();
        assert!(guard.first_use("nonce-a", 1, NOW));
        assert!(!guard.first_use("nonce-a", 1, NOW), "the same pair again");
        assert!(guard.first_use("nonce-a", 2, NOW), "the next count");
        assert!(guard.first_use("nonce-b", 1, NOW), "another nonce");
        let later = NOW + Duration::seconds(REMEMBER_SECONDS);
        assert!(
            !guard.first_use("nonce-a", 1, later),
            "still within its lifetime"
        );
        let expired = NOW + Duration::seconds(REMEMBER_SECONDS + 1);
        assert!(
            guard.first_use("nonce-a", 1, expired),
            "forgotten once it cannot be accepted"
        );
    }

    #[test]
    fn memory_is_bounded_by_forgetting_the_oldest() {
        let guard = ReplayGuard::default();
        for nc in 0..=u32::try_from(MAX_REMEMBERED).unwrap_or(u32::MAX) {
            guard.first_use("flood", nc, NOW);
        }
        let seen = guard.seen.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(seen.pairs.len(), MAX_REMEMBERED);
        assert_eq!(seen.order.len(), MAX_REMEMBERED);
        assert!(
            !seen.pairs.contains(&("flood".into(), 0)),
            "the oldest went"
        );
    }
}
