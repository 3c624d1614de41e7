//! Credentials this instance has already read, kept so that a request authenticates without
//! the store, and never trusted longer than the store's word allows.
//!
//! The store keeps a credential generation that moves whenever anything that authenticates a
//! caller changes (any instance, any process: it is moved by triggers). This instance reads it
//! as [`crate::freshness`] describes: every poll and after each of its own writes, before the
//! write is answered. Held credentials are served only while the last reading is fresh, and
//! all of them are dropped when it moves: a revocation made here takes effect before it is
//! acknowledged, one made elsewhere within a poll, and an instance that cannot read the
//! generation goes back to the store for every request instead of trusting what it holds.
//!
//! A credential read from the store is kept only under the generation that was current when
//! the read began: if the generation moved meanwhile, the read may predate the change, so it
//! is used once and not kept. Unknown credentials are never kept, so guessing fills nothing.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use orgdoor_domain::PublicKey;
use orgdoor_store::{ApiKeyCredential, BearerCredential};

use crate::freshness::{Freshness, Readings};

/// How many credentials are held unless `--credential-cache-entries` says otherwise.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// The SHA-256 of a Bearer token, as the store knows it.
pub type TokenDigest = [u8; 32];

pub struct CredentialCache {
    held: RwLock<Held>,
    /// Most credentials held (keys and tokens together); 0 holds none.
    capacity: usize,
    /// When the reading of the generation now held began.
    freshness: Freshness,
    /// Asked for a reading when a credential is held but the last reading is too old.
    readings: Arc<Readings>,
}

#[derive(Default)]
struct Held {
    /// The generation the credentials were read under; `None` before the first reading.
    generation: Option<i64>,
    /// When the reading that set `generation` began, to ignore one that began earlier.
    read_at: Option<Instant>,
    api_keys: HashMap<PublicKey, Arc<ApiKeyCredential>>,
    tokens: HashMap<TokenDigest, Arc<BearerCredential>>,
}

impl Held {
    fn len(&self) -> usize {
        self.api_keys.len() + self.tokens.len()
    }
}

/// The generation a store read began under, to keep what it returns under.
#[derive(Debug, Clone, Copy)]
pub struct Lease(Option<i64>);

impl CredentialCache {
    /// Holds up to `capacity` credentials, asking `readings` for a reading when the last is
    /// too old.
    pub fn new(capacity: usize, readings: Arc<Readings>) -> Self {
        Self {
            held: RwLock::default(),
            capacity,
            freshness: Freshness::default(),
            readings,
        }
    }

    /// Whether held credentials may be used now.
    fn is_fresh(&self) -> bool {
        self.freshness.is_fresh()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        self.held.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Held> {
        self.held.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The API key, if held and still to be trusted.
    pub async fn api_key(&self, public_key: &PublicKey) -> Option<Arc<ApiKeyCredential>> {
        self.confirmed(|held| held.api_keys.get(public_key).cloned())
            .await
    }

    /// The token's credential, if held and still to be trusted.
    pub async fn token(&self, digest: &TokenDigest) -> Option<Arc<BearerCredential>> {
        self.confirmed(|held| held.tokens.get(digest).cloned())
            .await
    }

    /// What `find` finds held, while the last reading is fresh. When it is held but the last
    /// reading is too old (the follower was late: a busy core, a slow store), it asks for a
    /// reading and uses what is held if one that began after the ask recorded its generation,
    /// however long that reading took: going to the store instead would make the core busier
    /// still. If no reading comes (the follower stopped, the store hangs), everything held is
    /// dropped, so later requests go to the store without waiting.
    async fn confirmed<T>(&self, find: impl Fn(&Held) -> Option<T>) -> Option<T> {
        if self.is_fresh() {
            return find(&self.read());
        }
        find(&self.read())?;
        let asked = Instant::now();
        if !self.readings.await_reading().await {
            self.forget_all();
            return None;
        }
        let held = self.read();
        if held.read_at.is_some_and(|read_at| read_at >= asked) {
            find(&held)
        } else {
            None
        }
    }

    /// Taken before reading a credential from the store, to keep it under.
    pub fn lease(&self) -> Lease {
        Lease(self.read().generation)
    }

    /// Keeps a key read under `lease`, unless the generation moved since or the cache is full.
    pub fn keep_api_key(&self, lease: Lease, credential: Arc<ApiKeyCredential>) {
        self.keep(lease, |held| {
            held.api_keys
                .insert(credential.key.public_key.clone(), credential);
        });
    }

    /// Keeps a token's credential read under `lease`, as [`keep_api_key`](Self::keep_api_key).
    pub fn keep_token(&self, lease: Lease, digest: TokenDigest, credential: Arc<BearerCredential>) {
        self.keep(lease, |held| {
            held.tokens.insert(digest, credential);
        });
    }

    fn keep(&self, lease: Lease, insert: impl FnOnce(&mut Held)) {
        if lease.0.is_none() || self.capacity == 0 {
            return;
        }
        let mut held = self.write();
        if held.generation == lease.0 && held.len() < self.capacity {
            insert(&mut held);
        }
    }

    /// Records a reading of the generation that began at `read_at`: everything held is dropped
    /// if it moved. A reading that began before the one already recorded is older news and
    /// changes nothing.
    pub fn confirm(&self, generation: i64, read_at: Instant) {
        let mut held = self.write();
        if held.read_at.is_some_and(|recorded| read_at < recorded) {
            return;
        }
        if held.generation != Some(generation) {
            held.api_keys.clear();
            held.tokens.clear();
            held.generation = Some(generation);
        }
        held.read_at = Some(read_at);
        self.freshness.confirm(read_at);
    }

    /// Drops everything and trusts nothing until the generation is read again: for a write
    /// whose effect on credentials could not be confirmed. A reading that began before this
    /// call may predate the write, so it is ignored like any older news; otherwise it could
    /// restore the old generation and let a read made before the write be kept under it.
    pub fn forget_all(&self) {
        let mut held = self.write();
        held.api_keys.clear();
        held.tokens.clear();
        held.generation = None;
        held.read_at = Some(Instant::now());
        self.freshness.lapse();
    }

    /// Whether anything is ever held; with a capacity of 0 there is nothing to keep coherent.
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// How many credentials are held.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
