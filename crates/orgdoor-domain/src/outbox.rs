//! Messages to people (an invitation's e-mail), kept in an outbox until delivered, and the
//! tokens their links carry.
//!
//! A link token is 256 random bits, shown only in the message; what is stored to find the
//! invitation again is its SHA-256 ([`LinkTokenHash`]), so a copy of the invitations table opens
//! no invitation.

use std::fmt;

use rand::RngCore;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::{EmailAddress, InvitationId, MessageId, OrgId};

const TOKEN_BYTES: usize = 32;

/// The secret in an invitation's link. Debug output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken(String);

impl LinkToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// Reads a token from a link: exactly 64 lowercase hexadecimal digits, else `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let well_formed = text.len() == TOKEN_BYTES * 2
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What is stored in the token's place.
    pub fn hash(&self) -> LinkTokenHash {
        LinkTokenHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken(..)")
    }
}

/// The SHA-256 of a [`LinkToken`], in hexadecimal: how a link finds its invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTokenHash(String);

impl LinkTokenHash {
    /// Wraps a hash read back from storage.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a message is on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    /// Waiting to be delivered (or to be tried again). Without an SMTP server configured,
    /// messages stay here.
    Pending,
    Delivered,
    /// Given up: refused for good by the mail server, or out of attempts.
    Failed,
    /// Not sent: before it was, its invitation was cancelled, answered, sent again or expired,
    /// so its link no longer leads anywhere.
    Withdrawn,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A message as composed, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub id: MessageId,
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The link the message asks its reader to follow.
    pub accept_url: String,
}

/// What inviting someone writes besides the invitation: the hash of its link's token and the
/// message that carries the link.
#[derive(Debug, Clone)]
pub struct InvitationLetter {
    pub link: LinkTokenHash,
    pub message: NewMessage,
}

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: MessageId,
    pub org_id: OrgId,
    /// The invitation the message is about (it may since have been answered or cancelled).
    pub invitation_id: Option<InvitationId>,
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub accept_url: String,
    pub status: DeliveryStatus,
    /// Delivery attempts made so far.
    pub attempts: u32,
    pub created_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
}

/// How many times a message is tried before it is given up.
pub const MAX_DELIVERY_ATTEMPTS: u32 = 12;

/// The wait before the attempt after `attempts` failed ones: `initial` doubled each time, at
/// most `ceiling`.
pub fn retry_delay(attempts: u32, initial: Duration, ceiling: Duration) -> Duration {
    let doublings = attempts.saturating_sub(1).min(30);
    let delay = initial.saturating_mul(1_i32 << doublings);
    delay.min(ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_64_hex_digits_and_reads_back_only_in_that_form() {
        let token = LinkToken::generate();
        assert_eq!(token.as_str().len(), 64);
        assert_eq!(LinkToken::parse(token.as_str()), Some(token.clone()));
        assert_eq!(LinkToken::parse(&token.as_str().to_uppercase()), None);
        assert_eq!(LinkToken::parse(&token.as_str()[1..]), None);
        assert_eq!(LinkToken::parse(&format!("{}0", token.as_str())), None);
        assert_eq!(LinkToken::parse(&"g".repeat(64)), None);
        assert_ne!(LinkToken::generate(), token);
    }

    #[test]
    fn the_hash_is_the_sha256_of_the_token_and_debug_hides_the_token() {
        let token = LinkToken::parse(&"0".repeat(64)).expect("well formed");
        assert_eq!(
            token.hash().as_str(),
            "60e05bd1b195af2f94112fa7197a5c88289058840ce7c6df9693756bc6250f55"
        );
        assert!(!format!("{token:?}").contains("0000"));
    }

    #[test]
    fn retries_back_off_by_doubling_up_to_the_ceiling() {
        let (initial, ceiling) = (Duration::seconds(2), Duration::seconds(60));
        let delays: Vec<i64> = (1..=7)
            .map(|attempts| retry_delay(attempts, initial, ceiling).whole_seconds())
            .collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(retry_delay(u32::MAX, initial, ceiling), ceiling);
    }

    #[test]
    fn statuses_have_atlas_style_spellings() {
        assert_eq!(DeliveryStatus::Pending.as_str(), "PENDING");
        assert_eq!("DELIVERED".parse(), Ok(DeliveryStatus::Delivered));
        assert!("delivered".parse::<DeliveryStatus>().is_err());
    }
}
