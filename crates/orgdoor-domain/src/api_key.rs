//! Programmatic API keys: the credentials of HTTP Digest authentication.
//!
//! The private key is shown once, when the key is made; only the Digest `HA1` value
//! (`MD5(publicKey:realm:privateKey)`) is kept, which verifies a Digest response but cannot
//! give the private key back.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use time::OffsetDateTime;

use crate::{ApiKeyId, GroupId, GroupRoles, OrgId, OrgRoles};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a public key is 8 lowercase letters")]
pub struct InvalidPublicKey;

/// How long a key's `desc` may be, in characters.
pub const DESCRIPTION_LENGTH: std::ops::RangeInclusive<usize> = 1..=250;

/// Why a key description was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDescription {
    #[error("the description is 1 to 250 characters long")]
    WrongLength,
    #[error("the description holds a control character (such as NUL, tab, CR or LF)")]
    ControlCharacter,
}

/// Checks a key's `desc`: 1 to 250 characters, none of them a control character.
pub fn check_description(desc: &str) -> Result<(), InvalidDescription> {
    if !DESCRIPTION_LENGTH.contains(&desc.chars().count()) {
        return Err(InvalidDescription::WrongLength);
    }
    crate::text::without_control_characters(desc).map_err(|_| InvalidDescription::ControlCharacter)
}

/// The public half of an API key: 8 lowercase letters, used as the Digest username.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublicKey(String);

impl PublicKey {
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        Self(
            (0..8)
                .map(|_| char::from(rng.random_range(b'a'..=b'z')))
                .collect(),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PublicKey {
    type Err = InvalidPublicKey;

    fn from_str(candidate: &str) -> Result<Self, Self::Err> {
        if candidate.len() == 8 && candidate.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(Self(candidate.to_owned()))
        } else {
            Err(InvalidPublicKey)
        }
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `MD5(username:realm:password)`, the only form in which a private key is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct DigestHa1(pub [u8; 16]);

impl fmt::Debug for DigestHa1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DigestHa1(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub public_key: PublicKey,
    pub description: String,
    pub roles: OrgRoles,
    /// Roles in projects of the key's organization (`/groups/{groupId}/apiKeys`), in the
    /// order they were granted.
    pub project_roles: Vec<ProjectGrant>,
    pub created_at: OffsetDateTime,
}

/// Roles a credential holds in one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectGrant {
    pub group_id: GroupId,
    pub roles: GroupRoles,
}

/// A key to store: its identity, roles and the Digest credential derived from the private key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub org_id: OrgId,
    pub public_key: PublicKey,
    pub ha1: DigestHa1,
    pub description: String,
    pub roles: OrgRoles,
    /// Roles in projects, for a key made for a project (`createGroupApiKey`).
    pub project_roles: Vec<ProjectGrant>,
}

impl NewApiKey {
    pub fn into_api_key(self, now: OffsetDateTime) -> (ApiKey, DigestHa1) {
        let now = crate::truncate_to_seconds(now);
        let key = ApiKey {
            id: ApiKeyId::generate(now),
            org_id: self.org_id,
            public_key: self.public_key,
            description: self.description,
            roles: self.roles,
            project_roles: self.project_roles,
            created_at: now,
        };
        (key, self.ha1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_public_keys_are_eight_lowercase_letters() {
        for _ in 0..100 {
            let key = PublicKey::generate();
            assert_eq!(key.as_str().parse::<PublicKey>(), Ok(key.clone()));
        }
    }

    #[test]
    fn descriptions_are_one_to_250_characters_without_control_characters() {
        assert_eq!(check_description("CI key"), Ok(()));
        assert_eq!(check_description(&"é".repeat(250)), Ok(()));
        assert_eq!(check_description(""), Err(InvalidDescription::WrongLength));
        assert_eq!(
            check_description(&"x".repeat(251)),
            Err(InvalidDescription::WrongLength)
        );
        for bad in ["a\u{0}", "line\r\nbreak", "\t", "a\u{7f}", "a\u{9b}"] {
            assert_eq!(
                check_description(bad),
                Err(InvalidDescription::ControlCharacter)
            );
        }
    }

    #[test]
    fn the_credential_never_prints() {
        assert_eq!(format!("{:?}", DigestHa1([7; 16])), "DigestHa1(..)");
    }
}
