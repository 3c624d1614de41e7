//! orgdoor's storage: the [`Store`] traits, one method per use case, and their SQL
//! implementation.
//!
//! Every method runs in one transaction, so a request never leaves a half-written record.
//! Expected refusals (a taken username, a team of another organization) come back as
//! [`StoreError::Rejected`] with a typed [`Rejection`]; the HTTP layer maps them to Atlas errors
//! without looking inside a database error. SQL lives only in this crate.
//!
//! [`Store`] combines one narrow trait per aggregate ([`OrganizationStore`],
//! [`InvitationStore`], …). Each is implemented once, in its own module, for every
//! backend (SQLite and PostgreSQL), over the statements of the crate's `tables`; the two
//! backends differ only in how they hand out connections and a few SQL fragments (`sql`).

mod access_lists;
mod api_keys;
pub mod audit;
pub mod backup;
mod control;
mod error;
mod events;
mod housekeeping;
mod invitations;
mod metrics;
mod org_users;
mod organizations;
mod outbox;
mod postgres;
mod project_users;
mod projects;
mod rate_limits;
mod rows;
mod sealing;
mod service_accounts;
mod sql;
mod sqlite;
mod tables;
mod teams;

use std::fmt;
use std::sync::Arc;

use orgdoor_domain::{
    AccessToken, AllowedNetwork, ApiKey, ApiKeyId, ClientId, DigestHa1, EmailAddress, Group,
    GroupId, GroupRoles, Invitation, InvitationId, InvitationLetter, LinkTokenHash,
    MembershipStatus, OrgRole, Organization, ProfileChoices, ServiceAccount, TeamId, UserId,
};

use crate::sql::Backend;

pub use access_lists::AccessListStore;
pub use api_keys::ApiKeyStore;
pub use control::{ChangeCursor, ChangedOrganizations, ControlState, ControlStore, StoreChanges};
pub use error::{Rejection, StoreError};
pub use events::{EventFilter, EventScope, EventStore};
pub use housekeeping::HousekeepingStore;
pub use invitations::InvitationStore;
pub use metrics::SHARED_COMMIT_WRITES;
pub use org_users::OrgUserStore;
pub use organizations::OrganizationStore;
pub use outbox::{DeliveryOutcome, OutboxDepth, OutboxStore};
pub use postgres::PostgresStore;
pub use project_users::ProjectUserStore;
pub use projects::ProjectStore;
pub use rate_limits::RateLimitStore;
pub use sealing::{InvalidSecretsKey, SECRETS_KEY_LEN, SecretsKey};
pub use service_accounts::ServiceAccountStore;
pub use sqlite::SqliteStore;
pub use teams::TeamStore;

/// What authentication needs to know about a key.
#[derive(Debug, Clone)]
pub struct ApiKeyCredential {
    pub key: ApiKey,
    pub ha1: DigestHa1,
    /// Networks the key may be used from; empty means any.
    pub access_list: Vec<AllowedNetwork>,
    /// The key's organization, read with it: most requests are about the caller's own.
    pub organization: Organization,
}

/// What a service account authenticates with.
#[derive(Debug, Clone)]
pub struct ServiceAccountCredential {
    pub account: ServiceAccount,
    /// Networks the account's tokens may be used from; empty means any.
    pub access_list: Vec<AllowedNetwork>,
}

/// What a Bearer request authenticates with: the token, its service account, and the
/// account's organization, read together (most requests are about the caller's own).
#[derive(Debug, Clone)]
pub struct BearerCredential {
    pub token: AccessToken,
    pub credential: ServiceAccountCredential,
    pub organization: Organization,
}

/// Whose access list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    ApiKey(ApiKeyId),
    ServiceAccount(ClientId),
}

/// How an invitation is named: by its id, by the invitee's address, or by the id the invitee
/// has as a pending user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvitationSelector {
    Id(InvitationId),
    Username(EmailAddress),
    UserId(UserId),
    /// The link in its message, by the token's hash.
    Link(LinkTokenHash),
}

impl fmt::Display for InvitationSelector {
    /// The id or address itself, as the client gave it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvitationSelector::Id(id) => id.fmt(f),
            InvitationSelector::Username(username) => username.fmt(f),
            InvitationSelector::UserId(id) => id.fmt(f),
            // The hash is as good as the link to whoever holds the store: never shown.
            InvitationSelector::Link(_) => f.write_str("the invitation link"),
        }
    }
}

/// What an invitation's link leads to, whatever became of the invitation since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedInvitation {
    pub organization: Organization,
    /// Possibly expired or declined; an accepted or cancelled invitation is no longer found.
    pub invitation: Invitation,
    /// The projects it offers roles in, with their names.
    pub projects: Vec<Group>,
    /// Whether the invitee has an account already (and so a profile).
    pub has_account: bool,
}

/// What inviting an address that already has a pending invitation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenPending {
    /// Renew it in place (the invitations API).
    Renew,
    /// Refuse with [`Rejection::UsernameTaken`] (the org-users API).
    Refuse,
}

/// Who is added to a project when they are neither a member nor invited yet: the invitation
/// they get, and the letter that tells them (none when nobody is to be told).
#[derive(Debug, Clone, Copy)]
pub struct Newcomer<'a> {
    pub invitation: &'a Invitation,
    pub letter: Option<&'a InvitationLetter>,
}

/// The invitee's answer to an invitation.
#[derive(Debug, Clone)]
pub enum InvitationAnswer {
    /// Join, with this profile if the person has no account yet.
    Accept(ProfileChoices),
    Decline,
}

/// Which users of an organization a list shows.
#[derive(Debug, Clone)]
pub struct OrgUserFilter {
    /// Never empty; the API defaults it to ACTIVE and PENDING.
    pub statuses: Vec<MembershipStatus>,
    pub username: Option<EmailAddress>,
    pub user_id: Option<UserId>,
    /// Only members or invitees of this team.
    pub team: Option<TeamId>,
    /// Only users of this project.
    pub project: Option<ProjectFilter>,
}

/// Who counts as a user of a project in a list: whoever holds (or is offered) a role there, and,
/// when asked, whoever is in one of `teams` (the teams with roles there) or holds one of
/// `org_roles` (the organization roles that reach every project).
#[derive(Debug, Clone)]
pub struct ProjectFilter {
    pub group: GroupId,
    pub teams: Vec<TeamId>,
    pub org_roles: Vec<OrgRole>,
}

/// How a user is added to a project by address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectAddition {
    /// The deprecated project invitation: a member is refused ([`Rejection::UsernameTaken`]);
    /// a pending invitation takes the roles and is renewed (inviter and dates from the request).
    Invitation,
    /// `addGroupUser`: a member gets the roles at once; a pending invitation takes them.
    Access,
    /// `addGroupUsers`: as [`ProjectAddition::Access`], but whoever already holds or is offered
    /// a role in the project is refused ([`Rejection::UsernameTaken`]).
    NewUser,
}

/// How a person is looked up across organizations.
#[derive(Debug, Clone)]
pub enum UserSelector {
    Id(UserId),
    Username(EmailAddress),
}

/// A team's roles in a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectTeam {
    pub team_id: TeamId,
    pub roles: GroupRoles,
}

/// Most members a team may have (Atlas's documented limit).
pub const MAX_USERS_PER_TEAM: usize = 250;

/// The persistence every request relies on: every aggregate's trait. Implementations must
/// behave identically; [`connect`] opens one.
pub trait Store:
    HousekeepingStore
    + OrganizationStore
    + ApiKeyStore
    + AccessListStore
    + ServiceAccountStore
    + RateLimitStore
    + TeamStore
    + ProjectStore
    + InvitationStore
    + OrgUserStore
    + ProjectUserStore
    + OutboxStore
    + EventStore
    + ControlStore
    + Send
    + Sync
    + 'static
{
}

// Every backend is a store; the compiler checks that it has each aggregate's trait.
impl<B: Backend> Store for B {}

/// Opens the store a database URL names (`sqlite:` or `postgres:`/`postgresql:`), applying
/// migrations, with the key that seals its secrets. Secrets stored before sealing existed are
/// sealed now; a key that does not open the store's secrets is refused
/// ([`StoreError::WrongSecretsKey`]).
pub async fn connect(
    database_url: &str,
    secrets: &SecretsKey,
) -> Result<Arc<dyn Store>, StoreError> {
    if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(database_url, secrets).await?))
    } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
        Ok(Arc::new(
            PostgresStore::connect(database_url, secrets).await?,
        ))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}
