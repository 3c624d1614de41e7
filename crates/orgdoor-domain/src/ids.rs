//! Typed identifiers. Atlas ids are 24 lowercase hex digits (a MongoDB ObjectId); each resource
//! has its own type so that an [`OrgId`] can never be passed where a [`TeamId`] belongs.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;

/// Why a string is not a 24-hex-digit id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    #[error("an id has 24 characters, not {0}")]
    WrongLength(usize),
    #[error("an id holds only the characters 0-9 and a-f")]
    NotLowercaseHex,
}

/// Checks the `^([a-f0-9]{24})$` pattern every Atlas id follows.
fn check_object_id(candidate: &str) -> Result<(), InvalidId> {
    if candidate.len() != 24 {
        return Err(InvalidId::WrongLength(candidate.chars().count()));
    }
    if !candidate
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(InvalidId::NotLowercaseHex);
    }
    Ok(())
}

/// A new ObjectId-shaped value: 4 bytes of seconds since the epoch, then 8 random bytes, so ids
/// sort roughly by creation time as MongoDB's do.
fn new_object_id(now: time::OffsetDateTime) -> String {
    let mut bytes = [0u8; 12];
    let seconds = u32::try_from(now.unix_timestamp()).unwrap_or(u32::MAX);
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    rand::rng().fill_bytes(&mut bytes[4..]);
    hex::encode(bytes)
}

macro_rules! object_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A fresh id, unique with overwhelming probability.
            pub fn generate(now: time::OffsetDateTime) -> Self {
                Self(new_object_id(now))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(candidate: &str) -> Result<Self, Self::Err> {
                check_object_id(candidate)?;
                Ok(Self(candidate.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;

            fn try_from(candidate: String) -> Result<Self, Self::Error> {
                check_object_id(&candidate)?;
                Ok(Self(candidate))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

object_id!(
    /// Identifies an organization (`orgId`).
    OrgId
);
object_id!(
    /// Identifies a project, which Atlas calls a group (`groupId`).
    GroupId
);
object_id!(
    /// Identifies a team (`teamId`).
    TeamId
);
object_id!(
    /// Identifies an organization invitation (`invitationId`).
    InvitationId
);
object_id!(
    /// Identifies a MongoDB Cloud user (`userId`); a pending invitee has one too.
    UserId
);
object_id!(
    /// Identifies a programmatic API key (`apiUserId`).
    ApiKeyId
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = OrgId::generate(time::OffsetDateTime::now_utc());
        assert_eq!(id.as_str().parse::<OrgId>(), Ok(id.clone()));
    }

    #[test]
    fn uppercase_hex_is_rejected() {
        assert_eq!(
            "5F0000000000000000000001".parse::<OrgId>(),
            Err(InvalidId::NotLowercaseHex)
        );
    }

    #[test]
    fn short_ids_report_their_length() {
        assert_eq!("abc".parse::<TeamId>(), Err(InvalidId::WrongLength(3)));
    }

    proptest! {
        #[test]
        fn any_24_lowercase_hex_digits_round_trip(candidate in "[a-f0-9]{24}") {
            let id: GroupId = candidate.parse().expect("valid id");
            prop_assert_eq!(id.to_string(), candidate);
        }

        #[test]
        fn anything_else_is_rejected(candidate in "\\PC*") {
            let valid = candidate.len() == 24
                && candidate.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            prop_assert_eq!(candidate.parse::<InvitationId>().is_ok(), valid);
        }
    }
}
