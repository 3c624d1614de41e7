//! Secrets that can authenticate — Digest `HA1` values and the key that signs nonces — are
//! sealed before they are stored: XChaCha20-Poly1305 under a key kept outside the database
//! (`--secrets-key-file`), bound to the row they belong to. A copy of the store alone (a
//! backup, a stolen file, a read-only SQL account) then lets nobody log in or forge a nonce.
//!
//! Stored form: a version byte, the 24-byte random nonce, then ciphertext and tag.

use std::fmt;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::StoreError;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Length of a secrets key in bytes (64 hexadecimal digits in a key file).
pub const SECRETS_KEY_LEN: usize = 32;

/// The key that seals stored secrets. Every instance on one store needs the same one.
#[derive(Clone)]
pub struct SecretsKey([u8; SECRETS_KEY_LEN]);

impl SecretsKey {
    pub fn from_bytes(bytes: [u8; SECRETS_KEY_LEN]) -> Self {
        Self(bytes)
    }

    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRETS_KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Reads 64 hexadecimal digits (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<Self, InvalidSecretsKey> {
        let text = text.trim();
        let mut bytes = [0u8; SECRETS_KEY_LEN];
        if text.len() != SECRETS_KEY_LEN * 2 || !text.is_ascii() {
            return Err(InvalidSecretsKey);
        }
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| InvalidSecretsKey)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| InvalidSecretsKey)?;
        }
        Ok(Self(bytes))
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretsKey(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a secrets key is 64 hexadecimal digits")]
pub struct InvalidSecretsKey;

/// Seals and opens stored secrets with the store's [`SecretsKey`].
pub(crate) struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    pub(crate) fn new(key: &SecretsKey) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new((&key.0).into()),
        }
    }

    /// `plaintext` sealed for the row `context` names: it opens only with the same context.
    pub(crate) fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| StoreError::Corrupt("a secret could not be sealed".into()))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    pub(crate) fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, StoreError> {
        if !is_sealed(sealed) {
            return Err(StoreError::Corrupt("a stored secret is not sealed".into()));
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| StoreError::WrongSecretsKey)
    }
}

/// Whether stored bytes are in the sealed form (rather than a plaintext value written before
/// sealing existed, which is sealed in place when the store opens).
pub(crate) fn is_sealed(bytes: &[u8]) -> bool {
    bytes.len() > 1 + NONCE_LEN + TAG_LEN && bytes[0] == VERSION
}

/// What a sealed `HA1` is bound to: its key's public half.
pub(crate) fn ha1_context(public_key: &str) -> Vec<u8> {
    [b"api_keys.digest_ha1:".as_slice(), public_key.as_bytes()].concat()
}

/// What a sealed server secret is bound to: its name.
pub(crate) fn server_secret_context(name: &str) -> Vec<u8> {
    [b"server_secrets.value:".as_slice(), name.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let key = SecretsKey::generate();
        let sealer = Sealer::new(&key);
        let sealed = sealer.seal(b"0123456789abcdef", b"row-1").expect("sealed");
        assert!(is_sealed(&sealed));
        assert!(
            !sealed
                .windows(16)
                .any(|window| window == b"0123456789abcdef")
        );
        assert_eq!(
            sealer.open(&sealed, b"row-1").expect("opens"),
            b"0123456789abcdef"
        );
        assert!(matches!(
            sealer.open(&sealed, b"row-2"),
            Err(StoreError::WrongSecretsKey)
        ));
        let other = Sealer::new(&SecretsKey::generate());
        assert!(matches!(
            other.open(&sealed, b"row-1"),
            Err(StoreError::WrongSecretsKey)
        ));
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(sealer.open(&tampered, b"row-1").is_err());
        assert_ne!(
            sealer.seal(b"same", b"c").ok(),
            sealer.seal(b"same", b"c").ok()
        );
        assert!(!is_sealed(&[7u8; 16]), "a plaintext HA1 is not sealed");
    }

    #[test]
    fn keys_read_back_from_hex() {
        let key = SecretsKey::generate();
        let again = SecretsKey::from_hex(&format!(" {}\n", key.to_hex())).expect("hex");
        assert_eq!(again.0, key.0);
        assert!(SecretsKey::from_hex("abc").is_err());
        assert!(SecretsKey::from_hex(&"zz".repeat(32)).is_err());
        assert!(SecretsKey::from_hex(&"é".repeat(32)).is_err());
        assert_eq!(format!("{key:?}"), "SecretsKey(..)");
    }
}
