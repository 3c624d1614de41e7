//! The one error type every handler returns, rendered as Atlas's `ApiError` body.
//!
//! Each client-visible failure is a variant of [`AppError`]. Its parts, one concern each:
//! - [`catalogue`]: [`AppError::parts`], the single place that maps a variant to its status,
//!   `errorCode`, `detail` and `parameters`;
//! - [`response`]: how those parts go on the wire (Atlas's body, the `x-error-code` header),
//!   and the one place internal failures are logged;
//! - [`from_store`]: what a store failure becomes. Failures that are not typed rejections become
//!   a generic 500 or, when the database is unavailable, a 503; no database detail ever reaches
//!   a client.
//!
//! Nothing here knows about routes, requests or the store's connections.

pub mod catalogue;
pub mod from_store;
pub mod response;
#[cfg(test)]
mod tests;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid accept header or version date")]
    InvalidVersionDate,
    #[error("the requested version is past its sunset")]
    VersionGone,
    #[error("malformed JSON")]
    MalformedJson,
    #[error("JSON of the wrong shape")]
    InvalidJson,
    #[error("attribute {0} has the wrong type")]
    InvalidJsonAttribute(String),
    #[error("unknown attribute {0}")]
    InvalidAttribute(String),
    #[error("read-only attribute {0}")]
    AttributeReadOnly(String),
    #[error("missing attribute {0}")]
    MissingAttribute(String),
    #[error("invalid attribute value for {attribute}: {reason}")]
    InvalidAttributeValue { attribute: String, reason: String },
    #[error("attribute {attribute} holds more than {max} items")]
    TooManyItems { attribute: String, max: usize },
    #[error("invalid email address {0}")]
    InvalidEmailAddress(String),
    #[error("invalid enumeration value {0}")]
    InvalidEnumValue(String),
    #[error("role {role} is invalid for organization {org}")]
    InvalidRoleForOrg { role: String, org: String },
    #[error("role {role} is invalid for project {group}")]
    InvalidRoleForGroup { role: String, group: String },
    #[error("invalid query parameter {0}")]
    InvalidQueryParameter(String),
    #[error("no pending invitation to delete")]
    InvalidInvitationId,
    #[error("the invitation has expired")]
    AlreadyExpired,
    #[error("not an owner of organization {0}")]
    NotOrgOwner(String),
    #[error("not a project creator in organization {0}")]
    NotOrgGroupCreator(String),
    #[error("no access to the organization")]
    UserCannotAccessOrg,
    #[error("no access to the project")]
    UserCannotAccessGroup,
    #[error("missing role")]
    UserUnauthorized,
    #[error("address {0} is not on the access list")]
    IpAddressNotOnAccessList(String),
    #[error("invalid IP address or CIDR block {0}")]
    InvalidIpAddressOrCidr(String),
    #[error("resource {0} not found")]
    ResourceNotFound(String),
    #[error("invalid organization id {0}")]
    InvalidOrgId(String),
    #[error("organization {0} not found")]
    OrgNotFound(String),
    #[error("invalid project id {0}")]
    InvalidGroupId(String),
    #[error("project {0} not found")]
    GroupNotFound(String),
    #[error("invalid team id {0}")]
    InvalidTeamId(String),
    #[error("team {0} not found")]
    TeamNotFound(String),
    #[error("team {team} is not in organization {org}")]
    TeamNotInOrg { team: String, org: String },
    #[error("user {username} is not in organization {org}")]
    UserNotInOrg { username: String, org: String },
    #[error("invalid user id {0}")]
    InvalidUserId(String),
    #[error("user {0} not found")]
    UserNotFound(String),
    #[error("user {user} has no role in project {group}")]
    UserNotInGroup { user: String, group: String },
    #[error("no project named {0}")]
    GroupNameNotFound(String),
    #[error("no team named {0}")]
    TeamNameNotFound(String),
    #[error("no user with username {0}")]
    UsernameNotFound(String),
    #[error("user {0} has not accepted the invitation yet")]
    CannotAddPendingUser(String),
    #[error("a user must keep at least one role")]
    CannotRemoveAllUserRoles,
    #[error("user {user} is in team {team} already")]
    UserAlreadyInTeam { user: String, team: String },
    #[error("team {0} is full")]
    MaxUsersPerTeamExceeded(String),
    #[error("query parameters {0} and {1} exclude each other")]
    MutuallyExclusiveQueryParameters(&'static str, &'static str),
    #[error("organization {0} still has projects")]
    OrganizationHasProjects(String),
    #[error("a user {0} already exists")]
    UserAlreadyExists(String),
    #[error("a team named {0} exists")]
    DuplicateTeamName(String),
    #[error("a project named {0} exists")]
    GroupAlreadyExists(String),
    #[error("rate limit of {resource} exceeded")]
    RateLimited {
        resource: &'static str,
        retry_after: i64,
        capacity: i64,
        refill: i64,
        period: i64,
    },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("the request could not be read as HTTP")]
    MalformedRequest,
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("the request URI is too long")]
    UriTooLong,
    #[error("the request head is too large")]
    HeadersTooLarge,
    #[error("the database is unavailable")]
    ServiceUnavailable,
    /// The server holds as many request bodies as it may (`--max-body-memory`).
    #[error("no room for another request body")]
    ServerBusy,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    /// A control API fault rule's answer (429, 500 or 503), with Atlas's body for that status.
    #[error("fault injected: {status}")]
    InjectedFault { status: u16, retry_after: u32 },
    /// A control API request without the control token.
    #[error("the control token is missing or wrong")]
    ControlTokenRequired,
}

impl AppError {
    /// Refuses a request list longer than `max` (`orgdoor_domain::limits`), before any of its
    /// items is looked at.
    pub fn check_length<T>(attribute: &str, items: &[T], max: usize) -> Result<(), AppError> {
        orgdoor_domain::limits::at_most(items, max).map_err(|too_many| AppError::TooManyItems {
            attribute: attribute.to_owned(),
            max: too_many.max,
        })
    }
}
