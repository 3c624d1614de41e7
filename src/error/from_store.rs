//! What a store failure becomes: a typed rejection its Atlas error, an unavailable database
//! a 503, anything else an opaque 500.

use orgdoor_store::{Rejection, StoreError};

use super::AppError;

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Rejected(rejection) => rejection.into(),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                AppError::ServiceUnavailable
            }
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<Rejection> for AppError {
    /// Each refusal names what it refers to, so its Atlas error does not depend on the
    /// operation that raised it.
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::OrganizationNotFound(org) => AppError::OrgNotFound(org.to_string()),
            Rejection::ApiKeyNotFound(key) => AppError::ResourceNotFound(key.to_string()),
            Rejection::ServiceAccountNotFound(account) => {
                AppError::ResourceNotFound(account.to_string())
            }
            Rejection::SecretNotFound(secret) => AppError::ResourceNotFound(secret.to_string()),
            // Named as the path names it: a single address bare, a network as a CIDR block.
            Rejection::NetworkNotListed(network) => AppError::ResourceNotFound(
                network
                    .single_address()
                    .map_or_else(|| network.cidr(), |address| address.to_string()),
            ),
            Rejection::InvitationNotFound(selector) => {
                AppError::ResourceNotFound(selector.to_string())
            }
            Rejection::UsernameTaken(username) => AppError::UserAlreadyExists(username.to_string()),
            Rejection::TeamNotFound(team) => AppError::TeamNotFound(team.to_string()),
            Rejection::TeamNotInOrg { team, org } => AppError::TeamNotInOrg {
                team: team.to_string(),
                org: org.to_string(),
            },
            Rejection::GroupNotFound(group) => AppError::GroupNotFound(group.to_string()),
            Rejection::TeamNameTaken(name) => AppError::DuplicateTeamName(name),
            Rejection::ProjectNameTaken(name) => AppError::GroupAlreadyExists(name),
            Rejection::InvitationExpired => AppError::AlreadyExpired,
            Rejection::OrganizationHasProjects(org) => {
                AppError::OrganizationHasProjects(org.to_string())
            }
            Rejection::TooManyTokens => AppError::Internal(anyhow::anyhow!(
                "token cap reached outside the token endpoint"
            )),
            Rejection::UserNotInOrg { user, org } => AppError::UserNotInOrg {
                username: user,
                org: org.to_string(),
            },
            Rejection::UserNotInGroup { user, group } => AppError::UserNotInGroup {
                user,
                group: group.to_string(),
            },
            Rejection::PendingUser(user) => AppError::CannotAddPendingUser(user),
            Rejection::LastRole => AppError::CannotRemoveAllUserRoles,
            Rejection::AlreadyInTeam { user, team } => AppError::UserAlreadyInTeam {
                user: user.to_string(),
                team: team.to_string(),
            },
            Rejection::TeamFull(team) => AppError::MaxUsersPerTeamExceeded(team.to_string()),
        }
    }
}
