//! Project invitations: `/groups/{groupId}/invites[/{invitationId}]`, in v2 (deprecated
//! 2023-01-01) and as the legacy v1.0 twins. Every operation needs Project Owner.
//!
//! A project invitation is the project's part of an organization invitation (see
//! [`ProjectInvitation`]): the same record the organization's invitations and the project's
//! pending users show. Inviting an address makes (or renews) its invitation into the
//! organization as `ORG_MEMBER` with the roles in the project; cancelling takes the project out
//! of it, and cancels it when nothing else is left.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get};
use orgdoor_domain::{Group, GroupRoles, OrgUser, ProjectInvitation};
use orgdoor_store::{InvitationSelector, ProjectAddition};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::error::AppError;
use crate::http::extract::{AtlasJson, AtlasPath, QueryParams, RequestBody, parse_invitation_id};
use crate::http::operations::ApiRoutes;
use crate::http::project_users::{INVITATION_READ_ONLY, ProjectInvitationRequest, add_to_project};
use crate::http::rate_limits::{PROJECTS, limited};
use crate::http::roles::{parse_roles, parse_username};
use crate::http::scope::{GroupOwner, GroupScope, ScopeSegment};
use crate::http::versioning::V2023_01_01_DEPRECATED;
use crate::state::AppState;
use crate::views::atlas_timestamp;

const COLLECTION: &str = "/groups/{groupId}/invites";
const ITEM: &str = "/groups/{groupId}/invites/{invitationId}";

fn collection() -> MethodRouter<AppState> {
    get(list_invitations)
        .post(create_invitation)
        .patch(update_invitation_by_username)
}

fn item() -> MethodRouter<AppState> {
    get(get_invitation)
        .patch(update_invitation_by_id)
        .delete(delete_invitation)
}

fn method_routers(state: &AppState) -> [(&'static str, MethodRouter<AppState>); 2] {
    [(COLLECTION, collection()), (ITEM, item())]
        .map(|(path, methods)| (path, limited(methods, state, &PROJECTS)))
}

/// The v2 operations (2023-01-01) and their `/api/atlas/v1.0` twins.
pub fn routes(state: &AppState) -> ApiRoutes {
    ApiRoutes::v2_and_legacy(method_routers(state), state, &[V2023_01_01_DEPRECATED])
}

/// `GroupInvitation`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProjectInvitationView {
    created_at: String,
    expires_at: String,
    group_id: String,
    group_name: String,
    id: String,
    inviter_username: String,
    roles: Vec<&'static str>,
    username: String,
}

impl ProjectInvitationView {
    fn new(group: &Group, invitation: ProjectInvitation) -> Self {
        Self {
            created_at: atlas_timestamp(invitation.created_at),
            expires_at: atlas_timestamp(invitation.expires_at),
            group_id: invitation.group_id.into(),
            group_name: group.name.to_string(),
            id: invitation.id.into(),
            inviter_username: invitation.inviter_username,
            roles: invitation.roles.iter().map(|role| role.as_str()).collect(),
            username: invitation.username.into(),
        }
    }
}

/// `GroupInvitationUpdateRequest`.
#[derive(Deserialize)]
struct ProjectInvitationUpdateRequest {
    roles: Option<Vec<String>>,
}

impl RequestBody for ProjectInvitationUpdateRequest {
    const READ_ONLY: &'static [&'static str] = INVITATION_READ_ONLY;
    const FIXED: &'static [&'static str] = &["username"];
}

async fn list_invitations(
    State(state): State<AppState>,
    query: QueryParams,
    GroupScope(group, _): GroupScope<GroupOwner>,
) -> Result<Json<Vec<ProjectInvitationView>>, AppError> {
    let username = query.email("username")?;
    let invitations = state
        .store
        .list_pending_project_invitations(&group.id, username.as_ref(), state.clock.now())
        .await?;
    Ok(Json(
        invitations
            .into_iter()
            .map(|invitation| ProjectInvitationView::new(&group, invitation))
            .collect(),
    ))
}

async fn create_invitation(
    State(state): State<AppState>,
    principal: Principal,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<ProjectInvitationRequest>,
) -> Result<Json<ProjectInvitationView>, AppError> {
    let request = body.parse()?;
    let invited = add_to_project(
        &state,
        &principal,
        &group,
        request.roles,
        request.username,
        ProjectAddition::Invitation,
    )
    .await?;
    let invitation = match &invited {
        OrgUser::Invited(invitation) => ProjectInvitation::of(invitation, &group.id),
        OrgUser::Member(_) => None,
    }
    .ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("a project invitation made no invitation"))
    })?;
    Ok(Json(ProjectInvitationView::new(&group, invitation)))
}

async fn update_invitation(
    state: &AppState,
    group: &Group,
    selector: InvitationSelector,
    roles: &GroupRoles,
) -> Result<Json<ProjectInvitationView>, AppError> {
    let invitation = state
        .store
        .update_pending_project_invitation(&group.id, &selector, roles, state.clock.now())
        .await?;
    Ok(Json(ProjectInvitationView::new(group, invitation)))
}

async fn update_invitation_by_username(
    State(state): State<AppState>,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<ProjectInvitationRequest>,
) -> Result<Json<ProjectInvitationView>, AppError> {
    let request = body.parse()?;
    let username = parse_username(request.username)?;
    let roles = parse_roles(request.roles, &group)?;
    let selector = InvitationSelector::Username(username);
    update_invitation(&state, &group, selector, &roles).await
}

async fn get_invitation(
    State(state): State<AppState>,
    AtlasPath((_, invitation_id)): AtlasPath<(ScopeSegment, String)>,
    GroupScope(group, _): GroupScope<GroupOwner>,
) -> Result<Json<ProjectInvitationView>, AppError> {
    let id = parse_invitation_id(&invitation_id)?;
    let invitation = state
        .store
        .get_pending_project_invitation(&group.id, &id, state.clock.now())
        .await?
        .ok_or(AppError::ResourceNotFound(invitation_id))?;
    Ok(Json(ProjectInvitationView::new(&group, invitation)))
}

async fn update_invitation_by_id(
    State(state): State<AppState>,
    AtlasPath((_, invitation_id)): AtlasPath<(ScopeSegment, String)>,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<ProjectInvitationUpdateRequest>,
) -> Result<Json<ProjectInvitationView>, AppError> {
    let request = body.parse()?;
    let id = parse_invitation_id(&invitation_id)?;
    let roles = parse_roles(request.roles, &group)?;
    update_invitation(&state, &group, InvitationSelector::Id(id), &roles).await
}

/// Cancels a pending invitation; a missing, expired or malformed one is 404 (the spec documents
/// no 400 for this operation).
async fn delete_invitation(
    State(state): State<AppState>,
    AtlasPath((_, invitation_id)): AtlasPath<(ScopeSegment, String)>,
    GroupScope(group, _): GroupScope<GroupOwner>,
) -> Result<StatusCode, AppError> {
    let id = parse_invitation_id(&invitation_id)?;
    state
        .store
        .delete_pending_project_invitation(&group.id, &id, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
