//! Organization API keys given roles in a project: `/groups/{groupId}/apiKeys[/{apiUserId}]`.
//!
//! A project key is an organization key (`ORG_MEMBER`) with roles in projects; the roles it
//! holds there are what `Principal::require_group` checks for that project.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get, post};
use orgdoor_domain::limits::MAX_ROLES;
use serde::Deserialize;

use crate::error::AppError;
use crate::http::api_keys::{
    ApiKeyView, KeyRequest, description, key_for, parse_key_id, required_description,
};
use crate::http::extract::{AtlasJson, AtlasPath, BaseUrl, QueryParams, RequestBody};
use crate::http::operations::ApiRoutes;
use crate::http::pagination::{ListQuery, Paginated};
use crate::http::rate_limits::{PROJECTS, limited};
use crate::http::roles::parse_roles;
use crate::http::scope::{GroupOwner, GroupReadOnly, GroupScope, ScopeSegment};
use crate::http::versioning::V2023_01_01;
use crate::provision;
use crate::state::AppState;

const KEYS: &str = "/groups/{groupId}/apiKeys";
const KEY: &str = "/groups/{groupId}/apiKeys/{apiUserId}";

fn method_routers(state: &AppState) -> [(&'static str, MethodRouter<AppState>); 2] {
    [
        (KEYS, get(list_keys).post(create_key)),
        (KEY, post(assign_key).patch(update_key).delete(remove_key)),
    ]
    .map(|(path, methods)| (path, limited(methods, state, &PROJECTS)))
}

/// The v2 operations (2023-01-01) and their `/api/atlas/v1.0` twins.
pub fn routes(state: &AppState) -> ApiRoutes {
    ApiRoutes::v2_and_legacy(method_routers(state), state, &[V2023_01_01])
}

/// `UserAccessRoleAssignment`.
#[derive(Deserialize)]
struct RoleAssignmentRequest {
    roles: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(transparent)]
struct RoleAssignmentsRequest(Vec<RoleAssignmentRequest>);

impl RequestBody for RoleAssignmentsRequest {
    const READ_ONLY: &'static [&'static str] = &["userId"];
    const IS_ARRAY: bool = true;
}

async fn list_keys(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryParams,
    GroupScope(group, _): GroupScope<GroupReadOnly>,
) -> Result<Json<Paginated<ApiKeyView>>, AppError> {
    let list = ListQuery::from_query(&query)?;
    let page = state
        .store
        .list_project_api_keys(&group.id, list.page)
        .await?;
    let path = format!("/groups/{}/apiKeys", group.id);
    Ok(ApiKeyView::page(&base, &path, &list, page))
}

/// A new key of the project's organization with roles in the project; its private key is in
/// this answer only.
async fn create_key(
    State(state): State<AppState>,
    base: BaseUrl,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<KeyRequest>,
) -> Result<Json<ApiKeyView>, AppError> {
    let request = body.parse()?;
    let desc = required_description(request.desc)?;
    let roles = parse_roles(request.roles, &group)?;
    let minted =
        provision::create_project_api_key(&state.store, &group, roles, &desc, state.clock.now())
            .await?;
    Ok(Json(ApiKeyView::minted(&base, minted)))
}

/// Gives an existing key of the organization roles in the project (every role named by the
/// body's assignments), replacing any it had there.
async fn assign_key(
    State(state): State<AppState>,
    AtlasPath((_, raw_key)): AtlasPath<(ScopeSegment, String)>,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<RoleAssignmentsRequest>,
) -> Result<StatusCode, AppError> {
    let RoleAssignmentsRequest(assignments) = body.parse()?;
    AppError::check_length("roles", &assignments, MAX_ROLES)?;
    let names: Vec<String> = assignments
        .into_iter()
        .flat_map(|assignment| assignment.roles.unwrap_or_default())
        .collect();
    let roles = parse_roles(Some(names), &group)?;
    let key = key_for(&state, &group.org_id, &raw_key).await?;
    state
        .store
        .grant_api_key_project_roles(&group.id, &key.id, &roles, None, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a key's roles in the project (giving it some if it had none) and/or its
/// description (of a key in the project only); answers the key with all its roles.
async fn update_key(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, raw_key)): AtlasPath<(ScopeSegment, String)>,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<KeyRequest>,
) -> Result<Json<ApiKeyView>, AppError> {
    let request = body.parse()?;
    let desc = request.desc.map(description).transpose()?;
    let roles = request
        .roles
        .map(|names| parse_roles(Some(names), &group))
        .transpose()?;
    let mut key = key_for(&state, &group.org_id, &raw_key).await?;
    // Only a key in the project (or being given roles there) is the project's to describe.
    let in_project = key
        .project_roles
        .iter()
        .any(|grant| grant.group_id == group.id);
    if !in_project && roles.is_none() {
        return Err(AppError::ResourceNotFound(raw_key));
    }
    // One store call, so a description and roles change together or not at all.
    if let Some(roles) = roles {
        key = state
            .store
            .grant_api_key_project_roles(
                &group.id,
                &key.id,
                &roles,
                desc.as_deref(),
                state.clock.now(),
            )
            .await?;
    } else if desc.is_some() {
        key = state
            .store
            .update_api_key(&group.org_id, &key.id, desc.as_deref(), None)
            .await?;
    }
    Ok(Json(ApiKeyView::new(&base, key)))
}

/// Takes a key's roles in the project away; the key stays in the organization.
async fn remove_key(
    State(state): State<AppState>,
    AtlasPath((_, raw_key)): AtlasPath<(ScopeSegment, String)>,
    GroupScope(group, _): GroupScope<GroupOwner>,
) -> Result<StatusCode, AppError> {
    let id = parse_key_id(&raw_key)?;
    state
        .store
        .revoke_api_key_project_roles(&group.id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
