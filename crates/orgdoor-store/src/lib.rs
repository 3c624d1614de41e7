//! orgdoor's storage: the [`Store`] trait, one method per use case, and its SQL implementations.
//!
//! Every method runs in one transaction, so a request never leaves a half-written record.
//! Expected refusals (a taken username, a team of another organization) come back as
//! [`StoreError::Rejected`] with a typed [`Rejection`]; the HTTP layer maps them to Atlas errors
//! without looking inside a database error. SQL lives only in this crate.

mod error;
mod org_users_sql;
mod postgres;
mod rows;
mod sealing;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use orgdoor_domain::{
    AccessListEntry, AccessToken, AllowedNetwork, ApiKey, ApiKeyId, ClientId, DigestHa1,
    EmailAddress, Group, GroupId, GroupRoles, GroupUpdate, Invitation, InvitationId, Member,
    MembershipStatus, MembershipUpdate, OrgId, OrgName, OrgRole, OrgRoles, OrgUser, Organization,
    Page, PageRequest, ProfileChoices, ProjectInvitation, ProjectName, ProjectRoleChange,
    PublicKey, RoleChange, SecretId, ServiceAccount, ServiceAccountSecret, TakeOutcome, Team,
    TeamId, TeamName, TokenBucket, User, UserId,
};
use time::OffsetDateTime;

pub use error::{Rejection, StoreError};
pub use postgres::PostgresStore;
pub use sealing::{InvalidSecretsKey, SECRETS_KEY_LEN, SecretsKey};
pub use sqlite::SqliteStore;

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
#[derive(Debug, Clone)]
pub enum InvitationSelector {
    Id(InvitationId),
    Username(EmailAddress),
    UserId(UserId),
}

/// What inviting an address that already has a pending invitation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenPending {
    /// Renew it in place (the invitations API).
    Renew,
    /// Refuse with [`Rejection::UsernameTaken`] (the org-users API).
    Refuse,
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

/// The persistence every request relies on. Implementations must behave identically.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database does; used by health checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The named secret shared by every instance on this store, created with `generate` the
    /// first time it is asked for. Concurrent first calls agree on one value.
    async fn shared_secret(
        &self,
        name: &str,
        generate: &(dyn Fn() -> Vec<u8> + Send + Sync),
    ) -> Result<Vec<u8>, StoreError>;

    /// Creates the organization only if the store holds none yet, atomically across instances:
    /// of several servers starting on one empty store, exactly one gets `true`.
    async fn create_first_organization(
        &self,
        organization: &Organization,
        api_keys: &[(ApiKey, DigestHa1)],
    ) -> Result<bool, StoreError>;

    /// Creates an organization together with its first API keys and, with `owner`, that
    /// person as its first member, an Organization Owner.
    async fn create_organization(
        &self,
        organization: &Organization,
        api_keys: &[(ApiKey, DigestHa1)],
        owner: Option<&UserId>,
    ) -> Result<(), StoreError>;

    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError>;

    /// Renames an organization; [`Rejection::NotFound`] when it does not exist.
    async fn rename_organization(
        &self,
        id: &OrgId,
        name: &OrgName,
    ) -> Result<Organization, StoreError>;

    /// Deletes an organization with its keys, teams and invitations; refused with
    /// [`Rejection::OrganizationHasProjects`] while it has projects, [`Rejection::NotFound`] when
    /// it does not exist.
    async fn delete_organization(&self, id: &OrgId) -> Result<(), StoreError>;

    /// Stores a key of an existing organization ([`Rejection::OrganizationNotFound`] otherwise).
    async fn create_api_key(&self, key: &ApiKey, ha1: &DigestHa1) -> Result<(), StoreError>;

    /// The key with this public key, its Digest credential, its access list and its
    /// organization, for authentication.
    async fn find_api_key(
        &self,
        public_key: &PublicKey,
    ) -> Result<Option<ApiKeyCredential>, StoreError>;

    /// An organization's API keys, oldest first.
    async fn list_api_keys(
        &self,
        org: &OrgId,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, StoreError>;

    async fn get_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError>;

    /// Changes a key's description and/or roles ([`Rejection::NotFound`] when it is not there).
    async fn update_api_key(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
        description: Option<&str>,
        roles: Option<&OrgRoles>,
    ) -> Result<ApiKey, StoreError>;

    /// Deletes a key; it stops authenticating at once, on every instance.
    async fn delete_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<(), StoreError>;

    /// The keys with roles in a project, oldest first ([`Rejection::NotFound`] without the
    /// project).
    async fn list_project_api_keys(
        &self,
        group: &GroupId,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, StoreError>;

    /// Gives a key of the project's organization `roles` in the project, replacing any it had
    /// there; answers the key with all its roles. [`Rejection::NotFound`] without the project
    /// or without such a key in its organization.
    async fn grant_api_key_project_roles(
        &self,
        group: &GroupId,
        key: &ApiKeyId,
        roles: &GroupRoles,
        now: OffsetDateTime,
    ) -> Result<ApiKey, StoreError>;

    /// Takes a key's roles in a project away ([`Rejection::NotFound`] when it has none there).
    async fn revoke_api_key_project_roles(
        &self,
        group: &GroupId,
        key: &ApiKeyId,
    ) -> Result<(), StoreError>;

    /// A credential's access list, oldest first ([`Rejection::NotFound`] when the credential is
    /// not in `org`).
    async fn list_access_list(
        &self,
        org: &OrgId,
        credential: &Credential,
        page: PageRequest,
    ) -> Result<Page<AccessListEntry>, StoreError>;

    /// Adds networks to a credential's access list; networks already on it are kept as they are.
    async fn add_to_access_list(
        &self,
        org: &OrgId,
        credential: &Credential,
        networks: &[AllowedNetwork],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    async fn get_access_list_entry(
        &self,
        org: &OrgId,
        credential: &Credential,
        network: &AllowedNetwork,
    ) -> Result<Option<AccessListEntry>, StoreError>;

    /// Removes a network ([`Rejection::NotFound`] when the credential or the entry is not there).
    async fn remove_from_access_list(
        &self,
        org: &OrgId,
        credential: &Credential,
        network: &AllowedNetwork,
    ) -> Result<(), StoreError>;

    /// Stores a service account with the secrets it carries.
    async fn create_service_account(&self, account: &ServiceAccount) -> Result<(), StoreError>;

    /// An organization's service accounts with their secrets, oldest first.
    async fn list_service_accounts(
        &self,
        org: &OrgId,
        page: PageRequest,
    ) -> Result<Page<ServiceAccount>, StoreError>;

    async fn get_service_account(
        &self,
        org: &OrgId,
        client_id: &ClientId,
    ) -> Result<Option<ServiceAccount>, StoreError>;

    /// Changes what is given ([`Rejection::NotFound`] when the account is not in `org`).
    async fn update_service_account(
        &self,
        org: &OrgId,
        client_id: &ClientId,
        name: Option<&str>,
        description: Option<&str>,
        roles: Option<&OrgRoles>,
    ) -> Result<ServiceAccount, StoreError>;

    /// Deletes an account with its secrets, tokens and access list.
    async fn delete_service_account(
        &self,
        org: &OrgId,
        client_id: &ClientId,
    ) -> Result<(), StoreError>;

    async fn add_service_account_secret(
        &self,
        org: &OrgId,
        client_id: &ClientId,
        secret: &ServiceAccountSecret,
    ) -> Result<(), StoreError>;

    async fn delete_service_account_secret(
        &self,
        org: &OrgId,
        client_id: &ClientId,
        secret: &SecretId,
    ) -> Result<(), StoreError>;

    /// An account with its secrets and access list, for the token endpoint.
    async fn find_service_account(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<ServiceAccountCredential>, StoreError>;

    /// Stores an issued token, refusing with [`Rejection::TooManyTokens`] while the account
    /// already holds `max_active` unexpired ones (counted under a lock on the account, so the
    /// cap holds across instances). Expired tokens of the account are dropped. `secret` is
    /// the secret the token was minted with: deleting it deletes the token.
    async fn issue_access_token(
        &self,
        token: &AccessToken,
        secret: Option<&SecretId>,
        now: OffsetDateTime,
        max_active: u64,
    ) -> Result<(), StoreError>;

    /// The token with this digest, its account (without its secrets, which a Bearer request
    /// does not need) and the account's organization, for Bearer authentication.
    async fn find_access_token(
        &self,
        digest: &[u8; 32],
    ) -> Result<Option<BearerCredential>, StoreError>;

    /// Revokes a token of `client_id`; an unknown token is no error (RFC 7009).
    async fn revoke_access_token(
        &self,
        client_id: &ClientId,
        digest: &[u8; 32],
    ) -> Result<(), StoreError>;

    /// Takes a token from the named bucket under a lock, so the count holds across instances.
    async fn take_rate_limit_token(
        &self,
        bucket: &str,
        limits: TokenBucket,
        now: OffsetDateTime,
    ) -> Result<TakeOutcome, StoreError>;

    /// Deletes the buckets nobody has taken from since long enough to be full again (a
    /// missing bucket counts as full); returns how many went.
    async fn delete_idle_rate_limit_buckets(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    /// Stores a team with the members named by address; [`Rejection::TeamNameTaken`] when the
    /// organization has one of that name, [`Rejection::UserNotInOrg`] or
    /// [`Rejection::PendingUser`] when an address is not a member.
    async fn create_team(&self, team: &Team, usernames: &[EmailAddress]) -> Result<(), StoreError>;

    async fn list_teams(&self, org: &OrgId, page: PageRequest) -> Result<Page<Team>, StoreError>;

    async fn get_team(&self, org: &OrgId, id: &TeamId) -> Result<Option<Team>, StoreError>;

    /// The organization's team of that name, compared without regard to letter case (names
    /// are unique that way).
    async fn find_team_by_name(
        &self,
        org: &OrgId,
        name: &TeamName,
    ) -> Result<Option<Team>, StoreError>;

    async fn rename_team(
        &self,
        org: &OrgId,
        id: &TeamId,
        name: &TeamName,
    ) -> Result<Team, StoreError>;

    /// Deletes a team and its place in every invitation.
    async fn delete_team(&self, org: &OrgId, id: &TeamId) -> Result<(), StoreError>;

    /// Stores a project; [`Rejection::ProjectNameTaken`] when the organization has one of that name.
    /// With `owner_key`, that key (of the project's organization) becomes the project's
    /// `GROUP_OWNER` in the same transaction, as when a key creates a project on Atlas.
    async fn create_group(
        &self,
        group: &Group,
        owner_key: Option<&ApiKeyId>,
    ) -> Result<(), StoreError>;

    /// Projects of an organization, oldest first.
    async fn list_groups(&self, org: &OrgId, page: PageRequest) -> Result<Page<Group>, StoreError>;

    async fn get_group(&self, id: &GroupId) -> Result<Option<Group>, StoreError>;

    /// The organization's project of this name, ignoring case.
    async fn find_group_by_name(
        &self,
        org: &OrgId,
        name: &ProjectName,
    ) -> Result<Option<Group>, StoreError>;

    async fn update_group(&self, id: &GroupId, update: GroupUpdate) -> Result<Group, StoreError>;

    /// Deletes a project and its place in every invitation.
    async fn delete_group(&self, id: &GroupId) -> Result<(), StoreError>;

    /// Invites an address: stores `invitation`, or, while one to the same address is pending,
    /// renews that one in place (same ids; roles, teams, project roles, inviter and dates from
    /// `invitation`) or refuses, as `when_pending` says, and returns what is stored. An expired
    /// or declined invitation gives way to a new one; a member is refused
    /// ([`Rejection::UsernameTaken`]). A person invited before keeps their user id. Refuses with
    /// a team or project rejection when a referenced team or project is missing or belongs to
    /// another organization.
    async fn invite(
        &self,
        invitation: &Invitation,
        when_pending: WhenPending,
        now: OffsetDateTime,
    ) -> Result<Invitation, StoreError>;

    /// The organization's members and invitees that `filter` selects, members first, then
    /// pending, expired and declined invitees, each by address.
    async fn list_org_users(
        &self,
        org: &OrgId,
        filter: &OrgUserFilter,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> Result<Page<OrgUser>, StoreError>;

    /// A member or invitee (of any status) by user id.
    async fn get_org_user(&self, org: &OrgId, id: &UserId) -> Result<Option<OrgUser>, StoreError>;

    /// Updates a member's or pending invitee's roles, teams and project roles;
    /// [`Rejection::UserNotInOrg`] for anyone else.
    async fn update_org_user(
        &self,
        org: &OrgId,
        id: &UserId,
        update: MembershipUpdate,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError>;

    /// Adds or removes one organization role atomically; [`Rejection::LastRole`] when it is the
    /// only one.
    async fn change_org_user_role(
        &self,
        org: &OrgId,
        id: &UserId,
        change: RoleChange,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError>;

    /// Removes a member with their teams and project roles, or, unless `members_only`, an
    /// invitee of any status; [`Rejection::UserNotInOrg`] when there is neither.
    async fn remove_org_user(
        &self,
        org: &OrgId,
        id: &UserId,
        members_only: bool,
    ) -> Result<(), StoreError>;

    /// Records the invitee's answer to a pending invitation. Accepting makes them a member with
    /// the invited roles, teams and project roles (creating their account with `profile` if they
    /// have none) and ends the invitation; declining keeps it as declined.
    /// [`Rejection::InvitationNotFound`] when none is pending, [`Rejection::InvitationExpired`]
    /// when it has expired.
    async fn answer_invitation(
        &self,
        org: &OrgId,
        selector: &InvitationSelector,
        answer: InvitationAnswer,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError>;

    /// Puts members into a team, all or none: [`Rejection::PendingUser`],
    /// [`Rejection::UserNotInOrg`], [`Rejection::AlreadyInTeam`], [`Rejection::TeamFull`].
    async fn add_team_members(
        &self,
        org: &OrgId,
        team: &TeamId,
        users: &[UserId],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Puts a member or pending invitee into a team (`join`), or takes them out, and returns
    /// them: an invitee's team is kept on the invitation and applied on acceptance.
    /// [`Rejection::NotFound`] for a team not in `org`, [`Rejection::UserNotInOrg`] for anyone
    /// else or a user not in the team being left, [`Rejection::AlreadyInTeam`] on a second join.
    async fn change_team_membership(
        &self,
        org: &OrgId,
        team: &TeamId,
        user: &UserId,
        join: bool,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError>;

    /// Takes a member out of a team ([`Rejection::UserNotInOrg`] when they are not in it).
    async fn remove_team_member(
        &self,
        org: &OrgId,
        team: &TeamId,
        user: &UserId,
    ) -> Result<(), StoreError>;

    /// The teams with roles in a project, in the order they were first given one.
    async fn list_project_teams(&self, group: &GroupId) -> Result<Vec<ProjectTeam>, StoreError>;

    /// Gives each team its roles in the project (replacing roles a team already has), all or
    /// none; [`Rejection::TeamNotFound`] or [`Rejection::TeamNotInOrg`] for a team that is not
    /// in the project's organization.
    async fn assign_project_teams(
        &self,
        group: &GroupId,
        teams: &[ProjectTeam],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Takes a team off a project ([`Rejection::NotFound`] when it has no role there).
    async fn remove_project_team(&self, group: &GroupId, team: &TeamId) -> Result<(), StoreError>;

    /// Adds the person with `newcomer`'s address to a project of `newcomer`'s organization with
    /// `roles` there, replacing roles they had in it, and returns them: a member gets the
    /// roles, a pending invitation offers them, and anyone else gets `newcomer` (an expired or
    /// declined invitation gives way to it), as `addition` says. [`Rejection::GroupNotFound`]
    /// without the project.
    async fn add_project_user(
        &self,
        group: &GroupId,
        roles: &GroupRoles,
        newcomer: &Invitation,
        addition: ProjectAddition,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError>;

    /// Changes the roles a member holds, or a pending invitation offers, in a project, under a
    /// lock; [`Rejection::NotFound`] for anyone with no role there, [`Rejection::LastRole`] when
    /// the change would leave none.
    async fn change_project_user_roles(
        &self,
        group: &GroupId,
        user: &UserId,
        change: ProjectRoleChange,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError>;

    /// Takes a user out of a project: a member loses their roles there (and stays in the
    /// organization); unless `members_only`, an invitation (of any status) stops offering any,
    /// and is cancelled if that leaves it offering nothing but bare membership
    /// ([`Invitation::offers_bare_membership`]). [`Rejection::NotFound`] when they have no role
    /// there.
    async fn remove_project_user(
        &self,
        group: &GroupId,
        user: &UserId,
        members_only: bool,
    ) -> Result<(), StoreError>;

    /// A person with an account and all their memberships.
    async fn find_user(
        &self,
        selector: &UserSelector,
    ) -> Result<Option<(User, Vec<Member>)>, StoreError>;

    /// An organization with its pending (unexpired, not declined) invitations, oldest first,
    /// optionally only the one to `username`; `None` if there is no such organization. One read,
    /// because listing invitations is what clients do most.
    async fn get_organization_with_pending_invitations(
        &self,
        org: &OrgId,
        username: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<Option<(Organization, Vec<Invitation>)>, StoreError>;

    /// The pending invitations of an organization (none if it does not exist), as
    /// [`Store::get_organization_with_pending_invitations`] orders and filters them.
    async fn list_pending_invitations(
        &self,
        org: &OrgId,
        username: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<Vec<Invitation>, StoreError> {
        Ok(self
            .get_organization_with_pending_invitations(org, username, now)
            .await?
            .map(|(_, invitations)| invitations)
            .unwrap_or_default())
    }

    async fn get_pending_invitation(
        &self,
        org: &OrgId,
        id: &InvitationId,
        now: OffsetDateTime,
    ) -> Result<Option<Invitation>, StoreError>;

    /// Applies `update` to a pending invitation: [`Rejection::InvitationNotFound`] when there is
    /// none, [`Rejection::InvitationExpired`] when it has expired.
    async fn update_pending_invitation(
        &self,
        org: &OrgId,
        selector: &InvitationSelector,
        update: MembershipUpdate,
        now: OffsetDateTime,
    ) -> Result<Invitation, StoreError>;

    /// Cancels a pending invitation ([`Rejection::InvitationNotFound`] when there is none).
    async fn delete_pending_invitation(
        &self,
        org: &OrgId,
        id: &InvitationId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The pending invitations that offer roles in a project, as project invitations, oldest
    /// first, optionally only the one to `username`. (They are made with
    /// [`Store::add_project_user`].)
    async fn list_pending_project_invitations(
        &self,
        group: &GroupId,
        username: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<Vec<ProjectInvitation>, StoreError>;

    async fn get_pending_project_invitation(
        &self,
        group: &GroupId,
        id: &InvitationId,
        now: OffsetDateTime,
    ) -> Result<Option<ProjectInvitation>, StoreError>;

    /// Replaces the roles a pending invitation offers in a project: [`Rejection::InvitationNotFound`]
    /// when there is none offering any, [`Rejection::InvitationExpired`] when it has expired.
    async fn update_pending_project_invitation(
        &self,
        group: &GroupId,
        selector: &InvitationSelector,
        roles: &GroupRoles,
        now: OffsetDateTime,
    ) -> Result<ProjectInvitation, StoreError>;

    /// Takes a project out of a pending invitation, as [`Store::remove_project_user`] does
    /// ([`Rejection::InvitationNotFound`] when there is none offering roles there).
    async fn delete_pending_project_invitation(
        &self,
        group: &GroupId,
        id: &InvitationId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

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
