//! MongoDB Cloud users of an organization: `/orgs/{orgId}/users…` (team membership is in
//! `team_members`).
//!
//! Version 2025-02-19 shows members and invitees alike as `OrgUserResponse` (the invitation
//! successor API); the deprecated 2023-01-01 version shows members only, as `CloudAppUser`.
//! Reads need Organization Member, writes Organization Owner.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use orgdoor_domain::limits::{MAX_GROUP_ROLE_ASSIGNMENTS, MAX_ROLES};
use orgdoor_domain::{
    GroupRoleAssignment, MembershipUpdate, NewInvitation, OrgId, OrgRole, OrgUser, RoleChange,
};
use orgdoor_store::WhenPending;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::error::AppError;
use crate::held_views::{Lookup, RenderedView, ViewKey};
use crate::http::custom_methods::{CustomMethod, RoleMethod};
use crate::http::extract::{
    AtlasJson, AtlasPath, BaseUrl, QueryParams, RequestBody, parse_team_ids, parse_user_id,
};
use crate::http::operations::{ApiRoutes, legacy, versioned};
use crate::http::pagination::ListQuery;
use crate::http::rate_limits::{ORG_USERS, limited};
use crate::http::render::json_response;
use crate::http::roles::{parse_group_role, parse_org_role, parse_org_roles, parse_username};
use crate::http::scope::{OrgMember, OrgOwner, OrgScope, ScopeSegment};
use crate::http::user_lists::{
    USER_READ_ONLY, find_org_user, invite_into_org, list_filter, render_user_list,
};
use crate::http::versioning::{
    ApiVersion, MEMBERS_BOTH, MEMBERS_CURRENT, MEMBERS_DEPRECATED, V2023_01_01_DEPRECATED,
};
use crate::state::AppState;
use crate::views::OrgUserView;

/// The org-users operations, and the `/api/atlas/v1.0` twin of the member list, which the
/// public client libraries call.
pub fn routes(state: &AppState) -> ApiRoutes {
    let users = |routes, versions| versioned(limited(routes, state, &ORG_USERS), state, versions);
    ApiRoutes::default()
        .v2(
            "/orgs/{orgId}/users",
            users(get(list_users), MEMBERS_BOTH).merge(users(post(create_user), MEMBERS_CURRENT)),
        )
        .v2(
            "/orgs/{orgId}/users/{userId}",
            users(get(get_user).patch(update_user), MEMBERS_CURRENT)
                .merge(users(delete(remove_user), MEMBERS_BOTH)),
        )
        .v2(
            // `…/{userId}:addRole` and `:removeRole`, split off by `split_custom_method`.
            "/orgs/{orgId}/users/{userId}/{method}",
            users(post(change_role), MEMBERS_CURRENT),
        )
        .v2(
            "/orgs/{orgId}/users/{userId}/roles",
            users(put(replace_roles), MEMBERS_DEPRECATED),
        )
        .v1(
            "/orgs/{orgId}/users",
            legacy(limited(get(list_users), state, &ORG_USERS), state),
        )
}

/// Pages come from memory while held (`held_views`), for the server second they were read in
/// (statuses follow the clock by the second), keyed by everything that shapes the answer.
async fn list_users(
    State(state): State<AppState>,
    base: BaseUrl,
    version: ApiVersion,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Response, AppError> {
    let list = ListQuery::from_query(&query)?;
    let filter = list_filter(&query, version, None)?;
    let now = state.clock.now();
    let key = users_page_key(version, &base, &query);
    let turn = match state.views.lookup(&organization.id, &key, now).await {
        Lookup::Held(body) => return Ok(json_response(body)),
        Lookup::Read(turn) => turn,
    };
    let page = state
        .store
        .list_org_users(&organization.id, &filter, list.page, now)
        .await?;
    let path = format!("/orgs/{}/users", organization.id);
    let body = render_user_list(&base, &path, &list, page, version, now)?;
    let second = now.replace_nanosecond(0).unwrap_or(now);
    state.views.keep(
        &organization.id,
        key,
        turn,
        RenderedView {
            body: body.clone(),
            holds_from: second,
            holds_until: Some(second + time::Duration::SECOND),
        },
    );
    Ok(json_response(body))
}

/// What shapes a page of users: the version, the base of its links and the query, each part
/// preceded by its length so that no two requests make the same key.
fn users_page_key(version: ApiVersion, base: &BaseUrl, query: &QueryParams) -> ViewKey {
    let version = match version {
        ApiVersion::Legacy => "1.0",
        ApiVersion::Dated(version) => version.date,
    };
    let mut key = String::with_capacity(base.0.len() + 64);
    let mut part = |text: &str| {
        key.push_str(&text.len().to_string());
        key.push(':');
        key.push_str(text);
    };
    part(version);
    part(&base.0);
    for (name, value) in query.pairs() {
        part(name);
        part(value);
    }
    ViewKey::UsersPage(key.into_boxed_str())
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

async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<OrgUserRequest>,
) -> Result<(StatusCode, Json<OrgUserView>), AppError> {
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
    let invitation =
        invite_into_org(&state, &organization, invitation, WhenPending::Refuse, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(OrgUserView::new(OrgUser::Invited(invitation), now)),
    ))
}

async fn get_user(
    State(state): State<AppState>,
    AtlasPath((_, raw_user)): AtlasPath<(ScopeSegment, String)>,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Json<OrgUserView>, AppError> {
    let now = state.clock.now();
    let user = find_org_user(&state, &organization.id, &raw_user, &query, now)
        .await?
        .ok_or_else(|| AppError::UserNotInOrg {
            username: raw_user,
            org: organization.id.to_string(),
        })?;
    Ok(Json(OrgUserView::new(user, now)))
}

async fn update_user(
    State(state): State<AppState>,
    AtlasPath((_, raw_user)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<OrgUserUpdateRequest>,
) -> Result<Json<OrgUserView>, AppError> {
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
        .await?;
    Ok(Json(OrgUserView::new(user, now)))
}

/// `POST …/users/{userId}:addRole` and `:removeRole`.
async fn change_role(
    State(state): State<AppState>,
    AtlasPath((_, raw_user, _)): AtlasPath<(ScopeSegment, String, IgnoredAny)>,
    CustomMethod(method): CustomMethod<RoleMethod>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<OrgRoleRequest>,
) -> Result<Json<OrgUserView>, AppError> {
    let change: fn(OrgRole) -> RoleChange = match method {
        RoleMethod::AddRole => RoleChange::Add,
        RoleMethod::RemoveRole => RoleChange::Remove,
    };
    let raw_user = raw_user.as_str();
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
        .await?;
    Ok(Json(OrgUserView::new(user, now)))
}

/// The deprecated `PUT …/roles`: replaces the org roles and echoes them.
async fn replace_roles(
    State(state): State<AppState>,
    AtlasPath((_, raw_user)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<OrgRolesRequest>,
) -> Result<Json<OrgRolesRequest>, AppError> {
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
        .await?;
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
    version: ApiVersion,
    AtlasPath((_, raw_user)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<StatusCode, AppError> {
    let id = parse_user_id(&raw_user)?;
    let members_only = version == ApiVersion::Dated(&V2023_01_01_DEPRECATED);
    state
        .store
        .remove_org_user(&organization.id, &id, members_only)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::extract::parse_body;
    use proptest::prelude::*;

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
