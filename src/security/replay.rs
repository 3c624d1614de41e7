//! Digest replay protection: each `(nonce, nc)` pair authenticates one request only.
//!
//! A nonce is accepted for [`NONCE_LIFETIME`], so its counts need remembering only that long
//! (plus the clock skew allowed); nonces are kept in memory, per instance, in the order they
//! were first used, and forgotten after that. A captured `Authorization` header is therefore
//! refused by the instance that served it; behind a load balancer it could still be accepted
//! once by each other instance within the nonce's minute (docs/security.md). A replay gets a
//! `stale=true` challenge, so a client that resends a request after a network error
//! authenticates again at once.
//!
//! Per nonce the guard keeps the highest count used and a window of the [`WINDOW`] counts
//! below it, as IPsec's anti-replay window does: a client that reuses one nonce for every
//! request costs one entry, not one per request, and requests that overtake each other on
//! several connections are still accepted. A count further below the highest than the window
//! reaches is refused as if replayed (the client then authenticates again). A nonce is held by
//! its [`NonceId`] (its random part and second of issue), exact and without heap memory of its
//! own. The memory is bounded: beyond [`MAX_REMEMBERED`] nonces the oldest are forgotten early.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use super::digest::{NONCE_LIFETIME, NonceId};

/// Most nonces remembered at once: a client challenged on every call (one nonce per request)
/// at about 4,000 requests a second for a whole nonce lifetime. Full, the map holds 2^19
/// buckets of 49 bytes and the queue 2^18 slots of 32: about 34 MB.
pub const MAX_REMEMBERED: usize = 250_000;
/// Longest a nonce can be accepted after its first use: its lifetime and the clock skew.
const REMEMBER_SECONDS: i64 = NONCE_LIFETIME.whole_seconds() + 5;
/// How far below a nonce's highest count a count is still told apart.
pub const WINDOW: u32 = u128::BITS;

#[derive(Default)]
pub struct ReplayGuard {
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    nonces: HashMap<NonceId, Counts>,
    /// The nonces in the order they were first used, with when.
    order: VecDeque<(i64, NonceId)>,
}

/// The counts used with one nonce: the highest, and bit `i` of `below` for `highest - 1 - i`.
#[derive(Debug, Clone, Copy)]
struct Counts {
    highest: u32,
    below: u128,
}

impl Counts {
    fn first(nc: u32) -> Self {
        Self {
            highest: nc,
            below: 0,
        }
    }

    /// Records `nc`; false if it was used before, or lies below the window.
    fn first_use(&mut self, nc: u32) -> bool {
        if nc > self.highest {
            let shift = nc - self.highest;
            let previous_highest = 1u128.checked_shl(shift - 1).unwrap_or(0);
            self.below = self.below.checked_shl(shift).unwrap_or(0) | previous_highest;
            self.highest = nc;
            return true;
        }
        let distance = self.highest - nc;
        if distance == 0 || distance > WINDOW {
            return false;
        }
        let bit = 1u128 << (distance - 1);
        let unused = self.below & bit == 0;
        self.below |= bit;
        unused
    }
}

impl ReplayGuard {
    /// Records the pair; false if it was used before (a replay).
    pub fn first_use(&self, key: NonceId, nc: u32, now: OffsetDateTime) -> bool {
        let now = now.unix_timestamp();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        while seen
            .order
            .front()
            .is_some_and(|(used_at, _)| used_at.saturating_add(REMEMBER_SECONDS) < now)
        {
            seen.forget_oldest();
        }
        seen.shrink_after_a_burst();
        if let Some(counts) = seen.nonces.get_mut(&key) {
            return counts.first_use(nc);
        }
        while seen.nonces.len() >= MAX_REMEMBERED {
            seen.forget_oldest();
        }
        seen.nonces.insert(key, Counts::first(nc));
        seen.order.push_back((now, key));
        true
    }
}

/// Below this many slots the map and queue are left as they are: shrinking them would save
/// little and cost a rehash on every small swing.
const SHRINK_ABOVE: usize = 4_096;

impl Seen {
    /// Gives back the memory a burst of nonces grew the map and queue to (up to about 34 MB)
    /// once most of them are forgotten: neither shrinks by itself, so an instance would
    /// otherwise hold its highest count of nonces for the rest of its life. Halving the
    /// capacity only when a quarter is used keeps the rehashes rare.
    fn shrink_after_a_burst(&mut self) {
        let used = self.nonces.len();
        if self.nonces.capacity() > SHRINK_ABOVE && used < self.nonces.capacity() / 4 {
            self.nonces.shrink_to(used * 2);
        }
        if self.order.capacity() > SHRINK_ABOVE && self.order.len() < self.order.capacity() / 4 {
            self.order.shrink_to(self.order.len() * 2);
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((_, key)) = self.order.pop_front() {
            self.nonces.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-04 02:00:00 UTC);
    const NONCE_A: NonceId = NonceId::from_bits(1);
    const NONCE_B: NonceId = NonceId::from_bits(2);
    const SHARED: NonceId = NonceId::from_bits(3);
    const JUMPY: NonceId = NonceId::from_bits(4);
    const EDGE: NonceId = NonceId::from_bits(5);
    const SESSION: NonceId = NonceId::from_bits(6);

    fn flood(n: usize) -> NonceId {
        NonceId::from_bits(1_000 + n as u128)
    }

    #[test]
    fn each_pair_is_accepted_once_and_forgotten_after_the_nonce_lifetime() {
        let guard = ReplayGuard::default();
        assert!(guard.first_use(NONCE_A, 1, NOW));
        assert!(!guard.first_use(NONCE_A, 1, NOW), "the same pair again");
        assert!(guard.first_use(NONCE_A, 2, NOW), "the next count");
        assert!(guard.first_use(NONCE_B, 1, NOW), "another nonce");
        let later = NOW + Duration::seconds(REMEMBER_SECONDS);
        assert!(
            !guard.first_use(NONCE_A, 1, later),
            "still within its lifetime"
        );
        let expired = NOW + Duration::seconds(REMEMBER_SECONDS + 1);
        assert!(
            guard.first_use(NONCE_A, 1, expired),
            "forgotten once it cannot be accepted"
        );
    }

    #[test]
    fn counts_that_overtake_each_other_are_each_accepted_once() {
        let guard = ReplayGuard::default();
        for nc in [5, 3, 9, 4, 1, 2, 8, 6, 7] {
            assert!(guard.first_use(SHARED, nc, NOW), "first use of {nc}");
        }
        for nc in 1..=9 {
            assert!(!guard.first_use(SHARED, nc, NOW), "replay of {nc}");
        }
        assert!(guard.first_use(SHARED, 10, NOW));
    }

    #[test]
    fn the_window_reaches_its_width_below_the_highest_count() {
        let guard = ReplayGuard::default();
        let top = 1_000;
        assert!(guard.first_use(JUMPY, top, NOW));
        assert!(
            guard.first_use(JUMPY, top - WINDOW, NOW),
            "the window's edge"
        );
        assert!(!guard.first_use(JUMPY, top - WINDOW, NOW), "its replay");
        assert!(
            !guard.first_use(JUMPY, top - WINDOW - 1, NOW),
            "below the window: refused, the client authenticates again"
        );
        // A jump past the whole window forgets what was below; the old highest is refused
        // as below the new window.
        assert!(guard.first_use(JUMPY, top + 2 * WINDOW, NOW));
        assert!(!guard.first_use(JUMPY, top, NOW));
        assert!(
            guard.first_use(JUMPY, top + WINDOW, NOW),
            "inside the new window"
        );
        // A jump of exactly the window keeps the old highest as the window's last count.
        let guard = ReplayGuard::default();
        assert!(guard.first_use(EDGE, 1, NOW));
        assert!(guard.first_use(EDGE, 1 + WINDOW, NOW));
        assert!(
            !guard.first_use(EDGE, 1, NOW),
            "the old highest, at the edge"
        );
        assert!(guard.first_use(EDGE, 2, NOW), "unused, inside the window");
    }

    #[test]
    fn one_nonce_reused_for_many_requests_is_one_entry() {
        let guard = ReplayGuard::default();
        for nc in 1..=10_000 {
            assert!(guard.first_use(SESSION, nc, NOW));
        }
        let seen = guard.seen.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(seen.nonces.len(), 1);
        assert_eq!(seen.order.len(), 1);
    }

    #[test]
    fn memory_is_bounded_by_forgetting_the_oldest() {
        let guard = ReplayGuard::default();
        for n in 0..=MAX_REMEMBERED {
            assert!(guard.first_use(flood(n), 1, NOW));
        }
        {
            let seen = guard.seen.lock().unwrap_or_else(PoisonError::into_inner);
            assert_eq!(seen.nonces.len(), MAX_REMEMBERED);
            assert_eq!(seen.order.len(), MAX_REMEMBERED);
        }
        assert!(guard.first_use(flood(0), 1, NOW), "the oldest went");
        assert!(!guard.first_use(flood(2), 1, NOW), "the newer stay");
    }

    #[test]
    fn the_memory_of_a_burst_is_given_back_once_its_nonces_are_forgotten() {
        let guard = ReplayGuard::default();
        for n in 0..100_000 {
            assert!(guard.first_use(flood(n), 1, NOW));
        }
        let burst = {
            let seen = guard.seen.lock().unwrap_or_else(PoisonError::into_inner);
            (seen.nonces.capacity(), seen.order.capacity())
        };
        assert!(burst.0 >= 100_000 && burst.1 >= 100_000, "{burst:?}");
        // A minute later one request comes: the burst is forgotten, and its room given back.
        let later = NOW + Duration::seconds(REMEMBER_SECONDS + 1);
        assert!(guard.first_use(NONCE_A, 1, later));
        let seen = guard.seen.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(seen.nonces.len(), 1);
        assert!(
            seen.nonces.capacity() <= SHRINK_ABOVE,
            "{}",
            seen.nonces.capacity()
        );
        assert!(
            seen.order.capacity() <= SHRINK_ABOVE,
            "{}",
            seen.order.capacity()
        );
    }
}
