//! E-mail addresses, which Atlas uses as usernames.
//!
//! The address is kept as the client wrote it (Atlas echoes it back unchanged) and compared by
//! its [`EmailAddress::key`], the lowercased form, so `Ada@Example.com` and `ada@example.com`
//! name the same invitee.

use std::fmt;
use std::str::FromStr;

/// Longest address accepted: the RFC 5321 limit for a forward path.
const MAX_LENGTH: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEmailAddress {
    #[error("the address is empty")]
    Empty,
    #[error("the address is longer than {MAX_LENGTH} characters")]
    TooLong,
    #[error("the address is not of the form local-part@domain")]
    Malformed,
}

/// A syntactically valid e-mail address with a dotted domain.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and lookups.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl PartialEq for EmailAddress {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0) || self.key() == other.key()
    }
}

impl Eq for EmailAddress {}

impl FromStr for EmailAddress {
    type Err = InvalidEmailAddress;

    fn from_str(candidate: &str) -> Result<Self, Self::Err> {
        if candidate.is_empty() {
            return Err(InvalidEmailAddress::Empty);
        }
        if candidate.len() > MAX_LENGTH {
            return Err(InvalidEmailAddress::TooLong);
        }
        // The crate accepts RFC 5322 forms such as `"quoted local"@[1.2.3.4]` and `a@b`; Atlas
        // needs a deliverable mailbox, so also require a plain dotted domain and no spaces.
        if !email_address::EmailAddress::is_valid(candidate) {
            return Err(InvalidEmailAddress::Malformed);
        }
        let Some((local, domain)) = candidate.rsplit_once('@') else {
            return Err(InvalidEmailAddress::Malformed);
        };
        let plain_domain = domain.split('.').count() >= 2
            && domain.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local.is_empty()
            || !plain_domain
            || candidate
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(InvalidEmailAddress::Malformed);
        }
        Ok(Self(candidate.to_owned()))
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidEmailAddress;

    fn try_from(candidate: String) -> Result<Self, Self::Error> {
        candidate.parse()
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> String {
        address.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_addresses_are_accepted_as_written() {
        let address: EmailAddress = "Wyatt.Smith+atlas@example.com".parse().expect("valid");
        assert_eq!(address.as_str(), "Wyatt.Smith+atlas@example.com");
        assert_eq!(address.key(), "wyatt.smith+atlas@example.com");
    }

    #[test]
    fn near_misses_are_rejected() {
        for candidate in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a b@example.com",
            "a@example..com",
            "a@@example.com",
            "\"a\\\u{0}b\"@example.com",
            "a\u{0}b@example.com",
            "ab@exam\u{7f}ple.com",
        ] {
            assert!(
                candidate.parse::<EmailAddress>().is_err(),
                "{candidate:?} was accepted"
            );
        }
    }

    #[test]
    fn case_does_not_distinguish_addresses() {
        let lower: EmailAddress = "ada@example.com".parse().expect("valid");
        let upper: EmailAddress = "ADA@Example.COM".parse().expect("valid");
        assert_eq!(lower, upper);
    }

    proptest! {
        #[test]
        fn generated_addresses_round_trip(local in "[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]", domain in "[a-z][a-z0-9-]{0,10}[a-z0-9]\\.[a-z]{2,6}") {
            let candidate = format!("{local}@{domain}");
            if !candidate.contains("..") {
                let address: EmailAddress = candidate.parse().expect("valid");
                prop_assert_eq!(address.to_string(), candidate);
            }
        }

        #[test]
        fn parsing_never_panics(candidate in "\\PC*") {
            let _ = candidate.parse::<EmailAddress>();
        }
    }
}
