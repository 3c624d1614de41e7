//! Typed identifiers. Atlas ids are 24 lowercase hex digits (a MongoDB ObjectId); each resource
//! has its own type so that an [`OrgId`] can never be passed where a [`TeamId`] belongs.

use std::cmp;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

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

/// Five random bytes chosen once per process, as in a MongoDB ObjectId.
static PROCESS_UNIQUE: LazyLock<[u8; 5]> = LazyLock::new(|| {
    let mut bytes = [0u8; 5];
    rand::rng().fill_bytes(&mut bytes);
    bytes
});

/// The per-process counter of a MongoDB ObjectId, starting at a random value.
static COUNTER: LazyLock<AtomicU32> = LazyLock::new(|| AtomicU32::new(rand::rng().next_u32()));

/// A new ObjectId: 4 bytes of seconds since the epoch, 5 bytes unique to this process and a
/// 3-byte counter. Ids made by one process in the same second therefore sort in the order they
/// were made, which is what keeps lists in creation order.
fn new_object_id(now: time::OffsetDateTime) -> String {
    let mut bytes = [0u8; 12];
    let seconds = u32::try_from(now.unix_timestamp()).unwrap_or(u32::MAX);
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    bytes[4..9].copy_from_slice(&*PROCESS_UNIQUE);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes();
    bytes[9..].copy_from_slice(&count[1..]);
    hex::encode(bytes)
}

/// What an [`ObjectId`] identifies. Each kind is an empty enum: it exists only as a type, so
/// that ids of different kinds are different types.
pub trait IdKind {
    /// The name of the id type, as [`fmt::Debug`] prints it (`OrgId("…")`).
    const TYPE_NAME: &'static str;
}

/// A 24-lowercase-hex-digit Atlas id of kind `K`. Use the aliases ([`OrgId`], [`TeamId`], …)
/// rather than this type directly. It serializes as a JSON string and refuses to deserialize
/// from a string that is not a valid id.
///
/// Ids of different kinds do not mix:
///
/// ```compile_fail
/// use orgdoor_domain::{OrgId, TeamId};
///
/// let org = OrgId::generate(time::OffsetDateTime::now_utc());
/// let team: TeamId = org;
/// ```
///
/// while the same id read as its own kind is fine:
///
/// ```
/// use orgdoor_domain::{OrgId, TeamId};
///
/// let org = OrgId::generate(time::OffsetDateTime::now_utc());
/// let same: OrgId = org.clone();
/// let team: TeamId = org.as_str().parse().expect("the same digits make a valid team id");
/// assert_eq!(same.as_str(), team.as_str());
/// ```
pub struct ObjectId<K>(String, PhantomData<fn() -> K>);

impl<K: IdKind> ObjectId<K> {
    /// A fresh id, unique with overwhelming probability.
    pub fn generate(now: time::OffsetDateTime) -> Self {
        Self::new_unchecked(new_object_id(now))
    }

    /// The id as its 24 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps `digits`, which the caller has checked (or made) to be a valid id.
    fn new_unchecked(digits: String) -> Self {
        Self(digits, PhantomData)
    }
}

impl<K: IdKind> FromStr for ObjectId<K> {
    type Err = InvalidId;

    fn from_str(candidate: &str) -> Result<Self, Self::Err> {
        check_object_id(candidate)?;
        Ok(Self::new_unchecked(candidate.to_owned()))
    }
}

impl<K: IdKind> TryFrom<String> for ObjectId<K> {
    type Error = InvalidId;

    fn try_from(candidate: String) -> Result<Self, Self::Error> {
        check_object_id(&candidate)?;
        Ok(Self::new_unchecked(candidate))
    }
}

impl<K> From<ObjectId<K>> for String {
    fn from(id: ObjectId<K>) -> String {
        id.0
    }
}

impl<K> AsRef<str> for ObjectId<K> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<K> fmt::Display for ObjectId<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<K: IdKind> fmt::Debug for ObjectId<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple(K::TYPE_NAME).field(&self.0).finish()
    }
}

// Clone, equality, ordering and hashing by hand rather than derived: a derive would demand the
// same trait of `K`, which is only a marker.

impl<K> Clone for ObjectId<K> {
    fn clone(&self) -> Self {
        Self(self.0.clone(), PhantomData)
    }
}

impl<K> PartialEq for ObjectId<K> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K> Eq for ObjectId<K> {}

impl<K> PartialOrd for ObjectId<K> {
    fn partial_cmp(&self, other: &Self) -> Option<cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for ObjectId<K> {
    fn cmp(&self, other: &Self) -> cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl<K> Hash for ObjectId<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<K> Serialize for ObjectId<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de, K: IdKind> Deserialize<'de> for ObjectId<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let candidate = String::deserialize(deserializer)?;
        Self::try_from(candidate).map_err(de::Error::custom)
    }
}

/// The kind of an [`OrgId`].
pub enum OrgKind {}
impl IdKind for OrgKind {
    const TYPE_NAME: &'static str = "OrgId";
}
/// Identifies an organization (`orgId`).
pub type OrgId = ObjectId<OrgKind>;

/// The kind of a [`GroupId`].
pub enum GroupKind {}
impl IdKind for GroupKind {
    const TYPE_NAME: &'static str = "GroupId";
}
/// Identifies a project, which Atlas calls a group (`groupId`).
pub type GroupId = ObjectId<GroupKind>;

/// The kind of a [`TeamId`].
pub enum TeamKind {}
impl IdKind for TeamKind {
    const TYPE_NAME: &'static str = "TeamId";
}
/// Identifies a team (`teamId`).
pub type TeamId = ObjectId<TeamKind>;

/// The kind of an [`InvitationId`].
pub enum InvitationKind {}
impl IdKind for InvitationKind {
    const TYPE_NAME: &'static str = "InvitationId";
}
/// Identifies an organization invitation (`invitationId`).
pub type InvitationId = ObjectId<InvitationKind>;

/// The kind of a [`UserId`].
pub enum UserKind {}
impl IdKind for UserKind {
    const TYPE_NAME: &'static str = "UserId";
}
/// Identifies a MongoDB Cloud user (`userId`); a pending invitee has one too.
pub type UserId = ObjectId<UserKind>;

/// The kind of an [`ApiKeyId`].
pub enum ApiKeyKind {}
impl IdKind for ApiKeyKind {
    const TYPE_NAME: &'static str = "ApiKeyId";
}
/// Identifies a programmatic API key (`apiUserId`).
pub type ApiKeyId = ObjectId<ApiKeyKind>;

/// The kind of a [`SecretId`].
pub enum SecretKind {}
impl IdKind for SecretKind {
    const TYPE_NAME: &'static str = "SecretId";
}
/// Identifies a service-account secret (`secretId`).
pub type SecretId = ObjectId<SecretKind>;

/// The kind of a [`MessageId`].
pub enum MessageKind {}
impl IdKind for MessageKind {
    const TYPE_NAME: &'static str = "MessageId";
}
/// Identifies a message in the outbox.
pub type MessageId = ObjectId<MessageKind>;

/// The kind of an [`EventId`].
pub enum EventKind {}
impl IdKind for EventKind {
    const TYPE_NAME: &'static str = "EventId";
}
/// Identifies an event (`eventId`).
pub type EventId = ObjectId<EventKind>;

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
    fn ids_made_in_one_second_sort_in_the_order_they_were_made() {
        let now = time::OffsetDateTime::now_utc();
        let ids: Vec<TeamId> = (0..1000).map(|_| TeamId::generate(now)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        // The 24-bit counter may wrap once inside a run; everything else must be in order.
        let out_of_order = ids.windows(2).filter(|pair| pair[0] > pair[1]).count();
        assert!(out_of_order <= 1, "{out_of_order} ids out of order");
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

    #[test]
    fn ids_serialize_as_a_json_string_and_read_back() {
        let id: ApiKeyId = "5f0000000000000000000001".parse().expect("valid id");
        let json = serde_json::to_string(&id).expect("serializes");
        assert_eq!(json, r#""5f0000000000000000000001""#);
        assert_eq!(
            serde_json::from_str::<ApiKeyId>(&json).expect("reads back"),
            id
        );
    }

    #[test]
    fn invalid_ids_are_refused_on_deserialize() {
        let error = serde_json::from_str::<SecretId>(r#""5F0000000000000000000001""#)
            .expect_err("upper-case hex is not an id");
        assert!(
            error
                .to_string()
                .contains("only the characters 0-9 and a-f"),
            "{error}"
        );
        assert!(serde_json::from_str::<SecretId>(r#""abc""#).is_err());
        assert!(serde_json::from_str::<SecretId>("5").is_err());
    }

    #[test]
    fn debug_names_the_kind_of_id() {
        let id: UserId = "5f0000000000000000000001".parse().expect("valid id");
        assert_eq!(format!("{id:?}"), r#"UserId("5f0000000000000000000001")"#);
    }

    #[test]
    fn the_kind_costs_nothing() {
        assert_eq!(size_of::<OrgId>(), size_of::<String>());
        fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<OrgId>();
    }

    /// CONTRACT §2.3, HEX24: the oracle, written as the spec writes it rather than as the
    /// parser checks it.
    static HEX24: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new("^[a-f0-9]{24}$").expect("HEX24 is a valid pattern"));

    /// 24 hex digits with at least one upper-case letter among them.
    fn upper_case_hex24() -> impl Strategy<Value = String> {
        ("[a-fA-F0-9]{24}", 0..24usize, "[A-F]").prop_map(|(digits, at, upper)| {
            let mut chars: Vec<char> = digits.chars().collect();
            chars[at] = upper.chars().next().unwrap_or('A');
            chars.into_iter().collect()
        })
    }

    /// 24 characters, all lower-case hex but one, which is not a hex digit (possibly not ASCII).
    fn one_non_hex_in_24() -> impl Strategy<Value = String> {
        ("[a-f0-9]{24}", 0..24usize, "[g-zG-Z_ .:/x\\-]|\\PC").prop_filter_map(
            "a hex digit is no near miss",
            |(digits, at, other)| {
                let other = other.chars().next()?;
                if other.is_ascii_hexdigit() {
                    return None;
                }
                let mut chars: Vec<char> = digits.chars().collect();
                chars[at] = other;
                Some(chars.into_iter().collect())
            },
        )
    }

    /// Every kind of candidate in a good share: valid ids, upper-case ids, one digit short or
    /// long, one non-hex character, and anything at all.
    fn candidates() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[a-f0-9]{24}",
            2 => upper_case_hex24(),
            1 => "[a-f0-9]{23}",
            1 => "[a-f0-9]{25}",
            1 => "[a-fA-F0-9]{0,22}|[a-fA-F0-9]{26,40}",
            2 => one_non_hex_in_24(),
            1 => "\\PC{0,30}",
        ]
    }

    proptest! {
        #[test]
        fn any_24_lowercase_hex_digits_round_trip(candidate in "[a-f0-9]{24}") {
            let id: GroupId = candidate.parse().expect("valid id");
            prop_assert_eq!(id.to_string(), candidate);
        }

        #[test]
        fn upper_case_hex_digits_are_rejected(candidate in upper_case_hex24()) {
            prop_assert_eq!(candidate.parse::<OrgId>(), Err(InvalidId::NotLowercaseHex));
        }

        #[test]
        fn one_digit_short_or_long_is_rejected(candidate in "[a-f0-9]{23}|[a-f0-9]{25}") {
            prop_assert_eq!(
                candidate.parse::<TeamId>(),
                Err(InvalidId::WrongLength(candidate.len()))
            );
        }

        #[test]
        fn a_single_non_hex_character_is_rejected(candidate in one_non_hex_in_24()) {
            prop_assert!(candidate.parse::<UserId>().is_err(), "{candidate:?} was accepted");
        }

        #[test]
        fn exactly_the_hex24_pattern_is_accepted(candidate in candidates()) {
            prop_assert_eq!(
                candidate.parse::<InvitationId>().is_ok(),
                HEX24.is_match(&candidate),
                "{:?}", candidate
            );
        }
    }
}
