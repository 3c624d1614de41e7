//! The control API's state, for test suites (`serve --control-token`): the server's clock, fault
//! rules, the request journal, and what a reset restores. Off unless a token is given.
//!
//! The clock's offset and the count of resets live in the store, so every instance on it
//! follows them ([`Control::follow`]); faults and the journal are this instance's own.

pub mod faults;
pub mod journal;
pub mod pattern;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use orgdoor_store::{ControlState, Store};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::clock::OffsetClock;
use faults::FaultBook;
use journal::RequestJournal;

/// What a reset puts back after emptying the store (the seed, fixed credentials).
pub type Restore = Arc<
    dyn Fn(
            Arc<dyn Store>,
            OffsetDateTime,
        ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>
        + Send
        + Sync,
>;

/// The control API's token, kept as its SHA-256 so comparing takes the same time whatever
/// the guess.
pub struct ControlToken([u8; 32]);

impl ControlToken {
    pub fn new(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `Authorization: Bearer …` carries this token.
    pub fn admits(&self, authorization: Option<&str>) -> bool {
        let Some(candidate) = authorization.and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        }) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        digest.ct_eq(&self.0).into()
    }
}

pub struct Control {
    token: ControlToken,
    pub clock: Arc<OffsetClock>,
    pub faults: FaultBook,
    pub journal: RequestJournal,
    restore: Option<Restore>,
    /// The store's reset count this instance has caught up with.
    resets_seen: AtomicI64,
}

impl Control {
    pub fn new(token: &str, journal_capacity: usize) -> Self {
        Self {
            token: ControlToken::new(token),
            clock: Arc::new(OffsetClock::default()),
            faults: FaultBook::default(),
            journal: RequestJournal::new(journal_capacity),
            restore: None,
            resets_seen: AtomicI64::new(0),
        }
    }

    /// What a reset restores (default: nothing, an empty store).
    pub fn with_restore(mut self, restore: Restore) -> Self {
        self.restore = Some(restore);
        self
    }

    pub fn admits(&self, authorization: Option<&str>) -> bool {
        self.token.admits(authorization)
    }

    pub fn restorer(&self) -> Option<&Restore> {
        self.restore.as_ref()
    }

    /// Takes the store's control state as this instance's; true when a reset happened since
    /// the last look, so the caller forgets what it holds in memory. Faults and the journal are
    /// forgotten here.
    pub fn follow(&self, state: ControlState) -> bool {
        self.clock.set_offset_ms(state.clock_offset_ms);
        let before = self.resets_seen.swap(state.resets, Ordering::AcqRel);
        if before == state.resets {
            return false;
        }
        self.faults.clear();
        self.journal.clear();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_bearer_token_itself_is_admitted() {
        let token = ControlToken::new("s3cret-token");
        assert!(token.admits(Some("Bearer s3cret-token")));
        assert!(token.admits(Some("bearer  s3cret-token ")));
        assert!(!token.admits(Some("Bearer s3cret-tokeN")));
        assert!(!token.admits(Some("Basic s3cret-token")));
        assert!(!token.admits(Some("s3cret-token")));
        assert!(!token.admits(Some("Bearer ")));
        assert!(!token.admits(None));
    }

    #[test]
    fn following_the_store_moves_the_clock_and_forgets_on_reset() {
        let control = Control::new("t", 10);
        assert!(!control.follow(ControlState {
            clock_offset_ms: 5_000,
            resets: 0
        }));
        assert_eq!(control.clock.offset_ms(), 5_000);
        control
            .faults
            .add(faults::NewFaultRule {
                method: None,
                path: pattern::PathPattern::parse("/x").expect("a pattern"),
                credential: None,
                action: faults::FaultAction {
                    status: None,
                    delay: None,
                    drop: true,
                    retry_after_seconds: 0,
                },
                times: None,
                probability: None,
            })
            .expect("room");
        assert!(control.follow(ControlState {
            clock_offset_ms: 0,
            resets: 1
        }));
        assert!(control.faults.list().is_empty());
        assert!(!control.follow(ControlState {
            clock_offset_ms: 0,
            resets: 1
        }));
    }
}
