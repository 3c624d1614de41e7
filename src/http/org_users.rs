//! MongoDB Cloud users of an organization: `/orgs/{orgId}/users…` and the team-membership paths
//! `/orgs/{orgId}/teams/{teamId}/users…`.
//!
//! Version 2025-02-19 shows members and invitees alike as `OrgUserResponse` (the invitation
//! successor API); the deprecated 2023-01-01 version shows members only, as `CloudAppUser`.
//! Reads need Organization Member, writes Organization Owner.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use orgdoor_domain::limits::{
    MAX_GROUP_ROLE_ASSIGNMENTS, MAX_ROLES, MAX_TEAM_IDS, MAX_TEAM_USERS, dedup,
};
use orgdoor_domain::{
    GroupRoleAssignment, Member, MembershipStatus, MembershipUpdate, NewInvitation, OrgId, OrgRole,
    OrgUser, Organization, RoleChange, TeamId,
};
use orgdoor_store::{OrgUserFilter, Rejection, StoreError, WhenPending};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth::{OrgAccess, Principal};
use crate::error::AppError;
use crate::http::extract::{
    AtlasJson, AtlasPath, BaseUrl, QueryParams, RequestBody, parse_team_id, parse_user_id,
};
use crate::http::pagination::{Link, ListQuery, Paginated};
use crate::http::rate_limits::{ORG_USERS, TEAMS, limited};
use crate::http::render::atlas_timestamp;
use crate::http::roles::{parse_group_role, parse_org_role, parse_org_roles, parse_username};
use crate::http::scope::org_for;
use crate::http::versioning::{
    ApiVersion, ResourceVersion, V2023_01_01_DEPRECATED, V2025_02_19, legacy, versioned,
};
use crate::state::AppState;

static CURRENT: [ResourceVersion; 1] = [V2025_02_19];
static DEPRECATED: [ResourceVersion; 1] = [V2023_01_01_DEPRECATED];
static BOTH: [ResourceVersion; 2] = [V2023_01_01_DEPRECATED, V2025_02_19];

/// Members only, as `CloudAppUser`s: the deprecated 2023-01-01 version and v1.0.
pub fn members_only(version: ApiVersion) -> bool {
    matches!(version, ApiVersion::Legacy) || version == ApiVersion::Dated(&V2023_01_01_DEPRECATED)
}

/// The `/api/atlas/v1.0` twin of the member list, which the public client libraries call.
pub fn legacy_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/orgs/{orgId}/users",
            legacy(limited(get(list_users), state, &ORG_USERS)),
        )
        // The legacy Go client's team membership calls (`go.mongodb.org/atlas` `TeamsService`).
        .route(
            "/orgs/{orgId}/teams/{teamId}/users",
            legacy(limited(
                get(list_team_users).post(add_team_users),
                state,
                &TEAMS,
            )),
        )
        .route(
            "/orgs/{orgId}/teams/{teamId}/users/{userId}",
            legacy(limited(delete(remove_team_user), state, &TEAMS)),
        )
}

pub fn routes(state: &AppState) -> Router<AppState> {
    let users = |routes, versions| versioned(limited(routes, state, &ORG_USERS), state, versions);
    let teams = |routes, versions| versioned(limited(routes, state, &TEAMS), state, versions);
    Router::new()
        .route(
            "/orgs/{orgId}/users",
            users(get(list_users), &BOTH).merge(users(post(create_user), &CURRENT)),
        )
        .route(
            "/orgs/{orgId}/users/{userId}",
            users(get(get_user).patch(update_user), &CURRENT)
                .merge(users(delete(remove_user), &BOTH)),
        )
        .route(
            // `…/{userId}:addRole` and `:removeRole`, split off by `split_custom_method`.
            "/orgs/{orgId}/users/{userId}/{method}",
            users(post(change_role), &CURRENT),
        )
        .route(
            "/orgs/{orgId}/users/{userId}/roles",
            users(put(replace_roles), &DEPRECATED),
        )
        .route(
            "/orgs/{orgId}/teams/{teamId}/users",
            teams(get(list_team_users), &BOTH).merge(teams(post(add_team_users), &DEPRECATED)),
        )
        .route(
            "/orgs/{orgId}/teams/{teamId}/users/{userId}",
            teams(delete(remove_team_user), &DEPRECATED),
        )
        .route(
            // `…/{teamId}:addUser` and `:removeUser`, split off by `split_custom_method`.
            "/orgs/{orgId}/teams/{teamId}/{method}",
            teams(post(change_team_membership), &CURRENT),
        )
}

/// `GroupRoleAssignment`: a project and the user's roles in it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRolesView {
    group_id: String,
    group_roles: Vec<&'static str>,
}

/// `OrgUserRolesResponse`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUserRolesView {
    group_role_assignments: Vec<GroupRolesView>,
    org_roles: Vec<&'static str>,
}

impl OrgUserRolesView {
    fn new(user: &OrgUser) -> Self {
        let assignments = match user {
            OrgUser::Member(member) => &member.group_role_assignments,
            OrgUser::Invited(invitation) => &invitation.group_role_assignments,
        };
        Self {
            group_role_assignments: group_by_project(assignments),
            org_roles: user.roles().iter().map(OrgRole::as_str).collect(),
        }
    }
}

/// One entry per project, its roles in the order given.
fn group_by_project(assignments: &[GroupRoleAssignment]) -> Vec<GroupRolesView> {
    let mut grouped: Vec<GroupRolesView> = Vec::new();
    for assignment in assignments {
        let role = assignment.role.as_str();
        match grouped
            .iter_mut()
            .find(|entry| entry.group_id == assignment.group_id.as_str())
        {
            Some(entry) => entry.group_roles.push(role),
            None => grouped.push(GroupRolesView {
                group_id: assignment.group_id.to_string(),
                group_roles: vec![role],
            }),
        }
    }
    grouped
}

/// `OrgActiveUserResponse`, or with project roles `GroupUserResponse`'s active shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveUserView<R> {
    country: String,
    created_at: String,
    first_name: String,
    id: String,
    last_name: String,
    mobile_number: String,
    org_membership_status: &'static str,
    roles: R,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_ids: Option<Vec<String>>,
    username: String,
}

/// `OrgPendingUserResponse`: pending, expired and declined invitees (or, with project roles,
/// `GroupUserResponse`'s pending shape).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingUserView<R> {
    id: String,
    invitation_created_at: String,
    /// `null` once the invitation is declined.
    invitation_expires_at: Option<String>,
    inviter_username: String,
    org_membership_status: &'static str,
    roles: R,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_ids: Option<Vec<String>>,
    username: String,
}

/// A user in the shape their status calls for, with the roles the resource shows.
#[derive(Serialize)]
#[serde(untagged)]
pub enum UserView<R> {
    Active(ActiveUserView<R>),
    Pending(PendingUserView<R>),
}

/// `OrgUserResponse`.
pub type OrgUserView = UserView<OrgUserRolesView>;

impl OrgUserView {
    pub fn new(user: OrgUser, now: OffsetDateTime) -> Self {
        let roles = OrgUserRolesView::new(&user);
        let team_ids = user.team_ids().iter().map(TeamId::to_string).collect();
        UserView::with_roles(user, now, roles, Some(team_ids))
    }
}

impl<R> UserView<R> {
    /// `user` as of `now`, showing `roles` and, when given, `team_ids`.
    pub fn with_roles(
        user: OrgUser,
        now: OffsetDateTime,
        roles: R,
        team_ids: Option<Vec<String>>,
    ) -> Self {
        let status = user.status(now).as_str();
        match user {
            OrgUser::Member(member) => UserView::Active(ActiveUserView {
                country: member.user.profile.country,
                created_at: atlas_timestamp(member.user.created_at),
                first_name: member.user.profile.first_name,
                id: member.user.id.into(),
                last_name: member.user.profile.last_name,
                mobile_number: member.user.profile.mobile_number,
                org_membership_status: status,
                roles,
                team_ids,
                username: member.user.username.into(),
            }),
            OrgUser::Invited(invitation) => UserView::Pending(PendingUserView {
                id: invitation.user_id.into(),
                invitation_created_at: atlas_timestamp(invitation.created_at),
                invitation_expires_at: invitation
                    .declined_at
                    .is_none()
                    .then(|| atlas_timestamp(invitation.expires_at)),
                inviter_username: invitation.inviter_username,
                org_membership_status: status,
                roles,
                team_ids,
                username: invitation.username.into(),
            }),
        }
    }
}

/// `CloudAccessRoleAssignment`: one role in one organization or one project.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentView {
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<String>,
    role_name: &'static str,
}

/// `CloudAppUser`: a member as the 2023-01-01 version and the `/users` look-ups show them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudAppUserView {
    country: String,
    created_at: String,
    email_address: String,
    first_name: String,
    id: String,
    last_name: String,
    links: Vec<Link>,
    mobile_number: String,
    roles: Vec<RoleAssignmentView>,
    team_ids: Vec<String>,
    username: String,
}

impl CloudAppUserView {
    /// The person with the roles and teams of the given memberships.
    pub fn new(base: &BaseUrl, user: orgdoor_domain::User, memberships: &[Member]) -> Self {
        let mut roles = Vec::new();
        let mut team_ids = Vec::new();
        for membership in memberships {
            roles.extend(membership.roles.iter().map(|role| RoleAssignmentView {
                group_id: None,
                org_id: Some(membership.org_id.to_string()),
                role_name: role.as_str(),
            }));
            roles.extend(membership.group_role_assignments.iter().map(|assignment| {
                RoleAssignmentView {
                    group_id: Some(assignment.group_id.to_string()),
                    org_id: None,
                    role_name: assignment.role.as_str(),
                }
            }));
            team_ids.extend(membership.team_ids.iter().map(TeamId::to_string));
        }
        Self {
            country: user.profile.country,
            created_at: atlas_timestamp(user.created_at),
            email_address: user.username.to_string(),
            first_name: user.profile.first_name,
            links: vec![Link::self_link(base, &format!("/users/{}", user.id))],
            id: user.id.into(),
            last_name: user.profile.last_name,
            mobile_number: user.profile.mobile_number,
            roles,
            team_ids,
            username: user.username.into(),
        }
    }
}

/// The status filter of a list: `orgMembershipStatuses` (repeatable, at most four) or the
/// deprecated single `orgMembershipStatus`, never both; ACTIVE and PENDING by default.
pub fn status_filter(query: &QueryParams) -> Result<Vec<MembershipStatus>, AppError> {
    const MANY: &str = "orgMembershipStatuses";
    const ONE: &str = "orgMembershipStatus";
    let many: Vec<&str> = query.all(MANY).collect();
    let one: Vec<&str> = query.all(ONE).collect();
    if !many.is_empty() && !one.is_empty() {
        return Err(AppError::MutuallyExclusiveQueryParameters(ONE, MANY));
    }
    let (name, values) = if one.is_empty() {
        (MANY, many)
    } else {
        (ONE, one)
    };
    if values.len() > if name == ONE { 1 } else { 4 } {
        return Err(AppError::InvalidQueryParameter(name.to_owned()));
    }
    let mut statuses = values
        .into_iter()
        .map(|value| {
            value
                .parse()
                .map_err(|_| AppError::InvalidQueryParameter(name.to_owned()))
        })
        .collect::<Result<Vec<MembershipStatus>, _>>()?;
    if statuses.is_empty() {
        statuses = MembershipStatus::DEFAULT.to_vec();
    }
    Ok(statuses)
}

/// The filter of a list request; the 2023-01-01 version and v1.0 list members only and ignore
/// the status and username filters ("not supported" there).
fn list_filter(
    query: &QueryParams,
    version: ApiVersion,
    team: Option<TeamId>,
) -> Result<OrgUserFilter, AppError> {
    if members_only(version) {
        return Ok(OrgUserFilter {
            statuses: vec![MembershipStatus::Active],
            username: None,
            user_id: None,
            team,
            project: None,
        });
    }
    let user_id = match (&team, query.get("userId")) {
        (Some(_), Some(raw)) => Some(
            raw.parse()
                .map_err(|_| AppError::InvalidQueryParameter("userId".into()))?,
        ),
        _ => None,
    };
    Ok(OrgUserFilter {
        statuses: status_filter(query)?,
        username: query.email("username")?,
        user_id,
        team,
        project: None,
    })
}

/// A paginated list in the version's item shape.
fn user_list(
    base: &BaseUrl,
    path: &str,
    list: &ListQuery,
    page: orgdoor_domain::Page<OrgUser>,
    version: ApiVersion,
    now: OffsetDateTime,
) -> Response {
    if members_only(version) {
        // This version's filter admits members only.
        let members = orgdoor_domain::Page {
            items: page
                .items
                .into_iter()
                .filter_map(|user| match user {
                    OrgUser::Member(member) => Some(member),
                    OrgUser::Invited(_) => None,
                })
                .collect(),
            total_count: page.total_count,
        };
        Json(Paginated::new(base, path, list, members, |member| {
            CloudAppUserView::new(base, member.user.clone(), std::slice::from_ref(&member))
        }))
        .into_response()
    } else {
        Json(Paginated::new(base, path, list, page, |user| {
            OrgUserView::new(user, now)
        }))
        .into_response()
    }
}

async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
    base: BaseUrl,
    version: ApiVersion,
    AtlasPath(org_id): AtlasPath<String>,
    query: QueryParams,
) -> Result<Response, AppError> {
    let organization = org_for(&state, &principal, &org_id, OrgAccess::Member).await?;
    let list = ListQuery::from_query(&query)?;
    let filter = list_filter(&query, version, None)?;
    let now = state.clock.now();
    let page = state
        .store
        .list_org_users(&organization.id, &filter, list.page, now)
        .await?;
    let path = format!("/orgs/{}/users", organization.id);
    Ok(user_list(&base, &path, &list, page, version, now))
}

/// `GroupRoleAssignment` as a request item.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupRolesRequest {
    group_id: Option<String>,
    group_roles: Option<Vec<String>>,
}

/// `OrgUserRolesRequest`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgUserRolesRequest {
    group_role_assignments: Option<Vec<GroupRolesRequest>>,
    org_roles: Option<Vec<String>>,
}

/// `OrgUserRequest`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgUserRequest {
    roles: Option<OrgUserRolesRequest>,
    team_ids: Option<Vec<String>>,
    username: Option<String>,
}

/// Server-set attributes of `OrgUserResponse`.
const USER_READ_ONLY: &[&str] = &[
    "id",
    "orgMembershipStatus",
    "invitationCreatedAt",
    "invitationExpiresAt",
    "inviterUsername",
    "country",
    "createdAt",
    "firstName",
    "lastAuth",
    "lastName",
    "mobileNumber",
];

impl RequestBody for OrgUserRequest {
    const READ_ONLY: &'static [&'static str] = USER_READ_ONLY;
}

/// `OrgUserUpdateRequest`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgUserUpdateRequest {
    roles: Option<OrgUserRolesRequest>,
    team_ids: Option<Vec<String>>,
}

impl RequestBody for OrgUserUpdateRequest {
    const READ_ONLY: &'static [&'static str] = USER_READ_ONLY;
    const FIXED: &'static [&'static str] = &["username"];
}

/// `AddOrRemoveOrgRole`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgRoleRequest {
    org_role: Option<String>,
}

impl RequestBody for OrgRoleRequest {}

/// `UpdateOrgRolesForUser`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct OrgRolesRequest {
    org_roles: Option<Vec<String>>,
}

impl RequestBody for OrgRolesRequest {
    const READ_ONLY: &'static [&'static str] = &["links"];
}

/// What a `roles` object sets: org roles (at least one) and, when given, project roles.
fn parse_roles(roles: OrgUserRolesRequest, org: &OrgId) -> Result<MembershipUpdate, AppError> {
    let org_roles = roles
        .org_roles
        .filter(|roles| !roles.is_empty())
        .ok_or_else(|| AppError::MissingAttribute("roles.orgRoles".into()))?;
    AppError::check_length("roles.orgRoles", &org_roles, MAX_ROLES)?;
    let group_role_assignments = roles
        .group_role_assignments
        .map(|requests| {
            AppError::check_length(
                "roles.groupRoleAssignments",
                &requests,
                MAX_GROUP_ROLE_ASSIGNMENTS,
            )?;
            let mut assignments = Vec::new();
            for request in requests {
                let raw_group = request.group_id.ok_or_else(|| {
                    AppError::MissingAttribute("roles.groupRoleAssignments.groupId".into())
                })?;
                let group_id = crate::http::extract::parse_group_id(&raw_group)?;
                let group_roles = request.group_roles.unwrap_or_default();
                AppError::check_length(
                    "roles.groupRoleAssignments.groupRoles",
                    &group_roles,
                    MAX_ROLES,
                )?;
                for role in group_roles {
                    assignments.push(GroupRoleAssignment {
                        group_id: group_id.clone(),
                        role: parse_group_role(role, &raw_group)?,
                    });
                }
            }
            Ok::<_, AppError>(assignments)
        })
        .transpose()?;
    Ok(MembershipUpdate {
        roles: Some(parse_org_roles(org_roles, org)?),
        team_ids: None,
        group_role_assignments,
    })
}

fn parse_team_ids(team_ids: &[String]) -> Result<Vec<TeamId>, AppError> {
    AppError::check_length("teamIds", team_ids, MAX_TEAM_IDS)?;
    team_ids.iter().map(|id| parse_team_id(id)).collect()
}

async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    AtlasPath(org_id): AtlasPath<String>,
    body: AtlasJson<OrgUserRequest>,
) -> Result<(StatusCode, Json<OrgUserView>), AppError> {
    let organization = org_for(&state, &principal, &org_id, OrgAccess::Owner).await?;
    let request = body.parse()?;
    let username = parse_username(request.username)?;
    let roles = request
        .roles
        .ok_or_else(|| AppError::MissingAttribute("roles".into()))?;
    let granted = parse_roles(roles, &organization.id)?;
    let invitation = NewInvitation {
        org_id: organization.id.clone(),
        username,
        roles: granted
            .roles
            .ok_or_else(|| AppError::MissingAttribute("roles.orgRoles".into()))?,
        team_ids: parse_team_ids(request.team_ids.as_deref().unwrap_or_default())?,
        group_role_assignments: granted.group_role_assignments.unwrap_or_default(),
        inviter_username: principal.username().to_owned(),
    };
    let now = state.clock.now();
    let invitation = state
        .store
        .invite(&invitation.into_invitation(now), WhenPending::Refuse, now)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(OrgUserView::new(OrgUser::Invited(invitation), now)),
    ))
}

/// Maps "no such user here" to `USER_NOT_IN_ORG` naming the id the client sent.
fn not_in_org(org: &OrgId, user: &str) -> impl FnOnce(StoreError) -> AppError {
    let (org, user) = (org.to_string(), user.to_owned());
    move |error| match error {
        StoreError::Rejected(Rejection::UserNotInOrg { .. }) => AppError::UserNotInOrg {
            username: user,
            org,
        },
        other => other.into(),
    }
}

async fn get_user(
    State(state): State<AppState>,
    principal: Principal,
    AtlasPath((org_id, raw_user)): AtlasPath<(String, String)>,
    query: QueryParams,
) -> Result<Json<OrgUserView>, AppError> {
    let organization = org_for(&state, &principal, &org_id, OrgAccess::Member).await?;
    let id = parse_user_id(&raw_user)?;
    let statuses = status_filter(&query)?;
    let now = state.clock.now();
    let user = state
        .store
        .get_org_user(&organization.id, &id)
        .await?
        .filter(|user| statuses.contains(&user.status(now)))
        .ok_or_else(|| AppError::UserNotInOrg {
            username: raw_user,
            org: organization.id.to_string(),
        })?;
    Ok(Json(OrgUserView::new(user, now)))
}

async fn update_user(
    State(state): State<AppState>,
    principal: Principal,
    AtlasPath((org_id, raw_user)): AtlasPath<(String, String)>,
    body: AtlasJson<OrgUserUpdateRequest>,
) -> Result<Json<OrgUserView>, AppError> {
    let organization = org_for(&state, &principal, &org_id, OrgAccess::Owner).await?;
    let request = body.parse()?;
    let id = parse_user_id(&raw_user)?;
    let mut update = match request.roles {
        Some(roles) => parse_roles(roles, &organization.id)?,
        None => MembershipUpdate::default(),
    };
    update.team_ids = request
        .team_ids
        .as_deref()
        .map(parse_team_ids)
        .transpose()?;
    let now = state.clock.now();
    let user = state
        .store
        .update_org_user(&organization.id, &id, update, now)
        .await
        .map_err(not_in_org(&organization.id, &raw_user))?;
    Ok(Json(OrgUserView::new(user, now)))
}

/// `POST …/users/{userId}:addRole` and `:removeRole`.
async fn change_role(
    State(state): State<AppState>,
    principal: Principal,
    AtlasPath((org_id, raw_user, method)): AtlasPath<(String, String, String)>,
    body: AtlasJson<OrgRoleRequest>,
) -> Result<Json<OrgUserView>, AppError> {
    let change: fn(OrgRole) -> RoleChange = match method.as_str() {
        ":addRole" => RoleChange::Add,
        ":removeRole" => RoleChange::Remove,
        _ => return Err(AppError::ResourceNotFound(format!("{raw_user}/{method}"))),
    };
    let raw_user = raw_user.as_str();
    let organization = org_for(&state, &principal, &org_id, OrgAccess::Owner).await?;
    let request = body.parse()?;
    let id = parse_user_id(raw_user)?;
    let role = request
        .org_role
        .ok_or_else(|| AppError::MissingAttribute("orgRole".into()))?;
    let role = parse_org_role(role, &organization.id)?;
    let now = state.clock.now();
    let user = state
        .store
        .change_org_user_role(&organization.id, &id, change(role), now)
        .await
        .map_err(not_in_org(&organization.id, raw_user))?;
    Ok(Json(OrgUserView::new(user, now)))
}

/// The deprecated `PUT …/roles`: replaces the org roles and echoes them.
async fn replace_roles(
    State(state): State<AppState>,
    principal: Principal,
    AtlasPath((org_id, raw_user)): AtlasPath<(String, String)>,
    body: AtlasJson<OrgRolesRequest>,
) -> Result<Json<OrgRolesRequest>, AppError> {
    let organization = org_for(&state, &principal, &org_id, OrgAccess::Owner).await?;
    let request = body.parse()?;
    let id = parse_user_id(&raw_user)?;
    let org_roles = request.org_roles.unwrap_or_default();
    AppError::check_length("orgRoles", &org_roles, MAX_ROLES)?;
    let roles = parse_org_roles(org_roles, &organization.id).map_err(|error| match error {
        AppError::MissingAttribute(_) => AppError::MissingAttribute("orgRoles".into()),
        other => other,
    })?;
    let update = MembershipUpdate {
        roles: Some(roles),
        ..MembershipUpdate::default()
    };
    let user = state
        .store
        .update_org_user(&organization.id, &id, update, state.clock.now())
        .await
        .map_err(not_in_org(&organization.id, &raw_user))?;
    Ok(Json(OrgRolesRequest {
        org_roles: Some(
            user.roles()
                .iter()
                .map(|role| role.as_str().to_owned())
                .collect(),
        ),
    }))
}

/// Removes a member, or in 2025-02-19 also an invitee (which cancels the invitation).
async fn remove_user(
    State(state): State<AppState>,
    principal: Principal,
    version: ApiVersion,
    AtlasPath((org_id, raw_user)): AtlasPath<(String, String)>,
) -> Result<StatusCode, AppError> {
    let organization = org_for(&state, &principal, &org_id, OrgAccess::Owner).await?;
    let id = parse_user_id(&raw_user)?;
    let members_only = version == ApiVersion::Dated(&V2023_01_01_DEPRECATED);
    state
        .store
        .remove_org_user(&organization.id, &id, members_only)
        .await
        .map_err(not_in_org(&organization.id, &raw_user))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The team, which must be in the caller's organization.
async fn team_of(
    state: &AppState,
    organization: &Organization,
    raw_team: &str,
) -> Result<TeamId, AppError> {
    let id = parse_team_id(raw_team)?;
    state
        .store
        .get_team(&organization.id, &id)
        .await?
        .map(|team| team.id)
        .ok_or_else(|| AppError::TeamNotFound(raw_team.to_owned()))
}

async fn list_team_users(
    State(state): State<AppState>,
    principal: Principal,
    base: BaseUrl,
    version: ApiVersion,
    AtlasPath((org_id, raw_team)): AtlasPath<(String, String)>,
    query: QueryParams,
) -> Result<Response, AppError> {
    let organization = org_for(&state, &principal, &org_id, OrgAccess::Member).await?;
    let team = team_of(&state, &organization, &raw_team).await?;
    let list = ListQuery::from_query(&query)?;
    let filter = list_filter(&query, version, Some(team.clone()))?;
    let now = state.clock.now();
    let page = state
        .store
        .list_org_users(&organization.id, &filter, list.page, now)
        .await?;
    let path = format!("/orgs/{}/teams/{team}/users", organization.id);
    Ok(user_list(&base, &path, &list, page, version, now))
}

/// `AddUserToTeam`.
#[derive(Deserialize)]
struct AddUserToTeamRequest {
    id: Option<String>,
}

/// The body of `addTeamUsers`: a JSON array of `AddUserToTeam`.
#[derive(Deserialize)]
#[serde(transparent)]
struct AddUsersToTeamRequest(Vec<AddUserToTeamRequest>);

impl RequestBody for AddUsersToTeamRequest {
    const IS_ARRAY: bool = true;
}

/// Adds members to a team and answers with the team's members (2023-01-01 `CloudAppUser`s).
async fn add_team_users(
    State(state): State<AppState>,
    principal: Principal,
    base: BaseUrl,
    AtlasPath((org_id, raw_team)): AtlasPath<(String, String)>,
    body: AtlasJson<AddUsersToTeamRequest>,
) -> Result<Response, AppError> {
    let organization = org_for(&state, &principal, &org_id, OrgAccess::Owner).await?;
    let AddUsersToTeamRequest(requests) = body.parse()?;
    let team = team_of(&state, &organization, &raw_team).await?;
    if requests.is_empty() {
        return Err(AppError::MissingAttribute("id".into()));
    }
    AppError::check_length("id", &requests, MAX_TEAM_USERS)?;
    let users = requests
        .into_iter()
        .map(|request| {
            let raw = request
                .id
                .ok_or_else(|| AppError::MissingAttribute("id".into()))?;
            parse_user_id(&raw)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let users = dedup(users);
    let now = state.clock.now();
    state
        .store
        .add_team_members(&organization.id, &team, &users, now)
        .await
        .map_err(|error| match error {
            StoreError::Rejected(Rejection::NotFound) => AppError::TeamNotFound(raw_team.clone()),
            other => other.into(),
        })?;
    let filter = OrgUserFilter {
        statuses: vec![MembershipStatus::Active],
        username: None,
        user_id: None,
        team: Some(team.clone()),
        project: None,
    };
    let list = ListQuery::from_query(&QueryParams::default())?;
    let page = state
        .store
        .list_org_users(&organization.id, &filter, list.page, now)
        .await?;
    let path = format!("/orgs/{}/teams/{team}/users", organization.id);
    Ok(user_list(
        &base,
        &path,
        &list,
        page,
        ApiVersion::Dated(&V2023_01_01_DEPRECATED),
        now,
    ))
}

async fn remove_team_user(
    State(state): State<AppState>,
    principal: Principal,
    AtlasPath((org_id, raw_team, raw_user)): AtlasPath<(String, String, String)>,
) -> Result<StatusCode, AppError> {
    let organization = org_for(&state, &principal, &org_id, OrgAccess::Owner).await?;
    let team = parse_team_id(&raw_team)?;
    let id = parse_user_id(&raw_user)?;
    state
        .store
        .remove_team_member(&organization.id, &team, &id)
        .await
        .map_err(|error| match error {
            StoreError::Rejected(Rejection::NotFound) => AppError::TeamNotFound(raw_team.clone()),
            other => not_in_org(&organization.id, &raw_user)(other),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `AddOrRemoveUserFromTeam`.
#[derive(Deserialize)]
struct TeamMemberRequest {
    id: Option<String>,
}

impl RequestBody for TeamMemberRequest {}

/// `POST …/teams/{teamId}:addUser` and `:removeUser` (2025-02-19, the successors of the
/// deprecated team-user paths): one member or pending invitee in or out; answers with them.
async fn change_team_membership(
    State(state): State<AppState>,
    principal: Principal,
    AtlasPath((org_id, raw_team, method)): AtlasPath<(String, String, String)>,
    body: AtlasJson<TeamMemberRequest>,
) -> Result<Json<OrgUserView>, AppError> {
    let join = match method.as_str() {
        ":addUser" => true,
        ":removeUser" => false,
        _ => return Err(AppError::ResourceNotFound(format!("{raw_team}/{method}"))),
    };
    let organization = org_for(&state, &principal, &org_id, OrgAccess::Owner).await?;
    let request = body.parse()?;
    let team = parse_team_id(&raw_team)?;
    let raw_user = request
        .id
        .ok_or_else(|| AppError::MissingAttribute("id".into()))?;
    let user = parse_user_id(&raw_user)?;
    let now = state.clock.now();
    let changed = match state
        .store
        .change_team_membership(&organization.id, &team, &user, join, now)
        .await
    {
        // `:addUser` documents no 409: adding someone already in the team changes nothing,
        // as the role custom methods do, and answers the user as they are.
        Err(StoreError::Rejected(Rejection::AlreadyInTeam { .. })) => state
            .store
            .get_org_user(&organization.id, &user)
            .await?
            .ok_or_else(|| AppError::UserNotInOrg {
                username: raw_user.clone(),
                org: organization.id.to_string(),
            })?,
        other => other.map_err(|error| match error {
            StoreError::Rejected(Rejection::NotFound) => AppError::TeamNotFound(raw_team.clone()),
            other => not_in_org(&organization.id, &raw_user)(other),
        })?,
    };
    Ok(Json(OrgUserView::new(changed, now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::extract::parse_body;
    use proptest::prelude::*;

    fn query(pairs: &[(&str, &str)]) -> QueryParams {
        QueryParams::from_pairs(pairs)
    }

    #[test]
    fn statuses_default_to_active_and_pending() {
        assert_eq!(
            status_filter(&query(&[])).expect("default"),
            MembershipStatus::DEFAULT.to_vec()
        );
    }

    #[test]
    fn statuses_repeat_up_to_four_and_exclude_the_deprecated_form() {
        let many = query(&[
            ("orgMembershipStatuses", "PENDING"),
            ("orgMembershipStatuses", "INVITATION_EXPIRED"),
        ]);
        assert_eq!(
            status_filter(&many).expect("two"),
            vec![
                MembershipStatus::Pending,
                MembershipStatus::InvitationExpired
            ]
        );
        let both = query(&[
            ("orgMembershipStatuses", "PENDING"),
            ("orgMembershipStatus", "ACTIVE"),
        ]);
        assert!(matches!(
            status_filter(&both),
            Err(AppError::MutuallyExclusiveQueryParameters(..))
        ));
        let five = query(&[("orgMembershipStatuses", "ACTIVE"); 5]);
        assert!(matches!(
            status_filter(&five),
            Err(AppError::InvalidQueryParameter(_))
        ));
        assert!(matches!(
            status_filter(&query(&[("orgMembershipStatus", "active")])),
            Err(AppError::InvalidQueryParameter(_))
        ));
    }

    #[test]
    fn project_roles_are_grouped_per_project_in_order() {
        let group: orgdoor_domain::GroupId = "0123456789abcdef01234567".parse().expect("id");
        let other: orgdoor_domain::GroupId = "1123456789abcdef01234567".parse().expect("id");
        let assignment = |group_id: &orgdoor_domain::GroupId, role| GroupRoleAssignment {
            group_id: group_id.clone(),
            role,
        };
        let grouped = group_by_project(&[
            assignment(&group, orgdoor_domain::GroupRole::Owner),
            assignment(&other, orgdoor_domain::GroupRole::ReadOnly),
            assignment(&group, orgdoor_domain::GroupRole::ClusterManager),
        ]);
        assert_eq!(grouped.len(), 2);
        assert_eq!(
            grouped[0].group_roles,
            vec!["GROUP_OWNER", "GROUP_CLUSTER_MANAGER"]
        );
        assert_eq!(grouped[1].group_id, other.as_str());
    }

    fn describe(error: &AppError) -> String {
        match error {
            AppError::InvalidRoleForOrg { role, .. } => format!("InvalidRoleForOrg({role})"),
            AppError::InvalidRoleForGroup { role, .. } => format!("InvalidRoleForGroup({role})"),
            AppError::InvalidEnumValue(role) => format!("InvalidEnumValue({role})"),
            AppError::MissingAttribute(name) => format!("MissingAttribute({name})"),
            AppError::InvalidGroupId(id) => format!("InvalidGroupId({id})"),
            other => format!("{other:?}"),
        }
    }

    proptest! {
        #[test]
        fn user_bodies_fail_on_the_field_the_schema_refuses(
            key in proptest::sample::select(vec!["username", "teamIds", "roles", "id", "orgMembershipStatus", "colour"]),
            kind in 0..7usize,
            text in "[A-Za-z_@.]{0,12}",
            number in any::<i32>(),
        ) {
            use serde_json::json;
            // One field set to a value of each JSON kind; the schema written out as a table.
            let values = [
                json!(null), json!(true), json!(number), json!(text),
                json!({"orgRoles": [text]}), json!([text]), json!([number]),
            ];
            let fits = match key {
                "username" => matches!(kind, 0 | 3),
                "teamIds" => matches!(kind, 0 | 5),
                "roles" => matches!(kind, 0 | 4),
                _ => false,
            };
            let body = json!({ key: values[kind].clone() }).to_string();
            let result = parse_body::<OrgUserRequest>(body.as_bytes()).err().map(|error| describe(&error));
            let expected = match key {
                // Server-set: ignored whatever the value (generated clients send them back).
                "id" | "orgMembershipStatus" => None,
                "colour" => Some("InvalidAttribute(\"colour\")".to_owned()),
                _ if fits => None,
                "teamIds" if kind == 6 => Some("InvalidJsonAttribute(\"teamIds[0]\")".to_owned()),
                // serde reads an object from an array by position, so the first element is named.
                "roles" if matches!(kind, 5 | 6) => Some("InvalidJsonAttribute(\"roles[0]\")".to_owned()),
                _ => Some(format!("InvalidJsonAttribute({key:?})")),
            };
            prop_assert_eq!(result, expected, "{}", body);
        }

        #[test]
        fn role_objects_convert_to_what_the_rules_allow(
            org_roles in proptest::option::of(proptest::collection::vec(prop_oneof![
                6 => "ORG_OWNER|ORG_MEMBER|ORG_READ_ONLY",
                1 => "GROUP_OWNER|org_owner|X",
            ], 0..3)),
            groups in proptest::option::of(proptest::collection::vec(
                (
                    prop_oneof![6 => "[a-f0-9]{24}", 1 => "[A-F][a-fA-F0-9]{23}", 1 => "[a-f0-9]{23}|x"],
                    proptest::collection::vec(prop_oneof![
                        6 => "GROUP_OWNER|GROUP_READ_ONLY",
                        1 => "ORG_OWNER|group_owner|Y",
                    ], 0..3),
                ),
                0..3,
            )),
        ) {
            let body = serde_json::json!({
                "roles": {
                    "orgRoles": org_roles,
                    "groupRoleAssignments": groups.as_ref().map(|groups| groups
                        .iter()
                        .map(|(id, roles)| serde_json::json!({"groupId": id, "groupRoles": roles}))
                        .collect::<Vec<_>>()),
                },
            });
            let request = parse_body::<OrgUserUpdateRequest>(body.to_string().as_bytes()).expect("well-typed");
            let org: OrgId = "0123456789abcdef01234567".parse().expect("id");
            let roles = request.roles.expect("roles were sent");
            // Every error the body's bad parts justify (CONTRACT's enums and HEX24, written out);
            // none means it must convert.
            let org_enum = ["ORG_OWNER", "ORG_MEMBER", "ORG_READ_ONLY"];
            let group_enum = ["GROUP_OWNER", "GROUP_READ_ONLY"];
            let hex24 = |id: &str| id.len() == 24 && id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
            let mut justified = Vec::new();
            match &org_roles {
                None => justified.push("MissingAttribute(roles.orgRoles)".to_owned()),
                Some(list) if list.is_empty() => justified.push("MissingAttribute(roles.orgRoles)".to_owned()),
                Some(list) => justified.extend(list.iter().filter(|r| !org_enum.contains(&r.as_str())).map(|r| {
                    if group_enum.contains(&r.as_str()) { format!("InvalidRoleForOrg({r})") } else { format!("InvalidEnumValue({r})") }
                })),
            }
            for (id, group_roles) in groups.iter().flatten() {
                if !hex24(id) {
                    justified.push(format!("InvalidGroupId({id})"));
                }
                justified.extend(group_roles.iter().filter(|r| !group_enum.contains(&r.as_str())).map(|r| {
                    if org_enum.contains(&r.as_str()) { format!("InvalidRoleForGroup({r})") } else { format!("InvalidEnumValue({r})") }
                }));
            }
            match parse_roles(roles, &org) {
                Ok(_) => prop_assert!(justified.is_empty(), "{} converted despite {:?}", body, justified),
                Err(error) => {
                    let error = describe(&error);
                    prop_assert!(justified.contains(&error), "{}: {} not in {:?}", body, error, justified);
                }
            }
        }
    }
}
