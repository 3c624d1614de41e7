//! How this instance knows that what it holds in memory from the store (credentials,
//! organizations' pending invitation lists) is still the store's word.
//!
//! One follower task reads what changed in the store every [`POLL_EVERY`], and as soon as a
//! write of this instance is waiting for a reading. What is held is served only while the last
//! reading is younger than [`FRESH_FOR`], so an instance that cannot read (a store that hangs,
//! a follower that stopped) goes back to the store for every request instead of trusting it. A
//! write is answered only after a reading that began after it committed ([`WriteSettling`]), so
//! what it changed is no longer served here once it is acknowledged.

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

/// Writes waiting for a reading that began after they committed, numbered in turn; one reading
/// answers every write numbered before it began, so concurrent writes share it.
pub struct WriteSettling {
    writes_numbered: AtomicU64,
    /// Wakes the follower early when a write is waiting.
    write_waiting: Notify,
    /// The highest write number that a reading (or a drop of everything) has covered.
    writes_covered: watch::Sender<u64>,
}

/// The writes a reading answers: every one numbered up to this.
#[derive(Debug, Clone, Copy)]
pub struct WritesCovered(u64);

impl Default for WriteSettling {
    fn default() -> Self {
        Self {
            writes_numbered: AtomicU64::new(0),
            write_waiting: Notify::new(),
            writes_covered: watch::Sender::new(0),
        }
    }
}

impl WriteSettling {
    /// Called by a write after it committed and before it is answered: returns `true` once a
    /// reading that began after the commit was recorded, or `false` if none came within
    /// [`AFTER_WRITE_WAIT`] (the store is slow, or no follower runs), when the caller must
    /// drop everything held instead.
    pub async fn settle_write(&self) -> bool {
        let number = self.writes_numbered.fetch_add(1, Ordering::AcqRel) + 1;
        self.write_waiting.notify_one();
        let mut covered = self.writes_covered.subscribe();
        let settled = tokio::time::timeout(
            AFTER_WRITE_WAIT,
            covered.wait_for(|covered| *covered >= number),
        )
        .await;
        matches!(settled, Ok(Ok(_)))
    }

    /// For the follower: waits for `poll` to end or for a write to be waiting, whichever comes
    /// first, and returns the writes a reading beginning now covers.
    pub async fn reading_due(&self, poll: &mut tokio::time::Interval) -> WritesCovered {
        tokio::select! {
            _ = poll.tick() => {}
            () = self.write_waiting.notified() => {}
        }
        WritesCovered(self.writes_numbered.load(Ordering::Acquire))
    }

    /// For the follower, once a reading that began when `covered` was taken has been recorded
    /// (or, if it failed, everything held was dropped): the writes it covers may be answered.
    pub fn reading_done(&self, covered: WritesCovered) {
        self.writes_covered.send_if_modified(|done| {
            let moved = covered.0 > *done;
            *done = (*done).max(covered.0);
            moved
        });
    }
}
