//! `GET /metrics` in Prometheus's text format, and the layer that counts and times every
//! request by the route that took it. The route label is the router's pattern
//! (`/api/atlas/v2/orgs/{orgId}`), never the raw path, which holds ids and invitation tokens.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics::SharedString;
use metrics_exporter_prometheus::PrometheusHandle;
use orgdoor_store::Store;

use crate::held_views::HeldViews;
use crate::metrics::{
    HELD_CREDENTIALS, HELD_VIEW_BYTES, HELD_VIEWS, HTTP_REQUEST_SECONDS, HTTP_REQUESTS,
    OUTBOX_MESSAGES, UNMATCHED_ROUTE,
};
use crate::security::credential_cache::CredentialCache;
use crate::state::AppState;

/// Prometheus's text exposition format, version 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a scrape reads: the process's recorder, and this server's store and what it holds in
/// memory.
#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    store: Arc<dyn Store>,
    views: Arc<HeldViews>,
    credentials: Arc<CredentialCache>,
}

/// The `/metrics` route alone, for the API router or a listener of its own. Installs the
/// process's recorder if nothing has yet.
pub fn routes(state: &AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(render))
        .with_state(Scrape {
            handle: crate::metrics::handle(),
            store: state.store.clone(),
            views: state.views.clone(),
            credentials: state.credentials.clone(),
        })
}

async fn render(State(scrape): State<Scrape>) -> Response {
    let mut text = scrape.handle.render();
    // Read per scrape rather than kept in the recorder: several servers in one process (the
    // tests) each report their own store's outbox.
    match scrape.store.outbox_depth().await {
        Ok(depth) => {
            let _ = write!(
                text,
                "# HELP {OUTBOX_MESSAGES} Messages in the outbox by status.\n\
                 # TYPE {OUTBOX_MESSAGES} gauge\n\
                 {OUTBOX_MESSAGES}{{status=\"pending\"}} {}\n\
                 {OUTBOX_MESSAGES}{{status=\"failed\"}} {}\n",
                depth.pending, depth.failed
            );
        }
        Err(error) => tracing::warn!(%error, "reading the outbox depth for /metrics failed"),
    }
    // What this server holds in memory, for the same reason read here: each server its own.
    let (views, view_bytes) = scrape.views.size();
    let _ = write!(
        text,
        "# HELP {HELD_VIEWS} Lists and pages held rendered in memory.\n\
         # TYPE {HELD_VIEWS} gauge\n\
         {HELD_VIEWS} {views}\n\
         # HELP {HELD_VIEW_BYTES} Bytes the held lists and pages count against --view-cache-bytes.\n\
         # TYPE {HELD_VIEW_BYTES} gauge\n\
         {HELD_VIEW_BYTES} {view_bytes}\n\
         # HELP {HELD_CREDENTIALS} API keys and Bearer tokens held in memory.\n\
         # TYPE {HELD_CREDENTIALS} gauge\n\
         {HELD_CREDENTIALS} {}\n",
        scrape.credentials.len()
    );
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// Counts and times a request under its route pattern, method and status.
pub async fn record_request<F>(request: Request, handler: impl FnOnce(Request) -> F) -> Response
where
    F: Future<Output = Response>,
{
    let started = Instant::now();
    let route = route_label(request.extensions().get::<MatchedPath>());
    let method = method_label(request.method());
    let response = handler(request).await;
    let status = status_label(response.status());
    metrics::histogram!(HTTP_REQUEST_SECONDS, "route" => route.clone(), "method" => method)
        .record(started.elapsed());
    metrics::counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => status)
        .increment(1);
    response
}

/// Route patterns already seen, shared by every label that names them, so counting a request
/// copies no string. Only the router's own patterns reach it, never a raw path, so it holds
/// at most one entry per route.
static ROUTE_LABELS: LazyLock<RwLock<HashSet<Arc<str>>>> = LazyLock::new(RwLock::default);

fn route_label(matched: Option<&MatchedPath>) -> SharedString {
    let Some(pattern) = matched
        .map(MatchedPath::as_str)
        // axum names a nested router's catch-all with a private parameter; that is no route.
        .filter(|pattern| !pattern.contains("__private__"))
    else {
        return SharedString::const_str(UNMATCHED_ROUTE);
    };
    let known = ROUTE_LABELS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(pattern)
        .cloned();
    let label = known.unwrap_or_else(|| {
        let label: Arc<str> = Arc::from(pattern);
        ROUTE_LABELS
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(Arc::clone(&label));
        label
    });
    SharedString::from_shared(label)
}

/// Every status code's three digits, one after another: a status label is a slice of it.
static STATUS_DIGITS: LazyLock<String> = LazyLock::new(|| {
    (0..1000u16).fold(String::with_capacity(3000), |mut digits, code| {
        let _ = write!(digits, "{code:03}");
        digits
    })
});

fn status_label(status: StatusCode) -> &'static str {
    // `StatusCode` holds 100..=999 only.
    let at = usize::from(status.as_u16()) * 3;
    STATUS_DIGITS.get(at..at + 3).unwrap_or("000")
}

/// The method as a fixed label; anything unusual is `other`, so a client cannot make up
/// label values.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
