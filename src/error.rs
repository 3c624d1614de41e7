//! The one error type every handler returns, rendered as Atlas's `ApiError` body.
//!
//! Each client-visible failure is a variant; [`AppError::parts`] is the single place that maps a
//! variant to its status, `errorCode`, `detail` and `parameters`. Store failures that are not
//! typed rejections become a generic 500 (logged once, here) or a 503 when the database is
//! unavailable; no database detail ever reaches a client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orgdoor_store::{Rejection, StoreError};
use serde::Serialize;
use serde_json::Value;

/// Header that repeats the body's `errorCode`, as Atlas sends it.
pub const X_ERROR_CODE: &str = "x-error-code";

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
}

/// What an error looks like on the wire, before rendering.
#[derive(Debug, PartialEq)]
pub struct ErrorParts {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub parameters: Vec<Value>,
}

fn parts(
    status: StatusCode,
    code: &'static str,
    detail: String,
    parameters: Vec<Value>,
) -> ErrorParts {
    ErrorParts {
        status,
        code,
        detail,
        parameters,
    }
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
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

    /// The single mapping from a failure to Atlas's status, code, message and parameters.
    pub fn parts(&self) -> ErrorParts {
        use StatusCode as S;
        match self {
            AppError::InvalidVersionDate => parts(
                S::NOT_ACCEPTABLE,
                "INVALID_VERSION_DATE",
                "Invalid accept header or version date.".into(),
                vec![],
            ),
            AppError::VersionGone => parts(
                S::GONE,
                "VERSION_GONE",
                "The requested API version is past its sunset date and is no longer available."
                    .into(),
                vec![],
            ),
            AppError::MalformedJson => parts(
                S::BAD_REQUEST,
                "MALFORMED_JSON",
                "Received JSON is malformed.".into(),
                vec![],
            ),
            AppError::InvalidJson => parts(
                S::BAD_REQUEST,
                "INVALID_JSON",
                "Received JSON does not match expected format.".into(),
                vec![],
            ),
            AppError::InvalidJsonAttribute(attribute) => parts(
                S::BAD_REQUEST,
                "INVALID_JSON_ATTRIBUTE",
                format!(
                    "Received JSON for the {attribute} attribute does not match expected format."
                ),
                vec![text(attribute)],
            ),
            AppError::InvalidAttribute(attribute) => parts(
                S::BAD_REQUEST,
                "INVALID_ATTRIBUTE",
                format!("Invalid attribute {attribute} specified."),
                vec![text(attribute)],
            ),
            AppError::AttributeReadOnly(attribute) => parts(
                S::BAD_REQUEST,
                "ATTRIBUTE_READ_ONLY",
                format!(
                    "The attribute {attribute} is read-only and cannot be changed by the user."
                ),
                vec![text(attribute)],
            ),
            AppError::MissingAttribute(attribute) => parts(
                S::BAD_REQUEST,
                "MISSING_ATTRIBUTE",
                format!("The required attribute {attribute} was not specified."),
                vec![text(attribute)],
            ),
            AppError::InvalidAttributeValue { attribute, reason } => parts(
                S::BAD_REQUEST,
                "VALIDATION_ERROR",
                format!(
                    "The request content produced the validation error: {attribute}: {reason}."
                ),
                vec![text(attribute)],
            ),
            AppError::TooManyItems { attribute, max } => parts(
                S::BAD_REQUEST,
                "VALIDATION_ERROR",
                format!(
                    "The request content produced the validation error: {attribute}: at most {max} items are allowed."
                ),
                vec![text(attribute)],
            ),
            AppError::InvalidEmailAddress(address) => parts(
                S::BAD_REQUEST,
                "INVALID_EMAIL_ADDRESS",
                "An invalid email address was specified.".into(),
                vec![text(address)],
            ),
            AppError::InvalidEnumValue(value) => parts(
                S::BAD_REQUEST,
                "INVALID_ENUM_VALUE",
                format!("An invalid enumeration value {value} was specified."),
                vec![text(value)],
            ),
            AppError::InvalidRoleForOrg { role, org } => parts(
                S::BAD_REQUEST,
                "INVALID_ROLE_FOR_ORG",
                format!("Role {role} invalid for organization {org}."),
                vec![text(role), text(org)],
            ),
            AppError::InvalidRoleForGroup { role, group } => parts(
                S::BAD_REQUEST,
                "INVALID_ROLE_FOR_GROUP",
                format!("Role {role} is invalid for group {group}."),
                vec![text(role), text(group)],
            ),
            AppError::InvalidQueryParameter(name) => parts(
                S::BAD_REQUEST,
                "INVALID_QUERY_PARAMETER",
                format!("Invalid query parameter {name} specified."),
                vec![text(name)],
            ),
            AppError::InvalidInvitationId => parts(
                S::BAD_REQUEST,
                "INVALID_INVITATION_ID",
                "The invitation you tried to delete does not exist or has already been accepted."
                    .into(),
                vec![],
            ),
            AppError::AlreadyExpired => parts(
                S::BAD_REQUEST,
                "ALREADY_EXPIRED",
                "Cannot update an entity that has already expired.".into(),
                vec![],
            ),
            AppError::NotOrgOwner(org) => parts(
                S::UNAUTHORIZED,
                "NOT_ORG_OWNER",
                format!(
                    "The currently logged in user does not have the owner role in organization {org}."
                ),
                vec![text(org)],
            ),
            AppError::NotOrgGroupCreator(org) => parts(
                S::UNAUTHORIZED,
                "NOT_ORG_GROUP_CREATOR",
                format!(
                    "The currently logged in user does not have the group creator role in organization {org}."
                ),
                vec![text(org)],
            ),
            AppError::UserCannotAccessOrg => parts(
                S::UNAUTHORIZED,
                "USER_CANNOT_ACCESS_ORG",
                "User cannot access this organization.".into(),
                vec![],
            ),
            AppError::UserCannotAccessGroup => parts(
                S::UNAUTHORIZED,
                "USER_CANNOT_ACCESS_GROUP",
                "User cannot access this group.".into(),
                vec![],
            ),
            AppError::UserUnauthorized => parts(
                S::UNAUTHORIZED,
                "USER_UNAUTHORIZED",
                "Current user is not authorized to perform this action.".into(),
                vec![],
            ),
            AppError::IpAddressNotOnAccessList(address) => parts(
                S::FORBIDDEN,
                "IP_ADDRESS_NOT_ON_WHITELIST",
                format!("IP address {address} is not allowed to access this resource."),
                vec![text(address)],
            ),
            AppError::InvalidIpAddressOrCidr(value) => parts(
                S::BAD_REQUEST,
                "INVALID_IP_ADDRESS_OR_CIDR_NOTATION",
                format!("The address {value} must be in valid IP address or CIDR notation."),
                vec![text(value)],
            ),
            AppError::ResourceNotFound(resource) => parts(
                S::NOT_FOUND,
                "RESOURCE_NOT_FOUND",
                format!("Cannot find resource {resource}."),
                vec![text(resource)],
            ),
            AppError::InvalidOrgId(id) => parts(
                S::NOT_FOUND,
                "INVALID_ORG_ID",
                format!("An invalid organization ID {id} was specified."),
                vec![text(id)],
            ),
            AppError::OrgNotFound(id) => parts(
                S::NOT_FOUND,
                "ORG_NOT_FOUND",
                format!("No organization with ID {id} exists."),
                vec![text(id)],
            ),
            AppError::InvalidGroupId(id) => parts(
                S::NOT_FOUND,
                "INVALID_GROUP_ID",
                format!("An invalid group ID {id} was specified."),
                vec![text(id)],
            ),
            AppError::GroupNotFound(id) => parts(
                S::NOT_FOUND,
                "GROUP_NOT_FOUND",
                format!("No group with ID {id} exists."),
                vec![text(id)],
            ),
            AppError::InvalidTeamId(id) => parts(
                S::NOT_FOUND,
                "INVALID_TEAM_ID",
                format!("An invalid team ID {id} was specified."),
                vec![text(id)],
            ),
            AppError::TeamNotFound(id) => parts(
                S::NOT_FOUND,
                "TEAM_NOT_FOUND",
                format!("No team with ID {id} exists."),
                vec![text(id)],
            ),
            AppError::TeamNotInOrg { team, org } => parts(
                S::NOT_FOUND,
                "TEAM_NOT_IN_ORG",
                format!("Team {team} is not in Organization {org}."),
                vec![text(team), text(org)],
            ),
            AppError::UserNotInOrg { username, org } => parts(
                S::NOT_FOUND,
                "USER_NOT_IN_ORG",
                format!("User {username} is not in organization {org}."),
                vec![text(username), text(org)],
            ),
            AppError::InvalidUserId(id) => parts(
                S::NOT_FOUND,
                "INVALID_USER_ID",
                format!("An invalid user ID {id} was specified."),
                vec![text(id)],
            ),
            AppError::UserNotFound(id) => parts(
                S::NOT_FOUND,
                "USER_NOT_FOUND",
                format!("No user with ID {id} exists."),
                vec![text(id)],
            ),
            AppError::UserNotInGroup { user, group } => parts(
                S::NOT_FOUND,
                "USER_NOT_IN_GROUP",
                format!("User {user} is not in group {group}."),
                vec![text(user), text(group)],
            ),
            AppError::GroupNameNotFound(name) => parts(
                S::NOT_FOUND,
                "GROUP_NAME_NOT_FOUND",
                format!("No group with name {name} exists."),
                vec![text(name)],
            ),
            AppError::TeamNameNotFound(name) => parts(
                S::NOT_FOUND,
                "TEAM_NAME_NOT_FOUND",
                format!("No team with name {name} exists."),
                vec![text(name)],
            ),
            AppError::UsernameNotFound(username) => parts(
                S::NOT_FOUND,
                "USERNAME_NOT_FOUND",
                format!("No user with username {username} exists."),
                vec![text(username)],
            ),
            AppError::CannotAddPendingUser(user) => parts(
                S::NOT_FOUND,
                "CANNOT_ADD_PENDING_USER",
                format!(
                    "The user {user} cannot be added to any group or team because the user is a pending user."
                ),
                vec![text(user)],
            ),
            AppError::CannotRemoveAllUserRoles => parts(
                S::FORBIDDEN,
                "CANNOT_REMOVE_ALL_USER_ROLES",
                "You cannot remove all roles from a user. Specify at least one role.".into(),
                vec![],
            ),
            AppError::UserAlreadyInTeam { user, team } => parts(
                S::CONFLICT,
                "USER_ALREADY_IN_TEAM",
                format!("The user with ID {user} in team {team} already exists."),
                vec![text(user), text(team)],
            ),
            AppError::MaxUsersPerTeamExceeded(team) => parts(
                S::BAD_REQUEST,
                "MAX_USERS_PER_TEAM_EXCEEDED",
                format!(
                    "Maximum number of users per team {} in {team} exceeded while trying to add users.",
                    orgdoor_store::MAX_USERS_PER_TEAM
                ),
                vec![Value::from(orgdoor_store::MAX_USERS_PER_TEAM), text(team)],
            ),
            AppError::MutuallyExclusiveQueryParameters(first, second) => parts(
                S::BAD_REQUEST,
                "MUTUALLY_EXCLUSIVE_QUERY_PARAMETERS",
                format!(
                    "Either the {first} query parameter or the {second} query parameter but not both should be specified."
                ),
                vec![text(first), text(second)],
            ),
            AppError::OrganizationHasProjects(org) => parts(
                S::CONFLICT,
                "CANNOT_DELETE_ORG_ACTIVE_GROUPS",
                format!(
                    "Cannot delete organization {org} while it has projects; delete its projects first."
                ),
                vec![text(org)],
            ),
            AppError::UserAlreadyExists(username) => parts(
                S::CONFLICT,
                "USER_ALREADY_EXISTS",
                format!("A user with username {username} already exists."),
                vec![text(username)],
            ),
            AppError::DuplicateTeamName(name) => parts(
                S::CONFLICT,
                "DUPLICATE_TEAM_NAME",
                format!("A team with name {name} already exists in this organization."),
                vec![text(name)],
            ),
            AppError::GroupAlreadyExists(name) => parts(
                S::CONFLICT,
                "GROUP_ALREADY_EXISTS",
                format!("A group with name \"{name}\" already exists."),
                vec![text(name)],
            ),
            AppError::RateLimited {
                resource,
                retry_after,
                capacity,
                refill,
                period,
            } => parts(
                S::TOO_MANY_REQUESTS,
                "RATE_LIMITED_TOKEN_BUCKET",
                format!(
                    "Rate limit exceeded for {resource}. Please retry after {retry_after} seconds. Request capacity: {capacity}. Refill rate: {refill} per {period} seconds."
                ),
                vec![
                    text(resource),
                    Value::from(*retry_after),
                    Value::from(*capacity),
                    Value::from(*refill),
                    Value::from(*period),
                ],
            ),
            AppError::MethodNotAllowed => parts(
                S::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "The request method is not supported for this resource.".into(),
                vec![],
            ),
            AppError::PayloadTooLarge => parts(
                S::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "The request body is too large.".into(),
                vec![],
            ),
            AppError::MalformedRequest => parts(
                S::BAD_REQUEST,
                "MALFORMED_REQUEST",
                "The request is not valid HTTP: its request line, a header or its body encoding \
                 could not be read."
                    .into(),
                vec![],
            ),
            AppError::RequestTimeout => parts(
                S::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "The request body did not arrive in time.".into(),
                vec![],
            ),
            AppError::UriTooLong => parts(
                S::URI_TOO_LONG,
                "URI_TOO_LONG",
                "The request URI is too long.".into(),
                vec![],
            ),
            AppError::HeadersTooLarge => parts(
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "REQUEST_HEADERS_TOO_LARGE",
                "The request headers are too large.".into(),
                vec![],
            ),
            AppError::ServiceUnavailable => parts(
                S::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "The service is temporarily unavailable. Please try again later.".into(),
                vec![],
            ),
            AppError::ServerBusy => parts(
                S::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "The server is busy receiving other requests. Please try again later.".into(),
                vec![],
            ),
            AppError::Internal(_) => parts(
                S::INTERNAL_SERVER_ERROR,
                "UNEXPECTED_ERROR",
                "Unexpected error.".into(),
                vec![],
            ),
        }
    }
}

/// `ApiError` as Atlas serializes it: compact, keys in alphabetical order.
#[derive(Serialize)]
struct ApiErrorBody<'a> {
    detail: &'a str,
    error: u16,
    #[serde(rename = "errorCode")]
    error_code: &'a str,
    parameters: &'a [Value],
    reason: &'a str,
}

impl ErrorParts {
    /// An Atlas error for a bare status, for answers something below the handlers produced
    /// without a body (an extractor's rejection, a method no route takes).
    pub fn for_status(status: StatusCode) -> Self {
        let known = match status.as_u16() {
            400 => Some(AppError::MalformedRequest),
            404 => Some(AppError::ResourceNotFound(String::new())),
            405 => Some(AppError::MethodNotAllowed),
            408 => Some(AppError::RequestTimeout),
            413 => Some(AppError::PayloadTooLarge),
            414 => Some(AppError::UriTooLong),
            431 => Some(AppError::HeadersTooLarge),
            503 => Some(AppError::ServiceUnavailable),
            _ => None,
        };
        match known {
            Some(error) => error.parts(),
            None => parts(
                status,
                "UNEXPECTED_ERROR",
                status
                    .canonical_reason()
                    .unwrap_or("Unexpected error")
                    .to_owned(),
                vec![],
            ),
        }
    }

    /// The JSON body alone, for answers written below the router.
    pub fn json_bytes(&self) -> Vec<u8> {
        let body = ApiErrorBody {
            detail: &self.detail,
            error: self.status.as_u16(),
            error_code: self.code,
            parameters: &self.parameters,
            reason: self.status.canonical_reason().unwrap_or("Error"),
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }

    pub fn into_response(self) -> Response {
        let bytes = self.json_bytes();
        let mut response = (self.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(X_ERROR_CODE, HeaderValue::from_static(self.code));
        response
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
            AppError::ServiceUnavailable => tracing::warn!("request refused: database unavailable"),
            AppError::ServerBusy => tracing::warn!("request refused: request body memory is full"),
            _ => {}
        }
        self.parts().into_response()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_its_documented_status_and_code() {
        let cases: Vec<(AppError, u16, &str)> = vec![
            (AppError::InvalidVersionDate, 406, "INVALID_VERSION_DATE"),
            (AppError::VersionGone, 410, "VERSION_GONE"),
            (AppError::MalformedJson, 400, "MALFORMED_JSON"),
            (AppError::InvalidJson, 400, "INVALID_JSON"),
            (
                AppError::InvalidJsonAttribute("roles".into()),
                400,
                "INVALID_JSON_ATTRIBUTE",
            ),
            (
                AppError::InvalidAttribute("x".into()),
                400,
                "INVALID_ATTRIBUTE",
            ),
            (
                AppError::AttributeReadOnly("id".into()),
                400,
                "ATTRIBUTE_READ_ONLY",
            ),
            (
                AppError::MissingAttribute("username".into()),
                400,
                "MISSING_ATTRIBUTE",
            ),
            (
                AppError::TooManyItems {
                    attribute: "usernames".into(),
                    max: 250,
                },
                400,
                "VALIDATION_ERROR",
            ),
            (
                AppError::InvalidEmailAddress("x".into()),
                400,
                "INVALID_EMAIL_ADDRESS",
            ),
            (
                AppError::InvalidEnumValue("X".into()),
                400,
                "INVALID_ENUM_VALUE",
            ),
            (
                AppError::InvalidRoleForOrg {
                    role: "GROUP_OWNER".into(),
                    org: "o".into(),
                },
                400,
                "INVALID_ROLE_FOR_ORG",
            ),
            (
                AppError::InvalidRoleForGroup {
                    role: "ORG_OWNER".into(),
                    group: "g".into(),
                },
                400,
                "INVALID_ROLE_FOR_GROUP",
            ),
            (
                AppError::InvalidQueryParameter("pretty".into()),
                400,
                "INVALID_QUERY_PARAMETER",
            ),
            (AppError::InvalidInvitationId, 400, "INVALID_INVITATION_ID"),
            (AppError::AlreadyExpired, 400, "ALREADY_EXPIRED"),
            (AppError::NotOrgOwner("o".into()), 401, "NOT_ORG_OWNER"),
            (
                AppError::NotOrgGroupCreator("o".into()),
                401,
                "NOT_ORG_GROUP_CREATOR",
            ),
            (AppError::UserCannotAccessOrg, 401, "USER_CANNOT_ACCESS_ORG"),
            (
                AppError::UserCannotAccessGroup,
                401,
                "USER_CANNOT_ACCESS_GROUP",
            ),
            (AppError::UserUnauthorized, 401, "USER_UNAUTHORIZED"),
            (
                AppError::ResourceNotFound("r".into()),
                404,
                "RESOURCE_NOT_FOUND",
            ),
            (AppError::InvalidOrgId("x".into()), 404, "INVALID_ORG_ID"),
            (AppError::OrgNotFound("x".into()), 404, "ORG_NOT_FOUND"),
            (
                AppError::InvalidGroupId("x".into()),
                404,
                "INVALID_GROUP_ID",
            ),
            (AppError::GroupNotFound("x".into()), 404, "GROUP_NOT_FOUND"),
            (AppError::InvalidTeamId("x".into()), 404, "INVALID_TEAM_ID"),
            (AppError::TeamNotFound("x".into()), 404, "TEAM_NOT_FOUND"),
            (
                AppError::TeamNotInOrg {
                    team: "t".into(),
                    org: "o".into(),
                },
                404,
                "TEAM_NOT_IN_ORG",
            ),
            (
                AppError::UserNotInOrg {
                    username: "u".into(),
                    org: "o".into(),
                },
                404,
                "USER_NOT_IN_ORG",
            ),
            (
                AppError::UserAlreadyExists("u".into()),
                409,
                "USER_ALREADY_EXISTS",
            ),
            (AppError::UserNotFound("u".into()), 404, "USER_NOT_FOUND"),
            (
                AppError::UserNotInGroup {
                    user: "u".into(),
                    group: "g".into(),
                },
                404,
                "USER_NOT_IN_GROUP",
            ),
            (
                AppError::GroupNameNotFound("g".into()),
                404,
                "GROUP_NAME_NOT_FOUND",
            ),
            (
                AppError::TeamNameNotFound("t".into()),
                404,
                "TEAM_NAME_NOT_FOUND",
            ),
            (
                AppError::UsernameNotFound("u".into()),
                404,
                "USERNAME_NOT_FOUND",
            ),
            (
                AppError::CannotAddPendingUser("u".into()),
                404,
                "CANNOT_ADD_PENDING_USER",
            ),
            (
                AppError::CannotRemoveAllUserRoles,
                403,
                "CANNOT_REMOVE_ALL_USER_ROLES",
            ),
            (
                AppError::UserAlreadyInTeam {
                    user: "u".into(),
                    team: "t".into(),
                },
                409,
                "USER_ALREADY_IN_TEAM",
            ),
            (
                AppError::MaxUsersPerTeamExceeded("t".into()),
                400,
                "MAX_USERS_PER_TEAM_EXCEEDED",
            ),
            (
                AppError::MutuallyExclusiveQueryParameters("a", "b"),
                400,
                "MUTUALLY_EXCLUSIVE_QUERY_PARAMETERS",
            ),
            (
                AppError::DuplicateTeamName("t".into()),
                409,
                "DUPLICATE_TEAM_NAME",
            ),
            (
                AppError::GroupAlreadyExists("g".into()),
                409,
                "GROUP_ALREADY_EXISTS",
            ),
            (
                AppError::RateLimited {
                    resource: "api/atlas/v2/orgs",
                    retry_after: 5,
                    capacity: 10,
                    refill: 5,
                    period: 60,
                },
                429,
                "RATE_LIMITED_TOKEN_BUCKET",
            ),
            (AppError::MethodNotAllowed, 405, "METHOD_NOT_ALLOWED"),
            (AppError::PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"),
            (AppError::MalformedRequest, 400, "MALFORMED_REQUEST"),
            (AppError::RequestTimeout, 408, "REQUEST_TIMEOUT"),
            (AppError::UriTooLong, 414, "URI_TOO_LONG"),
            (AppError::HeadersTooLarge, 431, "REQUEST_HEADERS_TOO_LARGE"),
            (AppError::ServiceUnavailable, 503, "SERVICE_UNAVAILABLE"),
            (AppError::ServerBusy, 503, "SERVICE_UNAVAILABLE"),
            (
                AppError::Internal(anyhow::anyhow!("boom")),
                500,
                "UNEXPECTED_ERROR",
            ),
        ];
        for (error, status, code) in cases {
            let parts = error.parts();
            assert_eq!(
                (parts.status.as_u16(), parts.code),
                (status, code),
                "{error:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_body_is_compact_alphabetical_json_with_the_code_in_a_header() {
        let response = AppError::GroupNotFound("111111111111111111111111".into()).into_response();
        assert_eq!(response.headers()[X_ERROR_CODE], "GROUP_NOT_FOUND");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        assert_eq!(
            std::str::from_utf8(&body).expect("utf-8"),
            r#"{"detail":"No group with ID 111111111111111111111111 exists.","error":404,"errorCode":"GROUP_NOT_FOUND","parameters":["111111111111111111111111"],"reason":"Not Found"}"#
        );
    }

    #[test]
    fn internal_errors_say_nothing_of_their_cause() {
        let parts = AppError::Internal(anyhow::anyhow!("secret table name")).parts();
        assert_eq!(parts.detail, "Unexpected error.");
    }
}
