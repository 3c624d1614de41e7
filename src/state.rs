//! What every handler can reach: the store, the clock and the nonce authority.

use std::sync::Arc;

use orgdoor_store::Store;

use crate::auth::digest::NonceAuthority;
use crate::clock::Clock;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub nonces: Arc<NonceAuthority>,
}
