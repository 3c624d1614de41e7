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
    /// Rejections whose meaning depends on the operation (a missing team on rename, say) are
    /// mapped by the handler before this generic mapping is reached.
    fn from(rejection: Rejection) -> Self {
        match rejection {
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
            Rejection::OrganizationHasProjects => AppError::OrganizationHasProjects(String::new()),
            Rejection::TooManyTokens => AppError::Internal(anyhow::anyhow!(
                "token cap reached outside the token endpoint"
            )),
            Rejection::UserNotInOrg { user, org } => AppError::UserNotInOrg {
                username: user,
                org: org.to_string(),
            },
            Rejection::PendingUser(user) => AppError::CannotAddPendingUser(user),
            Rejection::LastRole => AppError::CannotRemoveAllUserRoles,
            Rejection::AlreadyInTeam { user, team } => AppError::UserAlreadyInTeam {
                user: user.to_string(),
                team: team.to_string(),
            },
            Rejection::TeamFull(team) => AppError::MaxUsersPerTeamExceeded(team.to_string()),
            Rejection::InvitationNotFound
            | Rejection::NotFound
            | Rejection::OrganizationNotFound => AppError::ResourceNotFound(String::new()),
        }
    }
}
