//! Service accounts: OAuth 2.0 client-credentials identities of an organization.
//!
//! A secret (`mdb_sa_sk_…`) and an access token are shown once; only their SHA-256 digests are
//! stored. Both are long random strings, so a fast hash is as good as a slow one here: there is
//! nothing to guess.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand::distr::Alphanumeric;
use time::{Duration, OffsetDateTime};

use crate::{OrgId, OrgRoles, SecretId};

const CLIENT_ID_PREFIX: &str = "mdb_sa_id_";
const SECRET_PREFIX: &str = "mdb_sa_sk_";
/// Random characters after the secret's prefix (about 238 bits).
const SECRET_RANDOM_LENGTH: usize = 40;
/// Shortest and longest secret lifetimes, in hours (Cloud Manager's limits).
pub const SECRET_LIFETIME_HOURS: std::ops::RangeInclusive<i64> = 8..=8766;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a client id is mdb_sa_id_ followed by 24 hexadecimal digits")]
pub struct InvalidClientId;

/// `mdb_sa_id_` and 24 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    pub fn generate(now: OffsetDateTime) -> Self {
        Self(format!("{CLIENT_ID_PREFIX}{}", crate::OrgId::generate(now)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ClientId {
    type Err = InvalidClientId;

    fn from_str(candidate: &str) -> Result<Self, Self::Err> {
        let hex = candidate
            .strip_prefix(CLIENT_ID_PREFIX)
            .ok_or(InvalidClientId)?;
        if hex.len() == 24 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(candidate.to_owned()))
        } else {
            Err(InvalidClientId)
        }
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub client_id: ClientId,
    pub org_id: OrgId,
    pub name: String,
    pub description: String,
    pub roles: OrgRoles,
    pub created_at: OffsetDateTime,
    /// Its secrets, oldest first.
    pub secrets: Vec<ServiceAccountSecret>,
}

/// A secret as stored: its digest and a masked form that shows the last four characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountSecret {
    pub id: SecretId,
    pub digest: [u8; 32],
    pub masked: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl ServiceAccountSecret {
    /// A new secret with the given lifetime, and its value (shown once, never stored).
    pub fn generate(now: OffsetDateTime, lifetime_hours: i64) -> (Self, String) {
        let created_at = crate::truncate_to_seconds(now);
        let random: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(SECRET_RANDOM_LENGTH)
            .map(char::from)
            .collect();
        let value = format!("{SECRET_PREFIX}{random}");
        let secret = Self {
            id: SecretId::generate(created_at),
            digest: sha256(&value),
            masked: format!("{SECRET_PREFIX}...{}", &random[SECRET_RANDOM_LENGTH - 4..]),
            created_at,
            expires_at: created_at + Duration::hours(lifetime_hours),
        };
        (secret, value)
    }

    /// A secret whose value was chosen in advance (a seed's), stored as a generated one is.
    /// `value` is the prefix and at least 4 more characters.
    pub fn with_value(value: &str, now: OffsetDateTime, lifetime_hours: i64) -> Option<Self> {
        let rest = value.strip_prefix(SECRET_PREFIX)?;
        if rest.len() < 4 || !rest.is_ascii() {
            return None;
        }
        let created_at = crate::truncate_to_seconds(now);
        Some(Self {
            id: SecretId::generate(created_at),
            digest: sha256(value),
            masked: format!("{SECRET_PREFIX}...{}", &rest[rest.len() - 4..]),
            created_at,
            expires_at: created_at + Duration::hours(lifetime_hours),
        })
    }

    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }
}

/// An issued access token as stored: its digest, whose account it is and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub digest: [u8; 32],
    pub client_id: ClientId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// How long an access token lasts: one hour, as on Atlas.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::hours(1);
/// Most tokens a service account may hold unexpired at once (Atlas's cap).
pub const MAX_ACTIVE_TOKENS: u64 = 100;

impl AccessToken {
    /// A new token for `client_id`, and its value (shown once, never stored).
    pub fn generate(client_id: ClientId, now: OffsetDateTime) -> (Self, String) {
        let created_at = crate::truncate_to_seconds(now);
        let value: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(48)
            .map(char::from)
            .collect();
        let token = Self {
            digest: sha256(&value),
            client_id,
            created_at,
            expires_at: created_at + ACCESS_TOKEN_LIFETIME,
        };
        (token, value)
    }
}

/// SHA-256 of a secret or token value: the only form in which either is stored.
pub fn sha256(value: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(value.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_values_have_atlas_shapes() {
        let now = OffsetDateTime::now_utc();
        let client = ClientId::generate(now);
        assert_eq!(client.as_str().parse::<ClientId>(), Ok(client.clone()));
        let (secret, value) = ServiceAccountSecret::generate(now, 8);
        assert!(value.starts_with("mdb_sa_sk_") && value.len() == 50);
        assert!(secret.masked.ends_with(&value[46..]));
        assert_eq!(secret.digest, sha256(&value));
        assert_eq!(secret.expires_at - secret.created_at, Duration::hours(8));
        let (token, value) = AccessToken::generate(client, now);
        assert_eq!(token.digest, sha256(&value));
        assert_eq!(token.expires_at - token.created_at, Duration::hours(1));
    }

    /// CONTRACT §2.3, CLIENTID `^mdb_sa_id_[a-fA-F\d]{24}$`: the oracle, with the spec's Java
    /// `\d` spelled out (it is ASCII there, Unicode in the regex crate).
    static CLIENT_ID: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^mdb_sa_id_[a-fA-F0-9]{24}$").expect("CLIENTID is a valid pattern")
    });

    /// Every kind of candidate in a good share: well-formed ids in any letter case, one digit
    /// short or long, a non-hex character, a wrong or missing prefix, and anything at all.
    fn candidates() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "mdb_sa_id_[a-fA-F0-9]{24}",
            1 => "mdb_sa_id_[a-fA-F0-9]{23}|mdb_sa_id_[a-fA-F0-9]{25}",
            2 => "mdb_sa_id_[a-fA-F0-9]{0,23}[g-zG-Z_ -][a-fA-F0-9]{0,23}",
            2 => "(MDB_SA_ID_|mdb_sa_sk_|mdb_sa_id|mdb_sa_id__| mdb_sa_id_|)[a-fA-F0-9]{24}",
            1 => "\\PC{0,40}",
        ]
    }

    proptest! {
        #[test]
        fn client_ids_in_any_letter_case_parse_and_keep_their_form(
            candidate in "mdb_sa_id_[a-fA-F0-9]{24}"
        ) {
            let id: ClientId = candidate.parse().expect("valid client id");
            prop_assert_eq!(id.to_string(), candidate);
        }

        #[test]
        fn client_ids_parse_only_in_their_shape(candidate in candidates()) {
            prop_assert_eq!(
                candidate.parse::<ClientId>().is_ok(),
                CLIENT_ID.is_match(&candidate),
                "{:?}", candidate
            );
        }
    }
}
