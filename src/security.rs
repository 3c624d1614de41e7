//! The mechanics of proving and throttling credentials, free of HTTP, of requests and of the
//! store: Digest (RFC 7616) nonces, responses and stored HA1 values, the memory of used
//! `(nonce, nc)` pairs, the throttle on failed attempts, and the credentials held in memory
//! (which name the store's types but never call it).
//!
//! It sits below [`crate::state`], which holds one instance of each per process, and below
//! [`crate::auth`], which applies them to requests; `provision` uses it to make the HA1 of a
//! new key. It must not name either of them, nor `http`.

pub mod credential_cache;
pub mod csrf;
pub mod digest;
pub mod failures;
pub mod replay;
