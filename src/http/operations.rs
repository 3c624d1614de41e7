//! The API tree's operations, each registered at its full path (`/api/atlas/v2/…` or
//! `/api/atlas/v1.0/…`) behind one middleware that runs the tree's steps in turn:
//! authentication, the caller's fault rules, `envelope`/`pretty` rendering, draining a body a
//! refusal leaves unread, and the version the operation is served in.
//!
//! Why one middleware and no nested routers: each axum layer clones and boxes the whole
//! service chain inside it on every request, and each router nested at a prefix adds two
//! layers of its own (the prefix stripped from the URI, the nesting recorded). Requests no
//! operation takes get the same steps from [`not_found`] and [`method_not_allowed`], so an
//! unknown path under `/api/atlas` still asks for credentials first.

use axum::Router;
use axum::extract::{OriginalUri, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::MethodRouter;

use crate::auth;
use crate::http::versioning::{ResourceVersion, Served, serve_in};
use crate::http::{fallback, observe, response_format};
use crate::state::AppState;
use crate::transport;

/// Where the Atlas API is served.
const API_ROOT: &str = "/api/atlas";
const V2: &str = "/api/atlas/v2";
const V1: &str = "/api/atlas/v1.0";

/// Operations of the API tree at their full paths; `http::api_router` merges every
/// resource's.
#[derive(Default)]
pub struct ApiRoutes(Router<AppState>);

impl ApiRoutes {
    /// `methods` at `path` under `/api/atlas/v2`; each is wrapped by [`versioned`] already.
    pub fn v2(self, path: &str, methods: MethodRouter<AppState>) -> Self {
        Self(self.0.route(&format!("{V2}{path}"), methods))
    }

    /// `methods` at `path` under `/api/atlas/v1.0`; each is wrapped by [`legacy`] already.
    pub fn v1(self, path: &str, methods: MethodRouter<AppState>) -> Self {
        Self(self.0.route(&format!("{V1}{path}"), methods))
    }

    /// Each `(path, methods)` pair in v2's listed versions and, alike, in v1.0.
    pub fn v2_and_legacy(
        routes: impl IntoIterator<Item = (&'static str, MethodRouter<AppState>)>,
        state: &AppState,
        versions: &'static [ResourceVersion],
    ) -> Self {
        routes
            .into_iter()
            .fold(Self::default(), |routes, (path, methods)| {
                routes
                    .v2(path, versioned(methods.clone(), state, versions))
                    .v1(path, legacy(methods, state))
            })
    }

    /// Each `(path, methods)` pair in v2's listed versions only.
    pub fn v2_only(
        routes: impl IntoIterator<Item = (&'static str, MethodRouter<AppState>)>,
        state: &AppState,
        versions: &'static [ResourceVersion],
    ) -> Self {
        routes
            .into_iter()
            .fold(Self::default(), |routes, (path, methods)| {
                routes.v2(path, versioned(methods, state, versions))
            })
    }

    pub fn merge(self, other: Self) -> Self {
        Self(self.0.merge(other.0))
    }

    pub fn into_router(self) -> Router<AppState> {
        self.0
    }
}

/// What an operation's middleware needs.
#[derive(Clone)]
struct Operation {
    state: AppState,
    served: Served,
}

/// Serves `methods` under `/api/atlas/v2` in the listed versions (ascending by date).
pub fn versioned(
    methods: MethodRouter<AppState>,
    state: &AppState,
    versions: &'static [ResourceVersion],
) -> MethodRouter<AppState> {
    operation(methods, state, Served::Dated(versions))
}

/// Serves `methods` as `/api/atlas/v1.0` does.
pub fn legacy(methods: MethodRouter<AppState>, state: &AppState) -> MethodRouter<AppState> {
    operation(methods, state, Served::Legacy)
}

fn operation(
    methods: MethodRouter<AppState>,
    state: &AppState,
    served: Served,
) -> MethodRouter<AppState> {
    let operation = Operation {
        state: state.clone(),
        served,
    };
    methods.route_layer(middleware::from_fn_with_state(operation, serve_operation))
}

async fn serve_operation(
    State(operation): State<Operation>,
    request: Request,
    next: Next,
) -> Response {
    let Operation { state, served } = &operation;
    guarded(state, request, |request| {
        serve_in(*served, state.clock.as_ref(), request, |request| {
            next.run(request)
        })
    })
    .await
}

/// The steps every request to an authenticated tree takes before its handler, from the
/// outside in.
async fn guarded<F>(
    state: &AppState,
    request: Request,
    handler: impl FnOnce(Request) -> F,
) -> Response
where
    F: Future<Output = Response>,
{
    auth::authenticate(state, request, |request| {
        observe::faults_for_caller(state, request, |request| {
            response_format::format_response(request, |request| {
                transport::drain_unread_body(request, handler)
            })
        })
    })
    .await
}

fn in_api_tree(path: &str) -> bool {
    path.strip_prefix(API_ROOT)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The router's answer for a path no route takes: Atlas's 404, after authentication under
/// `/api/atlas` as for any operation there.
pub async fn not_found(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    request: Request,
) -> Response {
    if in_api_tree(uri.path()) {
        guarded(&state, request, |request| fallback::not_found(uri, request)).await
    } else {
        fallback::not_found(uri, request).await
    }
}

/// The router's answer for a method a path does not take: Atlas's 405, after authentication
/// under `/api/atlas` as for any operation there.
pub async fn method_not_allowed(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    request: Request,
) -> Response {
    if in_api_tree(uri.path()) {
        guarded(&state, request, fallback::method_not_allowed).await
    } else {
        fallback::method_not_allowed(request).await
    }
}

/// Wraps a tree of orgdoor's own authenticated routes (nested elsewhere): the API tree's steps
/// but version negotiation, and Atlas errors for unknown routes and methods.
pub fn behind_authentication(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    routes
        .fallback(fallback::unknown_path)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guard_tree))
}

async fn guard_tree(State(state): State<AppState>, request: Request, next: Next) -> Response {
    guarded(&state, request, |request| next.run(request)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_tree_is_its_root_and_what_lies_below_it() {
        assert!(in_api_tree("/api/atlas"));
        assert!(in_api_tree("/api/atlas/v2/orgs"));
        assert!(in_api_tree("/api/atlas/"));
        assert!(!in_api_tree("/api/atlasx"));
        assert!(!in_api_tree("/api/orgdoor/v1"));
        assert!(!in_api_tree("/health"));
    }
}
