//! How this instance knows that what it holds in memory from the store (credentials,
//! organizations' lists and pages) is still the store's word.
//!
//! One follower task reads what changed in the store every [`POLL_EVERY`], and as soon as a
//! request of this instance is waiting for a reading ([`Readings`]). What is held is served at
//! once while the last reading is younger than [`FRESH_FOR`]; past that, a request that finds
//! what it wants held asks for a reading and uses it only if a reading that began after the
//! ask left it held. A write is answered only after a reading that began after it committed,
//! so what it changed is no longer served here once it is acknowledged. When no reading comes
//! within [`AFTER_WRITE_WAIT`] (a store that hangs, a follower that stopped), everything held
//! is dropped and requests go to the store instead of trusting it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

/// How often the store's changes are read.
pub const POLL_EVERY: Duration = Duration::from_millis(10);
/// How old the last reading may be for what is held to be used: a few polls, so one slow
/// reading does not send every request to the store.
pub const FRESH_FOR: Duration = Duration::from_millis(40);
/// How long a write's answer waits for a reading that began after it; past this, everything
/// held is dropped instead, so the answer is never held up by a slow store for long and never
/// leaves before a change it made holds here.
pub const AFTER_WRITE_WAIT: Duration = Duration::from_secs(1);

/// When the last reading that counts began, as a lock-free check on the request path.
pub struct Freshness {
    /// Nanoseconds after `started`; 0 when nothing may be trusted.
    confirmed_at: AtomicU64,
    started: Instant,
}

impl Default for Freshness {
    fn default() -> Self {
        Self {
            confirmed_at: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

impl Freshness {
    /// Whether a reading younger than [`FRESH_FOR`] was recorded.
    pub fn is_fresh(&self) -> bool {
        let confirmed = self.confirmed_at.load(Ordering::Acquire);
        confirmed != 0
            && self
                .nanos_since_start(Instant::now())
                .saturating_sub(confirmed)
                <= FRESH_FOR.as_nanos() as u64
    }

    /// Records a reading that began at `read_at`.
    pub fn confirm(&self, read_at: Instant) {
        self.confirmed_at
            .store(self.nanos_since_start(read_at), Ordering::Release);
    }

    /// Trusts nothing until the next reading.
    pub fn lapse(&self) {
        self.confirmed_at.store(0, Ordering::Release);
    }

    fn nanos_since_start(&self, at: Instant) -> u64 {
        // At least 1, so that 0 can mean "never"; u64 nanoseconds last 584 years.
        (at.saturating_duration_since(self.started).as_nanos() as u64).max(1)
    }
}

/// Requests waiting for a reading that began after they asked, numbered in turn; one reading
/// answers every request numbered before it began, so concurrent requests share it. Writes ask
/// before they are answered; a request that finds what it wants held but the last reading too
/// old asks too, instead of going to the store because the follower was late.
pub struct Readings {
    asks_numbered: AtomicU64,
    /// Wakes the follower early when a request is waiting.
    ask_waiting: Notify,
    /// The highest number that a reading (or a drop of everything) has answered.
    asks_answered: watch::Sender<u64>,
}

/// The requests a reading answers: every one numbered up to this.
#[derive(Debug, Clone, Copy)]
pub struct AsksCovered(u64);

impl Default for Readings {
    fn default() -> Self {
        Self {
            asks_numbered: AtomicU64::new(0),
            ask_waiting: Notify::new(),
            asks_answered: watch::Sender::new(0),
        }
    }
}

impl Readings {
    /// Returns `true` once a reading that began after this call was recorded, or `false` if
    /// none came within [`AFTER_WRITE_WAIT`] (the store is slow, or no follower runs). A write
    /// calls it after it committed and before it is answered, and must drop everything held
    /// when it returns `false`.
    pub async fn await_reading(&self) -> bool {
        let number = self.asks_numbered.fetch_add(1, Ordering::AcqRel) + 1;
        self.ask_waiting.notify_one();
        let mut answered = self.asks_answered.subscribe();
        let settled = tokio::time::timeout(
            AFTER_WRITE_WAIT,
            answered.wait_for(|answered| *answered >= number),
        )
        .await;
        matches!(settled, Ok(Ok(_)))
    }

    /// For the follower: waits for `poll` to end or for a request to be waiting, whichever
    /// comes first, and returns the requests a reading beginning now covers.
    pub async fn reading_due(&self, poll: &mut tokio::time::Interval) -> AsksCovered {
        tokio::select! {
            _ = poll.tick() => {}
            () = self.ask_waiting.notified() => {}
        }
        AsksCovered(self.asks_numbered.load(Ordering::Acquire))
    }

    /// For the follower, once a reading that began when `covered` was taken has been recorded
    /// (or, if it failed, everything held was dropped): the requests it covers are answered.
    pub fn reading_done(&self, covered: AsksCovered) {
        self.asks_answered.send_if_modified(|done| {
            let moved = covered.0 > *done;
            *done = (*done).max(covered.0);
            moved
        });
    }
}
