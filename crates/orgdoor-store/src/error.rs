//! The store's errors: typed refusals for expected outcomes, opaque failures for the rest.
//!
//! A refusal names what it refers to (the key, team, project or invitation the caller asked
//! for), so the HTTP layer turns each into its Atlas error in one place, without knowing which
//! operation raised it.

use std::fmt;

use orgdoor_domain::{
    AllowedNetwork, ApiKeyId, ClientId, EmailAddress, GroupId, OrgId, SecretId, TeamId, UserId,
};

use crate::{Credential, InvitationSelector};

/// Why the store refused a request that was well-formed but conflicts with what is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("organization {0} does not exist")]
    OrganizationNotFound(OrgId),
    /// Not in the organization (or, for project grants, holding no roles in the project).
    #[error("API key {0} does not exist here")]
    ApiKeyNotFound(ApiKeyId),
    #[error("service account {0} does not exist here")]
    ServiceAccountNotFound(ClientId),
    #[error("secret {0} does not exist")]
    SecretNotFound(SecretId),
    #[error("{0} is not on the access list")]
    NetworkNotListed(AllowedNetwork),
    #[error("{0} is a member already or has a pending invitation")]
    UsernameTaken(EmailAddress),
    /// The named user (an id or an address) is not a member or invitee of the organization.
    #[error("user {user} is not in organization {org}")]
    UserNotInOrg { user: String, org: OrgId },
    /// The named user holds no role in the project (nor a pending invitation to it).
    #[error("user {user} is not in project {group}")]
    UserNotInGroup { user: String, group: GroupId },
    /// Teams take members only, not people who have yet to accept.
    #[error("user {0} has not accepted the invitation yet")]
    PendingUser(String),
    #[error("a user must keep at least one organization role")]
    LastRole,
    #[error("user {user} is in team {team} already")]
    AlreadyInTeam { user: UserId, team: TeamId },
    #[error("team {0} has the most members it may")]
    TeamFull(TeamId),
    /// Not in the organization (or, for project teams, holding no role in the project).
    #[error("no team {0} exists")]
    TeamNotFound(TeamId),
    #[error("team {team} belongs to another organization than {org}")]
    TeamNotInOrg { team: TeamId, org: OrgId },
    #[error("no project {0} exists in the organization")]
    GroupNotFound(GroupId),
    #[error("a team named {0} exists already")]
    TeamNameTaken(String),
    #[error("a project named {0} exists already")]
    ProjectNameTaken(String),
    #[error("no pending invitation matches {0}")]
    InvitationNotFound(InvitationSelector),
    #[error("the invitation has expired")]
    InvitationExpired,
    #[error("organization {0} still has projects")]
    OrganizationHasProjects(OrgId),
    #[error("the service account holds the most active tokens it may")]
    TooManyTokens,
}

impl Rejection {
    /// [`Rejection::UserNotInOrg`], naming the user by id or address.
    pub(crate) fn user_not_in_org(user: impl fmt::Display, org: &OrgId) -> Self {
        Rejection::UserNotInOrg {
            user: user.to_string(),
            org: org.clone(),
        }
    }

    /// The credential whose access list was asked for is not in the organization.
    pub fn credential_not_found(credential: &Credential) -> Self {
        match credential {
            Credential::ApiKey(id) => Rejection::ApiKeyNotFound(id.clone()),
            Credential::ServiceAccount(id) => Rejection::ServiceAccountNotFound(id.clone()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The database cannot be reached or is overloaded; the request may succeed later.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("the database URL names no supported store (use sqlite: or postgres:)")]
    UnsupportedUrl,
    #[error("the database schema could not be migrated")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// A sealed secret does not open with the configured secrets key: the key is not the one
    /// the store was sealed with (`--secrets-key-file`).
    #[error(
        "the secrets key does not open this store's secrets (is it the key this store was created with?)"
    )]
    WrongSecretsKey,
    #[error("database error")]
    Internal(#[source] sqlx::Error),
    /// The store's file could not be made or opened.
    #[error("cannot create {}: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let unavailable = match &error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // SQLite: BUSY / LOCKED after the busy timeout, another writer holds the file.
                matches!(code.as_ref(), "5" | "6" | "517")
                    // PostgreSQL: connection exceptions, shutdowns, too many connections.
                    || code.starts_with("08")
                    || code.starts_with("57P")
                    || code == "53300"
            }),
            _ => false,
        };
        if unavailable {
            StoreError::Unavailable(error)
        } else {
            StoreError::Internal(error)
        }
    }
}

/// Whether an error is a unique-constraint violation, so a racing insert can become a typed
/// rejection instead of a failure.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A failed write whose foreign key names a row that is not there: the rejection saying
/// which (`missing`); any other failure as a store failure.
pub(crate) fn missing_referent(
    error: sqlx::Error,
    missing: impl FnOnce() -> Rejection,
) -> StoreError {
    if is_foreign_key_violation(&error) {
        missing().into()
    } else {
        StoreError::from(error)
    }
}

/// Whether an error is a foreign-key violation.
pub(crate) fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}
