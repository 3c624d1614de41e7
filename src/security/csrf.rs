//! Cross-site request forgery protection for the invitee's page, without server-side sessions:
//! the page sets a random cookie (`SameSite=Strict`) and puts in its form an HMAC of that
//! cookie and the link it answers, under a key every instance shares. A submission counts only
//! with both, and they must agree: another site can make a browser post the form, but can
//! neither read the cookie nor compute the HMAC.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Random bytes in a cookie.
const COOKIE_BYTES: usize = 32;

pub struct CsrfGuard {
    mac: Hmac<Sha256>,
}

impl CsrfGuard {
    /// A guard keyed with `secret` (shared by every instance on the store).
    pub fn new(secret: &[u8]) -> Self {
        // HMAC takes a key of any length.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
        Self { mac }
    }

    /// A new cookie value: 256 random bits in hexadecimal.
    pub fn new_cookie() -> String {
        let mut bytes = [0u8; COOKIE_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        hex::encode(bytes)
    }

    /// Whether `value` has a cookie's form (a client can send anything).
    pub fn is_cookie(value: &str) -> bool {
        value.len() == COOKIE_BYTES * 2 && value.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// The form token for `cookie` on the page of `scope` (the link's hash).
    pub fn form_token(&self, cookie: &str, scope: &str) -> String {
        hex::encode(self.tag(cookie, scope))
    }

    /// Whether `presented` is the form token for `cookie` and `scope`, compared in constant time.
    pub fn verify(&self, cookie: &str, scope: &str, presented: &str) -> bool {
        let Ok(presented) = hex::decode(presented) else {
            return false;
        };
        bool::from(self.tag(cookie, scope).as_slice().ct_eq(&presented))
    }

    fn tag(&self, cookie: &str, scope: &str) -> Vec<u8> {
        let mut mac = self.mac.clone();
        mac.update(cookie.as_bytes());
        // A separator no hex digit can be, so (cookie, scope) pairs never run together.
        mac.update(b"\n");
        mac.update(scope.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_only_for_its_cookie_scope_and_key() {
        let guard = CsrfGuard::new(b"one key");
        let cookie = CsrfGuard::new_cookie();
        assert!(CsrfGuard::is_cookie(&cookie));
        let token = guard.form_token(&cookie, "link-a");
        assert!(guard.verify(&cookie, "link-a", &token));
        assert!(!guard.verify(&cookie, "link-b", &token));
        assert!(!guard.verify(&CsrfGuard::new_cookie(), "link-a", &token));
        assert!(!CsrfGuard::new(b"another key").verify(&cookie, "link-a", &token));
        assert!(!guard.verify(&cookie, "link-a", ""));
        assert!(!guard.verify(&cookie, "link-a", "not hex"));
        assert!(!guard.verify(&cookie, "link-a", &token[..token.len() - 2]));
        assert_ne!(CsrfGuard::new_cookie(), cookie);
        assert!(!CsrfGuard::is_cookie("abc"));
        assert!(!CsrfGuard::is_cookie(&"z".repeat(64)));
    }
}
