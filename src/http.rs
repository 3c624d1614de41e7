//! The HTTP API: one module per Atlas resource, assembled under `/api/atlas`.
//!
//! Handlers are thin: extract, parse into domain types, check the caller's role, call the
//! store, render the view. Each operation is registered at its full path behind one
//! middleware (`operations`): authentication, `envelope`/`pretty` rendering and version
//! negotiation.

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
pub mod operations;
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

use crate::state::AppState;
use operations::ApiRoutes;

/// Every operation of `/api/atlas`, at its full path.
pub fn api_router(state: &AppState) -> Router<AppState> {
    [
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
    .fold(ApiRoutes::default(), ApiRoutes::merge)
    .into_router()
}
