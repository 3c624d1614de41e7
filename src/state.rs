//! What every handler can reach: the store, the clock and the nonce authority.

use std::sync::Arc;

use orgdoor_store::Store;

use crate::auth::digest::NonceAuthority;
use crate::auth::failures::FailureLimiter;
use crate::auth::replay::ReplayGuard;
use crate::clock::Clock;
use crate::http::rate_limits::RateLimitPolicy;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub nonces: Arc<NonceAuthority>,
    /// The `(nonce, nc)` pairs this instance has accepted, so none is accepted twice.
    pub replays: Arc<ReplayGuard>,
    /// Recent failed authentication attempts, to throttle guessing.
    pub failures: Arc<FailureLimiter>,
    pub rate_limits: RateLimitPolicy,
}
