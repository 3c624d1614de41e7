//! Users of a project: `/groups/{groupId}/users…` and the older `POST /groups/{groupId}/access`.
//!
//! A project user is a member of the project's organization with roles in the project, or an
//! invitee whose invitation offers roles there. One record, three views: the invitation is also
//! the organization's invitation and the project invitation (`/groups/{groupId}/invites`), so
//! every change shows in all of them. Adding someone who is not in the organization invites
//! them into it (`ORG_MEMBER`) and the project; accepting makes them an active user with the
//! roles; removing a pending user takes the project out of their invitation.
//!
//! Version 2025-02-19 shows members and invitees as `GroupUserResponse`; the deprecated
//! 2023-01-01 version and v1.0 list and remove members only, as `CloudAppUser`. Reads need
//! Project Read Only, writes Project Owner (the spec's "Project Access Manager", a role orgdoor
//! does not model).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use orgdoor_domain::{
    Group, GroupRole, NewInvitation, OrgRole, OrgUser, ProjectRoleChange, TeamId,
};
use orgdoor_store::{Newcomer, OrgUserFilter, ProjectAddition, ProjectFilter, ProjectTeam};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::error::AppError;
use crate::http::custom_methods::{CustomMethod, RoleMethod};
use crate::http::extract::{
    AtlasJson, AtlasPath, BaseUrl, QueryParams, RequestBody, parse_user_id,
};
use crate::http::operations::{ApiRoutes, legacy, versioned};
use crate::http::pagination::{ListQuery, Paginated};
use crate::http::rate_limits::{PROJECTS, limited};
use crate::http::roles::{parse_group_role, parse_named_roles, parse_roles, parse_username};
use crate::http::scope::{GroupOwner, GroupReadOnly, GroupScope, ScopeSegment};
use crate::http::user_lists::{
    USER_READ_ONLY, find_org_user, member_list, members_only, status_filter,
};
use crate::http::versioning::{
    ApiVersion, MEMBERS_BOTH, MEMBERS_CURRENT, MEMBERS_DEPRECATED, V2023_02_01_DEPRECATED,
};
use crate::mail::{InvitationNotice, invitation_letter};
use crate::state::AppState;
use crate::views::{InvitationView, UserView};

const USERS: &str = "/groups/{groupId}/users";
const USER: &str = "/groups/{groupId}/users/{userId}";

/// The project-users operations, `addGroupUser` (2023-02-01), and the member list and removal
/// under `/api/atlas/v1.0`.
pub fn routes(state: &AppState) -> ApiRoutes {
    let users = |routes, versions| versioned(limited(routes, state, &PROJECTS), state, versions);
    ApiRoutes::default()
        .v2(
            USERS,
            users(get(list_users), MEMBERS_BOTH).merge(users(post(add_user), MEMBERS_CURRENT)),
        )
        .v2(
            USER,
            users(get(get_user), MEMBERS_CURRENT).merge(users(delete(remove_user), MEMBERS_BOTH)),
        )
        .v2(
            // `…/{userId}:addRole` and `:removeRole`, split off by `split_custom_method`.
            "/groups/{groupId}/users/{userId}/{method}",
            users(post(change_role), MEMBERS_CURRENT),
        )
        .v2(
            "/groups/{groupId}/users/{userId}/roles",
            users(put(replace_roles), MEMBERS_DEPRECATED),
        )
        .v2(
            "/groups/{groupId}/access",
            users(post(add_access), &[V2023_02_01_DEPRECATED]),
        )
        .v1(
            USERS,
            legacy(limited(get(list_users), state, &PROJECTS), state),
        )
        .v1(
            USER,
            legacy(limited(delete(remove_user), state, &PROJECTS), state),
        )
}

/// `GroupUserResponse`: the user, with their roles in the project.
type GroupUserView = UserView<Vec<&'static str>>;

/// `user` as a user of `group`: the roles they hold (or are offered) there, and with
/// `teams`, those their teams hold there too.
fn group_user(
    user: OrgUser,
    group: &Group,
    teams: &[ProjectTeam],
    now: OffsetDateTime,
) -> GroupUserView {
    let mut roles: Vec<GroupRole> = user
        .roles_in(&group.id)
        .map(|roles| roles.as_slice().to_vec())
        .unwrap_or_default();
    for team in teams
        .iter()
        .filter(|team| user.team_ids().contains(&team.team_id))
    {
        for role in team.roles.iter() {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
    }
    let roles = roles.into_iter().map(GroupRole::as_str).collect();
    UserView::with_roles(user, now, roles, None)
}

/// Users with roles in the project; with `flattenTeams`, also those in teams with roles there,
/// and with `includeOrgUsers`, those whose organization role reaches every project.
async fn list_users(
    State(state): State<AppState>,
    base: BaseUrl,
    version: ApiVersion,
    query: QueryParams,
    GroupScope(group, _): GroupScope<GroupReadOnly>,
) -> Result<Response, AppError> {
    let list = ListQuery::from_query(&query)?;
    let members_only = members_only(version);
    // The status and username filters are "not supported in deprecated versions".
    let (statuses, username) = if members_only {
        (vec![orgdoor_domain::MembershipStatus::Active], None)
    } else {
        (status_filter(&query)?, query.email("username")?)
    };
    let teams = if query.flag("flattenTeams", false) {
        state.store.list_project_teams(&group.id).await?
    } else {
        Vec::new()
    };
    let org_roles = if query.flag("includeOrgUsers", false) {
        vec![OrgRole::Owner, OrgRole::ReadOnly]
    } else {
        Vec::new()
    };
    let filter = OrgUserFilter {
        statuses,
        username,
        user_id: None,
        team: None,
        project: Some(ProjectFilter {
            group: group.id.clone(),
            teams: teams
                .iter()
                .map(|team| team.team_id.clone())
                .collect::<Vec<TeamId>>(),
            org_roles,
        }),
    };
    let now = state.clock.now();
    let page = state
        .store
        .list_org_users(&group.org_id, &filter, list.page, now)
        .await?;
    let path = format!("/groups/{}/users", group.id);
    if members_only {
        Ok(member_list(&base, &path, &list, page))
    } else {
        Ok(Json(Paginated::new(&base, &path, &list, page, |user| {
            group_user(user, &group, &teams, now)
        }))
        .into_response())
    }
}

/// Server-set attributes of `GroupInvitation`.
pub const INVITATION_READ_ONLY: &[&str] = &[
    "createdAt",
    "expiresAt",
    "groupId",
    "groupName",
    "id",
    "inviterUsername",
    "links",
];

/// `GroupInvitationRequest`: create and update-by-username of project invitations, and
/// `addGroupUser`.
#[derive(Deserialize)]
pub struct ProjectInvitationRequest {
    pub roles: Option<Vec<String>>,
    pub username: Option<String>,
}

impl RequestBody for ProjectInvitationRequest {
    const READ_ONLY: &'static [&'static str] = INVITATION_READ_ONLY;
}

/// `GroupUserRequest`.
#[derive(Deserialize)]
struct GroupUserRequest {
    roles: Option<Vec<String>>,
    username: Option<String>,
}

impl RequestBody for GroupUserRequest {
    const READ_ONLY: &'static [&'static str] = USER_READ_ONLY;
}

/// Adds someone to the project by address, as `addition` says, from a request's `roles` and
/// `username` (project invitations add this way too).
pub async fn add_to_project(
    state: &AppState,
    principal: &Principal,
    group: &Group,
    roles: Option<Vec<String>>,
    username: Option<String>,
    addition: ProjectAddition,
) -> Result<OrgUser, AppError> {
    let username = parse_username(username)?;
    let roles = parse_roles(roles, group)?;
    let now = state.clock.now();
    let newcomer = NewInvitation::into_project(
        group.org_id.clone(),
        &group.id,
        username,
        &roles,
        principal.username().to_owned(),
    )
    .into_invitation(now);
    let letter = invitation_letter(
        &state.public_url,
        InvitationNotice::Project(group),
        &newcomer,
        now,
    );
    let added = state
        .store
        .add_project_user(
            &group.id,
            &roles,
            Newcomer {
                invitation: &newcomer,
                letter: Some(&letter),
            },
            addition,
            now,
        )
        .await?;
    state.outbox_posted.notify_one();
    Ok(added)
}

/// `addGroupUsers`: a member gets the roles at once, an invitee's invitation takes them, anyone
/// else is invited; 409 for who is a user of the project already.
async fn add_user(
    State(state): State<AppState>,
    principal: Principal,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<GroupUserRequest>,
) -> Result<(StatusCode, Json<GroupUserView>), AppError> {
    let request = body.parse()?;
    let user = add_to_project(
        &state,
        &principal,
        &group,
        request.roles,
        request.username,
        ProjectAddition::NewUser,
    )
    .await?;
    let now = state.clock.now();
    Ok((
        StatusCode::CREATED,
        Json(group_user(user, &group, &[], now)),
    ))
}

/// `addGroupUser` (2023-02-01): as `addGroupUsers` without the conflict; answers with the
/// organization's invitation when the user has yet to accept one, else 204.
async fn add_access(
    State(state): State<AppState>,
    principal: Principal,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<ProjectInvitationRequest>,
) -> Result<Response, AppError> {
    let request = body.parse()?;
    let user = add_to_project(
        &state,
        &principal,
        &group,
        request.roles,
        request.username,
        ProjectAddition::Access,
    )
    .await?;
    match user {
        OrgUser::Member(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        OrgUser::Invited(invitation) => {
            let organization = state
                .store
                .get_organization(&group.org_id)
                .await?
                .ok_or_else(|| AppError::GroupNotFound(group.id.to_string()))?;
            Ok(Json(InvitationView::new(&organization, &invitation)).into_response())
        }
    }
}

/// One user of the project, of the statuses asked for (ACTIVE and PENDING by default).
async fn get_user(
    State(state): State<AppState>,
    AtlasPath((_, raw_user)): AtlasPath<(ScopeSegment, String)>,
    query: QueryParams,
    GroupScope(group, _): GroupScope<GroupReadOnly>,
) -> Result<Json<GroupUserView>, AppError> {
    let now = state.clock.now();
    let user = find_org_user(&state, &group.org_id, &raw_user, &query, now)
        .await?
        .filter(|user| user.roles_in(&group.id).is_some())
        .ok_or_else(|| AppError::UserNotInGroup {
            user: raw_user,
            group: group.id.to_string(),
        })?;
    Ok(Json(group_user(user, &group, &[], now)))
}

/// Takes a user out of the project: a member keeps their organization membership; a pending
/// user's invitation stops offering the project (2025-02-19 only).
async fn remove_user(
    State(state): State<AppState>,
    version: ApiVersion,
    AtlasPath((_, raw_user)): AtlasPath<(ScopeSegment, String)>,
    GroupScope(group, _): GroupScope<GroupOwner>,
) -> Result<StatusCode, AppError> {
    let user = parse_user_id(&raw_user)?;
    state
        .store
        .remove_project_user(&group.id, &user, members_only(version))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `AddOrRemoveGroupRole`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupRoleRequest {
    group_role: Option<String>,
}

impl RequestBody for GroupRoleRequest {}

/// `POST …/users/{userId}:addRole` and `:removeRole`: adding a held role or removing one not
/// held changes nothing; the last role stays.
async fn change_role(
    State(state): State<AppState>,
    AtlasPath((_, raw_user, _)): AtlasPath<(ScopeSegment, String, IgnoredAny)>,
    CustomMethod(method): CustomMethod<RoleMethod>,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<GroupRoleRequest>,
) -> Result<Json<GroupUserView>, AppError> {
    let change: fn(GroupRole) -> ProjectRoleChange = match method {
        RoleMethod::AddRole => ProjectRoleChange::Add,
        RoleMethod::RemoveRole => ProjectRoleChange::Remove,
    };
    let request = body.parse()?;
    let id = parse_user_id(&raw_user)?;
    let role = request
        .group_role
        .ok_or_else(|| AppError::MissingAttribute("groupRole".into()))?;
    let role = parse_group_role(role, group.id.as_str())?;
    let now = state.clock.now();
    let user = state
        .store
        .change_project_user_roles(&group.id, &id, change(role), now)
        .await?;
    Ok(Json(group_user(user, &group, &[], now)))
}

/// `UpdateGroupRolesForUser`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupRolesRequest {
    group_roles: Option<Vec<String>>,
}

impl RequestBody for GroupRolesRequest {
    const READ_ONLY: &'static [&'static str] = &["links"];
}

/// The deprecated `PUT …/roles`: replaces the user's roles in the project and echoes them.
async fn replace_roles(
    State(state): State<AppState>,
    AtlasPath((_, raw_user)): AtlasPath<(ScopeSegment, String)>,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<GroupRolesRequest>,
) -> Result<Json<GroupRolesRequest>, AppError> {
    let request = body.parse()?;
    let id = parse_user_id(&raw_user)?;
    let roles = parse_named_roles("groupRoles", request.group_roles, &group)?;
    let user = state
        .store
        .change_project_user_roles(
            &group.id,
            &id,
            ProjectRoleChange::Replace(roles),
            state.clock.now(),
        )
        .await?;
    let roles = user
        .roles_in(&group.id)
        .map(|roles| roles.iter().map(|role| role.as_str().to_owned()).collect());
    Ok(Json(GroupRolesRequest { group_roles: roles }))
}
