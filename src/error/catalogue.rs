//! Atlas's error catalogue: each [`AppError`] variant's status, `errorCode`, `detail` and
//! `parameters`, in one `match`.

use axum::http::StatusCode;
use serde_json::Value;

use super::AppError;
use super::response::ErrorParts;

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
            // Atlas's own bodies for those statuses; a 429 as its token bucket words it, for
            // the whole API.
            AppError::InjectedFault {
                status: 429,
                retry_after,
            } => AppError::RateLimited {
                resource: "api/atlas/v2",
                retry_after: i64::from(*retry_after),
                capacity: 100,
                refill: 100,
                period: 60,
            }
            .parts(),
            AppError::InjectedFault { status: 503, .. } => AppError::ServiceUnavailable.parts(),
            AppError::InjectedFault { .. } => parts(
                S::INTERNAL_SERVER_ERROR,
                "UNEXPECTED_ERROR",
                "Unexpected error.".into(),
                vec![],
            ),
            AppError::ControlTokenRequired => parts(
                S::UNAUTHORIZED,
                "UNAUTHORIZED",
                "The control API takes the server's control token as `Authorization: Bearer \
                 TOKEN`."
                    .into(),
                vec![],
            ),
        }
    }
}
