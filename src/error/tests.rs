//! Pins every variant's status and code, and the body's exact shape.

use axum::http::header;
use axum::response::IntoResponse;

use super::AppError;
use super::response::X_ERROR_CODE;

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

/// Every store refusal becomes one Atlas error, naming the id or address the refusal carries
/// (the one the client sent: ids and addresses keep their text when parsed).
#[test]
fn every_refusal_maps_to_its_atlas_error_naming_what_it_refers_to() {
    use orgdoor_domain::{
        AllowedNetwork, ApiKeyId, ClientId, EmailAddress, GroupId, InvitationId, OrgId, SecretId,
        TeamId, UserId,
    };
    use orgdoor_store::{Credential, InvitationSelector, Rejection};

    let now = time::OffsetDateTime::UNIX_EPOCH;
    let org = OrgId::generate(now);
    let group = GroupId::generate(now);
    let team = TeamId::generate(now);
    let key = ApiKeyId::generate(now);
    let client = ClientId::generate(now);
    let secret = SecretId::generate(now);
    let user = UserId::generate(now);
    let invitation = InvitationId::generate(now);
    let address: EmailAddress = "Ada@Example.com".parse().expect("address");
    let host = AllowedNetwork::from_address("192.0.2.7").expect("address");
    let block: AllowedNetwork = "192.0.2.0/24".parse().expect("cidr");
    let cases: Vec<(Rejection, &str, String)> = vec![
        (
            Rejection::OrganizationNotFound(org.clone()),
            "ORG_NOT_FOUND",
            org.to_string(),
        ),
        (
            Rejection::ApiKeyNotFound(key.clone()),
            "RESOURCE_NOT_FOUND",
            key.to_string(),
        ),
        (
            Rejection::credential_not_found(&Credential::ServiceAccount(client.clone())),
            "RESOURCE_NOT_FOUND",
            client.to_string(),
        ),
        (
            Rejection::credential_not_found(&Credential::ApiKey(key.clone())),
            "RESOURCE_NOT_FOUND",
            key.to_string(),
        ),
        (
            Rejection::SecretNotFound(secret.clone()),
            "RESOURCE_NOT_FOUND",
            secret.to_string(),
        ),
        (
            Rejection::NetworkNotListed(host),
            "RESOURCE_NOT_FOUND",
            "192.0.2.7".into(),
        ),
        (
            Rejection::NetworkNotListed(block),
            "RESOURCE_NOT_FOUND",
            "192.0.2.0/24".into(),
        ),
        (
            Rejection::InvitationNotFound(InvitationSelector::Id(invitation.clone())),
            "RESOURCE_NOT_FOUND",
            invitation.to_string(),
        ),
        (
            Rejection::InvitationNotFound(InvitationSelector::Username(address.clone())),
            "RESOURCE_NOT_FOUND",
            "Ada@Example.com".into(),
        ),
        (
            Rejection::UsernameTaken(address),
            "USER_ALREADY_EXISTS",
            "Ada@Example.com".into(),
        ),
        (
            Rejection::UserNotInOrg {
                user: user.to_string(),
                org: org.clone(),
            },
            "USER_NOT_IN_ORG",
            user.to_string(),
        ),
        (
            Rejection::UserNotInGroup {
                user: user.to_string(),
                group: group.clone(),
            },
            "USER_NOT_IN_GROUP",
            user.to_string(),
        ),
        (
            Rejection::TeamNotFound(team.clone()),
            "TEAM_NOT_FOUND",
            team.to_string(),
        ),
        (
            Rejection::TeamNotInOrg {
                team: team.clone(),
                org: org.clone(),
            },
            "TEAM_NOT_IN_ORG",
            team.to_string(),
        ),
        (
            Rejection::GroupNotFound(group.clone()),
            "GROUP_NOT_FOUND",
            group.to_string(),
        ),
        (
            Rejection::OrganizationHasProjects(org.clone()),
            "CANNOT_DELETE_ORG_ACTIVE_GROUPS",
            org.to_string(),
        ),
        (
            Rejection::AlreadyInTeam {
                user: user.clone(),
                team: team.clone(),
            },
            "USER_ALREADY_IN_TEAM",
            user.to_string(),
        ),
        (
            Rejection::TeamFull(team.clone()),
            "MAX_USERS_PER_TEAM_EXCEEDED",
            team.to_string(),
        ),
    ];
    for (rejection, code, named) in cases {
        let parts = AppError::from(rejection.clone()).parts();
        assert_eq!(parts.code, code, "{rejection:?}");
        assert!(
            parts.detail.contains(&named),
            "{rejection:?}: {} does not name {named}",
            parts.detail
        );
    }
}
