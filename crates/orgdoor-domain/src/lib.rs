//! orgdoor's domain: the values and rules of Atlas organization access, free of HTTP and SQL.
//!
//! Every value that arrives from outside is parsed into one of these types before any rule runs
//! ("parse, don't validate"): an [`OrgId`] is always 24 lowercase hex digits, an [`OrgRoles`] is
//! never empty. Functions that depend on the time take `now` as an argument so that expiry can be
//! tested without sleeping. This crate must not depend on tokio, sqlx or axum.

pub mod access_list;
pub mod api_key;
pub mod email;
pub mod event;
pub mod group;
pub mod ids;
pub mod invitation;
pub mod limits;
pub mod name;
pub mod org_user;
pub mod organization;
pub mod outbox;
pub mod page;
pub mod project_invitation;
pub mod rate_limit;
pub mod role;
pub mod service_account;
pub mod team;
pub mod text;

pub use access_list::{AccessListEntry, AllowedNetwork, InvalidAccessListEntry};
pub use api_key::{
    ApiKey, DigestHa1, InvalidDescription, InvalidPublicKey, NewApiKey, ProjectGrant, PublicKey,
    check_description,
};
pub use email::{EmailAddress, InvalidEmailAddress};
pub use event::{Actor, ActorCredential, Event, EventTarget, EventType, Feed, NewEvent};
pub use group::{Group, GroupTag, GroupUpdate, InvalidGroupTag, NewGroup};
pub use ids::{
    ApiKeyId, EventId, GroupId, InvalidId, InvitationId, MessageId, OrgId, SecretId, TeamId, UserId,
};
pub use invitation::{
    GroupRoleAssignment, INVITATION_LIFETIME, Invitation, MembershipUpdate, NewInvitation,
    roles_in, with_roles_in,
};
pub use name::{InvalidName, OrgName, ProjectName, TeamName};
pub use org_user::{
    InvalidMembershipStatus, InvalidProfile, LastRole, Member, MembershipStatus, OrgUser,
    ProfileChoices, ProjectRoleChange, RoleChange, User, UserProfile,
};
pub use organization::{NewOrganization, Organization};
pub use outbox::{
    DeliveryStatus, InvitationLetter, LinkToken, LinkTokenHash, MAX_DELIVERY_ATTEMPTS, NewMessage,
    OutboxMessage, retry_delay,
};
pub use page::{Page, PageRequest};
pub use project_invitation::ProjectInvitation;
pub use rate_limit::{BucketState, TakeOutcome, TokenBucket};
pub use role::{GroupRole, GroupRoles, InvalidRole, InvalidRoles, OrgRole, OrgRoles, RoleSet};
pub use service_account::{
    ACCESS_TOKEN_LIFETIME, AccessToken, ClientId, InvalidClientId, MAX_ACTIVE_TOKENS,
    SECRET_LIFETIME_HOURS, ServiceAccount, ServiceAccountSecret,
};
pub use team::{NewTeam, Team};
pub use text::{ControlCharacter, without_control_characters};

/// Drops the sub-second part: Atlas reports every timestamp to the second, and a value must read
/// back from storage exactly as it was written.
pub fn truncate_to_seconds(instant: time::OffsetDateTime) -> time::OffsetDateTime {
    instant.replace_nanosecond(0).unwrap_or(instant)
}
