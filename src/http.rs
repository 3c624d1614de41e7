//! The HTTP API: one module per Atlas resource, assembled under `/api/atlas`.
//!
//! Handlers are thin: extract, parse into domain types, check the caller's role, call the
//! store, render the view. Authentication and the `envelope`/`pretty` rendering wrap the whole
//! tree; version negotiation wraps each operation.

pub mod access_lists;
pub mod admin;
pub mod api_keys;
pub mod control;
pub mod custom_methods;
pub mod events;
pub mod extract;
pub mod fallback;
pub mod groups;
pub mod health;
pub mod invitation_page;
pub mod metrics;
pub mod oauth;
pub mod observe;
pub mod openapi;
pub mod org_invitations;
pub mod org_users;
pub mod orgs;
pub mod outbox;
pub mod pagination;
pub mod project_api_keys;
pub mod project_invitations;
pub mod project_members;
pub mod project_users;
pub mod rate_limits;
pub mod render;
pub mod response_format;
pub mod roles;
pub mod scope;
pub mod service_accounts;
pub mod team_members;
pub mod teams;
pub mod user_lists;
pub mod users;
pub mod versioning;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::auth;
use crate::state::AppState;
use crate::transport;
use versioning::ApiRoutes;

/// Everything under `/api/atlas`: authenticated first, then formatted, then routed.
pub fn api_router(state: &AppState) -> Router<AppState> {
    let resources = [
        orgs::routes(state),
        api_keys::routes(state),
        service_accounts::routes(state),
        org_invitations::routes(state),
        org_users::routes(state),
        users::routes(state),
        teams::routes(state),
        team_members::routes(state),
        groups::routes(state),
        project_invitations::routes(state),
        project_members::routes(state),
        project_users::routes(state),
        project_api_keys::routes(state),
        events::routes(state),
    ]
    .into_iter()
    .fold(ApiRoutes::default(), ApiRoutes::merge);
    behind_authentication(
        Router::new()
            .nest("/v2", resources.v2)
            .nest("/v1.0", resources.v1),
        state,
    )
}

/// Wraps an API tree: Atlas errors for unknown routes and methods, bodies left unread by a
/// refusal drained as early answers drain theirs, `envelope`/`pretty` rendering, and
/// authentication before anything else.
pub fn behind_authentication(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    routes
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guard_api))
}

/// The API tree's one middleware, its steps called in turn rather than stacked as layers: each
/// axum layer clones and boxes the whole service chain inside it on every request.
async fn guard_api(State(state): State<AppState>, request: Request, next: Next) -> Response {
    auth::authenticate(&state, request, |request| {
        observe::faults_for_caller(&state, request, |request| {
            response_format::format_response(request, |request| {
                transport::drain_unread_body(request, |request| next.run(request))
            })
        })
    })
    .await
}
