//! Looking people up: `/users/{userId}` and `/users/byName/{userName}`, which clients call before
//! inviting (Terraform skips the invitation when the person already has a role in the org).
//!
//! Anyone authenticated may look a person up; the roles and teams shown are only those in the
//! caller's own organization. Only people with an account (who accepted an invitation
//! somewhere) are found: a pending invitee is `USERNAME_NOT_FOUND`, as on Atlas.

use axum::Json;
use axum::extract::State;
use axum::routing::{MethodRouter, get};
use orgdoor_domain::EmailAddress;
use orgdoor_store::UserSelector;

use crate::auth::Principal;
use crate::error::AppError;
use crate::http::extract::{AtlasPath, BaseUrl, parse_user_id};
use crate::http::operations::ApiRoutes;
use crate::http::rate_limits::{USERS_BY_CALLER, limited};
use crate::http::user_lists::CloudAppUserView;
use crate::http::versioning::V2023_01_01;
use crate::state::AppState;

fn method_routers(state: &AppState) -> [(&'static str, MethodRouter<AppState>); 2] {
    [
        ("/users/{userId}", get(get_user)),
        ("/users/byName/{userName}", get(get_user_by_name)),
    ]
    .map(|(path, methods)| (path, limited(methods, state, &USERS_BY_CALLER)))
}

/// The v2 operations (2023-01-01) and their `/api/atlas/v1.0` twins, where the users' own
/// `links` point.
pub fn routes(state: &AppState) -> ApiRoutes {
    ApiRoutes::v2_and_legacy(method_routers(state), state, &[V2023_01_01])
}

async fn lookup(
    state: &AppState,
    principal: &Principal,
    base: &BaseUrl,
    selector: UserSelector,
) -> Result<Option<CloudAppUserView>, AppError> {
    let Some((user, memberships)) = state.store.find_user(&selector).await? else {
        return Ok(None);
    };
    let visible: Vec<_> = memberships
        .into_iter()
        .filter(|membership| &membership.org_id == principal.org_id())
        .collect();
    Ok(Some(CloudAppUserView::new(base, user, &visible)))
}

async fn get_user(
    State(state): State<AppState>,
    principal: Principal,
    base: BaseUrl,
    AtlasPath(raw_id): AtlasPath<String>,
) -> Result<Json<CloudAppUserView>, AppError> {
    let id = parse_user_id(&raw_id)?;
    lookup(&state, &principal, &base, UserSelector::Id(id))
        .await?
        .map(Json)
        .ok_or(AppError::UserNotFound(raw_id))
}

async fn get_user_by_name(
    State(state): State<AppState>,
    principal: Principal,
    base: BaseUrl,
    AtlasPath(raw_name): AtlasPath<String>,
) -> Result<Json<CloudAppUserView>, AppError> {
    let username: EmailAddress = raw_name
        .parse()
        .map_err(|_| AppError::UsernameNotFound(raw_name.clone()))?;
    lookup(&state, &principal, &base, UserSelector::Username(username))
        .await?
        .map(Json)
        .ok_or(AppError::UsernameNotFound(raw_name))
}
