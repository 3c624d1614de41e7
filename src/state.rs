//! What every handler can reach: the store, the clock, the Digest and failure memories, what is
//! held from the store, and the rate-limit policy. Below everything that handles requests: it
//! names only `clock`, `config`, `control`, `freshness`, `held_views` and `security`.

use std::ops::Deref;
use std::sync::Arc;

use orgdoor_store::Store;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::{PublicUrl, RateLimitPolicy};
use crate::control::Control;
use crate::freshness::Readings;
use crate::held_views::HeldViews;
use crate::security::credential_cache::CredentialCache;
use crate::security::csrf::CsrfGuard;
use crate::security::digest::NonceAuthority;
use crate::security::failures::FailureLimiter;
use crate::security::replay::ReplayGuard;

/// What every handler can reach, behind one reference count: the state is cloned into each
/// layer and extractor of every request, so a clone must cost one atomic increment, not one
/// per part.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl AppState {
    pub fn new(shared: SharedState) -> Self {
        Self(Arc::new(shared))
    }

    /// The parts, to change before the server starts (a copy if the state is already shared).
    pub fn parts_mut(&mut self) -> &mut SharedState {
        Arc::make_mut(&mut self.0)
    }
}

impl Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

#[derive(Clone)]
pub struct SharedState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub nonces: Arc<NonceAuthority>,
    /// The `(nonce, nc)` pairs this instance has accepted, so none is accepted twice.
    pub replays: Arc<ReplayGuard>,
    /// Recent failed authentication attempts, to throttle guessing.
    pub failures: Arc<FailureLimiter>,
    /// Credentials already read, while the store says they are unchanged.
    pub credentials: Arc<CredentialCache>,
    /// Organizations' lists and pages already read and rendered, while the store says they
    /// are unchanged.
    pub views: Arc<HeldViews>,
    /// Writes waiting for a reading of the store's changes before they are answered.
    pub readings: Arc<Readings>,
    pub rate_limits: RateLimitPolicy,
    /// The base of the links in messages.
    pub public_url: PublicUrl,
    /// Told when a message is put in the outbox, so the worker delivers it at once.
    pub outbox_posted: Arc<Notify>,
    /// Signs and checks the invitee page's forms.
    pub csrf: Arc<CsrfGuard>,
    /// The control API for test suites, when a control token was given.
    pub control: Option<Arc<Control>>,
}
