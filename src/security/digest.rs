//! The server side of HTTP Digest authentication (RFC 7616, MD5, `qop=auth`), as Atlas speaks it.
//!
//! Nonces are self-validating: `base64(random ‖ issued_at ‖ HMAC-SHA256(secret, …)[..12])`,
//! 32 characters like Atlas's: 64 random bits, so that no two nonces of one second are alike,
//! and the second of issue as 32 bits (enough until 2106). Any instance that shares the secret
//! (kept in the store) can check a nonce without shared memory; a nonce older than
//! [`NONCE_LIFETIME`] is answered with `stale=true`. Only `HA1 = MD5(publicKey:realm:privateKey)`
//! is stored, and responses are compared in constant time.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use orgdoor_domain::DigestHa1;
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

/// The realm Atlas names in every challenge; it is part of every stored HA1.
pub const REALM: &str = "MMS Public API";

/// How long a nonce is accepted (Ops Manager's value; BEHAVIOR §1.3).
pub const NONCE_LIFETIME: Duration = Duration::seconds(60);

/// A nonce dated this far in the future is still accepted, for instances whose clocks differ.
const CLOCK_SKEW: Duration = Duration::seconds(5);

const RANDOM_LEN: usize = 8;
const ISSUED_AT_LEN: usize = 4;
/// What the MAC signs, and what tells nonces apart.
const PAYLOAD_LEN: usize = RANDOM_LEN + ISSUED_AT_LEN;
const MAC_LEN: usize = 12;
const NONCE_LEN: usize = PAYLOAD_LEN + MAC_LEN;

/// `MD5(username:realm:password)`, the stored form of a private key.
pub fn digest_ha1(public_key: &str, private_key: &str) -> DigestHa1 {
    let mut hasher = Md5::new();
    hasher.update(public_key.as_bytes());
    hasher.update(b":");
    hasher.update(REALM.as_bytes());
    hasher.update(b":");
    hasher.update(private_key.as_bytes());
    DigestHa1(hasher.finalize().into())
}

/// What a nonce check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    Fresh(NonceId),
    /// Genuine but too old: the client should retry with the new nonce (`stale=true`).
    Stale,
    /// Not issued by any instance sharing our secret.
    Forged,
}

/// A genuine nonce's random part and time of issue: one nonce, told apart from every other
/// without keeping its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NonceId(u128);

impl NonceId {
    fn new(payload: &[u8; PAYLOAD_LEN]) -> Self {
        let mut bits = [0u8; 16];
        bits[..PAYLOAD_LEN].copy_from_slice(payload);
        Self(u128::from_be_bytes(bits))
    }

    #[cfg(test)]
    pub(crate) const fn from_bits(bits: u128) -> Self {
        Self(bits)
    }
}

/// Issues and checks nonces with the secret shared by all instances.
#[derive(Clone)]
pub struct NonceAuthority {
    mac: Hmac<Sha256>,
}

impl NonceAuthority {
    pub fn new(secret: &[u8]) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
        Self { mac }
    }

    fn sign(&self, payload: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = self.mac.clone();
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut truncated = [0u8; MAC_LEN];
        truncated.copy_from_slice(&full[..MAC_LEN]);
        truncated
    }

    pub fn issue(&self, now: OffsetDateTime) -> String {
        let mut raw = [0u8; NONCE_LEN];
        // Random bytes first, so nonces do not all begin alike.
        rand::rng().fill_bytes(&mut raw[..RANDOM_LEN]);
        // A clock outside 1970–2106 dates the nonce to 1970: it is stale at once.
        let issued_at = u32::try_from(now.unix_timestamp()).unwrap_or(0);
        raw[RANDOM_LEN..PAYLOAD_LEN].copy_from_slice(&issued_at.to_be_bytes());
        let signature = self.sign(&raw[..PAYLOAD_LEN]);
        raw[PAYLOAD_LEN..].copy_from_slice(&signature);
        BASE64.encode(raw)
    }

    pub fn check(&self, nonce: &str, now: OffsetDateTime) -> NonceStatus {
        let mut raw = [0u8; NONCE_LEN];
        match BASE64.decode_slice(nonce, &mut raw) {
            Ok(NONCE_LEN) => {}
            _ => return NonceStatus::Forged,
        }
        let mut payload = [0u8; PAYLOAD_LEN];
        payload.copy_from_slice(&raw[..PAYLOAD_LEN]);
        if !bool::from(self.sign(&payload).ct_eq(&raw[PAYLOAD_LEN..])) {
            return NonceStatus::Forged;
        }
        let mut issued_at = [0u8; ISSUED_AT_LEN];
        issued_at.copy_from_slice(&payload[RANDOM_LEN..]);
        let Ok(issued_at) =
            OffsetDateTime::from_unix_timestamp(i64::from(u32::from_be_bytes(issued_at)))
        else {
            return NonceStatus::Forged;
        };
        if issued_at > now + CLOCK_SKEW {
            NonceStatus::Forged
        } else if now - issued_at > NONCE_LIFETIME {
            NonceStatus::Stale
        } else {
            NonceStatus::Fresh(NonceId::new(&payload))
        }
    }

    /// The `WWW-Authenticate` value, in exactly Atlas's shape: the Go client splits on `", "` and
    /// refuses any parameter it does not know.
    pub fn challenge(&self, now: OffsetDateTime, stale: bool) -> String {
        format!(
            "Digest realm=\"{REALM}\", domain=\"\", nonce=\"{}\", algorithm=MD5, qop=\"auth\", stale={stale}",
            self.issue(now)
        )
    }
}

/// Why an `Authorization: Digest` header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedDigest {
    #[error("not a Digest authorization")]
    NotDigest,
    #[error("the parameter list cannot be parsed")]
    Syntax,
    #[error("parameter {0} appears twice")]
    Duplicate(String),
    #[error("required parameter {0} is missing")]
    Missing(&'static str),
}

/// The parameters of an `Authorization: Digest` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestCredentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Option<String>,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
}

/// Reads `key=value` pairs where a value is a token or a quoted string with `\` escapes, in
/// any order, with optional white space; unknown parameters (`userhash`, …) are ignored.
pub fn parse_authorization(header: &str) -> Result<DigestCredentials, MalformedDigest> {
    let header = header.trim_start();
    let scheme_end = header
        .find(|c: char| c.is_ascii_whitespace())
        .ok_or(MalformedDigest::NotDigest)?;
    if !header[..scheme_end].eq_ignore_ascii_case("digest") {
        return Err(MalformedDigest::NotDigest);
    }
    let mut rest = &header[scheme_end..];
    let mut seen: Vec<String> = Vec::with_capacity(10);
    let mut credentials = DigestCredentials::default();
    let mut present = [false; 5];
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let name_end = rest
            .find(|c: char| c == '=' || c.is_ascii_whitespace())
            .ok_or(MalformedDigest::Syntax)?;
        let name = rest[..name_end].to_ascii_lowercase();
        if name.is_empty() {
            return Err(MalformedDigest::Syntax);
        }
        rest = rest[name_end..].trim_start();
        rest = rest
            .strip_prefix('=')
            .ok_or(MalformedDigest::Syntax)?
            .trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut unescaped = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((index, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, escaped)) => unescaped.push(escaped),
                        None => return Err(MalformedDigest::Syntax),
                    },
                    '"' => {
                        end = Some(index);
                        break;
                    }
                    other => unescaped.push(other),
                }
            }
            let end = end.ok_or(MalformedDigest::Syntax)?;
            value = unescaped;
            rest = &quoted[end + 1..];
        } else {
            let end = rest
                .find(|c: char| c == ',' || c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            value = rest[..end].to_owned();
            rest = &rest[end..];
        }
        let after = rest.trim_start();
        if !(after.is_empty() || after.starts_with(',')) {
            return Err(MalformedDigest::Syntax);
        }
        if seen.contains(&name) {
            return Err(MalformedDigest::Duplicate(name));
        }
        let slot = match name.as_str() {
            "username" => Some((0, &mut credentials.username)),
            "realm" => Some((1, &mut credentials.realm)),
            "nonce" => Some((2, &mut credentials.nonce)),
            "uri" => Some((3, &mut credentials.uri)),
            "response" => Some((4, &mut credentials.response)),
            _ => None,
        };
        match slot {
            Some((index, field)) => {
                present[index] = true;
                *field = value;
            }
            None => match name.as_str() {
                "algorithm" => credentials.algorithm = Some(value),
                "qop" => credentials.qop = Some(value),
                "nc" => credentials.nc = Some(value),
                "cnonce" => credentials.cnonce = Some(value),
                "opaque" => credentials.opaque = Some(value),
                _ => {}
            },
        }
        seen.push(name);
    }
    for (index, name) in ["username", "realm", "nonce", "uri", "response"]
        .into_iter()
        .enumerate()
    {
        if !present[index] {
            return Err(MalformedDigest::Missing(name));
        }
    }
    Ok(credentials)
}

/// Why otherwise well-formed credentials are not acceptable, before any key is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnacceptableDigest {
    WrongRealm,
    UnsupportedAlgorithm,
    UnsupportedQop,
    BadNonceCount,
    MissingClientNonce,
    UriMismatch,
}

impl DigestCredentials {
    /// The `nc` as a number; 0 for RFC 2069 responses, which have none (their nonce is then
    /// good for one request).
    pub fn nonce_count(&self) -> u32 {
        self.nc
            .as_deref()
            .and_then(|nc| u32::from_str_radix(nc, 16).ok())
            .unwrap_or(0)
    }

    /// Checks everything that does not need the key: realm, algorithm, qop, nc and that `uri`
    /// names this very request (`target` is the path and query as received).
    pub fn check_shape(&self, target: &str) -> Result<(), UnacceptableDigest> {
        if self.realm != REALM {
            return Err(UnacceptableDigest::WrongRealm);
        }
        if let Some(algorithm) = &self.algorithm
            && !algorithm.eq_ignore_ascii_case("MD5")
        {
            return Err(UnacceptableDigest::UnsupportedAlgorithm);
        }
        match self.qop.as_deref() {
            None => {}
            Some(qop) if qop.eq_ignore_ascii_case("auth") => {
                let nc = self
                    .nc
                    .as_deref()
                    .ok_or(UnacceptableDigest::BadNonceCount)?;
                let count = (nc.len() <= 8)
                    .then(|| u32::from_str_radix(nc, 16).ok())
                    .flatten()
                    .ok_or(UnacceptableDigest::BadNonceCount)?;
                if count == 0 {
                    return Err(UnacceptableDigest::BadNonceCount);
                }
                if self.cnonce.as_deref().is_none_or(str::is_empty) {
                    return Err(UnacceptableDigest::MissingClientNonce);
                }
            }
            Some(_) => return Err(UnacceptableDigest::UnsupportedQop),
        }
        if !uri_names_target(&self.uri, target) {
            return Err(UnacceptableDigest::UriMismatch);
        }
        Ok(())
    }

    /// Whether `response` is the digest of this request under `ha1`, compared in constant time.
    pub fn verify(&self, ha1: &DigestHa1, method: &str) -> bool {
        let mut ha1_hex = String::with_capacity(32);
        push_hex(&mut ha1_hex, &ha1.0);
        let ha2 = md5_hex(&[method, ":", &self.uri]);
        let expected = match (&self.qop, &self.nc, &self.cnonce) {
            (Some(qop), Some(nc), Some(cnonce)) => md5_hex(&[
                &ha1_hex,
                ":",
                &self.nonce,
                ":",
                nc,
                ":",
                cnonce,
                ":",
                qop,
                ":",
                &ha2,
            ]),
            _ => md5_hex(&[&ha1_hex, ":", &self.nonce, ":", &ha2]),
        };
        let given = self.response.to_ascii_lowercase();
        bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
    }
}

/// The `uri` directive may be the request target itself or an absolute URI with that target.
fn uri_names_target(uri: &str, target: &str) -> bool {
    if uri == target {
        return true;
    }
    uri.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|slash| &rest[slash..]))
        .is_some_and(|path| path == target)
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
}

fn md5_hex(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    let mut out = String::with_capacity(32);
    push_hex(&mut out, &hasher.finalize());
    out
}

#[cfg(test)]
mod tests;
