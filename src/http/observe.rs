//! What happens around every request, outside the handlers: one log line per request (the
//! answer to "why did my client get that?"), the control API's request journal, and its fault
//! rules.

use std::time::Instant;

use axum::extract::{MatchedPath, OriginalUri, Request};
use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::auth::{Caller, Principal};
use crate::control::faults::{FaultHit, FaultStatus, Stage};
use crate::control::journal::{JournalEntry, bounded};
use crate::error::AppError;
use crate::error::response::X_ERROR_CODE;
use crate::state::AppState;
use crate::transport::{DropConnection, answer_early};

/// Where the control API lives; its own requests are neither journaled nor faulted.
const CONTROL_PREFIX: &str = "/api/orgdoor/v1/control";

/// The rule a fault came from, put on the response for the log and the journal.
#[derive(Debug, Clone)]
struct AppliedFault(String);

/// A request's path as logs show it: an invitation link's token is a credential, so it is
/// never written down.
pub fn logged_path(path: &str) -> &str {
    if path.starts_with("/invitations/") {
        "/invitations/{token}"
    } else {
        path
    }
}

/// A request's query as logs show it: the token endpoint's may carry a client secret.
fn logged_query(path: &str, query: Option<&str>) -> Option<String> {
    match query {
        Some(_) if path.starts_with("/api/oauth/") || path.starts_with("/invitations/") => {
            Some("{redacted}".to_owned())
        }
        Some(query) => Some(bounded(query)),
        None => None,
    }
}

/// A request line's last word: the status, or `dropped` when the connection was dropped
/// instead of answered. Written straight into the line, without a string per request.
struct AnswerShown(Option<u16>);

impl std::fmt::Display for AnswerShown {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(status) => write!(formatter, "{status}"),
            None => formatter.write_str("dropped"),
        }
    }
}

/// Logs each request once it is answered, and journals it when the control API is on.
pub async fn log_request<F>(
    state: &AppState,
    request: Request,
    handler: impl FnOnce(Request) -> F,
) -> Response
where
    F: Future<Output = Response>,
{
    let started = Instant::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let request_id = request.headers().get("x-request-id").cloned();
    let response = handler(request).await;
    let latency = started.elapsed();

    let path = logged_path(uri.path());
    let dropped = response.extensions().get::<DropConnection>().is_some();
    let status = (!dropped).then(|| response.status().as_u16());
    let error_code = response
        .headers()
        .get(X_ERROR_CODE)
        .and_then(|code| code.to_str().ok());
    let caller = response.extensions().get::<Caller>();
    let fault = response.extensions().get::<AppliedFault>();
    let request_id = request_id
        .as_ref()
        .and_then(|id| id.to_str().ok())
        .unwrap_or("");
    let latency_ms = latency.as_secs_f64() * 1000.0;
    // The method, path and request id are the request span's fields.
    tracing::info!(
        target: "orgdoor::request",
        route = route.as_ref().map_or("-", MatchedPath::as_str),
        status = status.unwrap_or(0),
        latency_ms = format_args!("{latency_ms:.1}"),
        credential = caller.map(|caller| &*caller.credential),
        org = caller.map(|caller| &*caller.org_id),
        error_code,
        fault = fault.map(|fault| fault.0.as_str()),
        "{method} {path} {}",
        AnswerShown(status),
    );
    // A server error is also an event at ERROR, for alerts and filters that watch the level
    // (as tower-http's trace layer gave before the middleware was folded).
    if let Some(status) = status.filter(|status| *status >= 500) {
        tracing::error!(
            target: "orgdoor::server_error",
            status,
            error_code,
            fault = fault.map(|fault| fault.0.as_str()),
            "{method} {path} answered {status}",
        );
    }

    if let Some(control) = &state.control
        && !uri.path().starts_with(CONTROL_PREFIX)
    {
        control.journal.record(JournalEntry {
            received_at: state.clock.now(),
            request_id: bounded(request_id),
            method: method.as_str().to_owned(),
            path: bounded(path),
            query: logged_query(uri.path(), uri.query()),
            route: route.map(|route| route.as_str().to_owned()),
            status,
            error_code: error_code.map(str::to_owned),
            credential: caller.map(|caller| caller.credential.to_string()),
            org_id: caller.map(|caller| caller.org_id.to_string()),
            latency_ms,
            fault_id: fault.map(|fault| fault.0.clone()),
        });
    }
    response
}

/// Applies the fault rules that name no credential, as the request arrives.
pub async fn faults_on_arrival<F>(
    state: &AppState,
    request: Request,
    handler: impl FnOnce(Request) -> F,
) -> Response
where
    F: Future<Output = Response>,
{
    let hit = state.control.as_ref().and_then(|control| {
        let path = request.uri().path();
        if path.starts_with(CONTROL_PREFIX) {
            return None;
        }
        control
            .faults
            .take(Stage::Arrival, request.method().as_str(), path)
    });
    apply(hit, request, handler).await
}

/// Applies the fault rules that name the credential a request was authenticated as; runs
/// inside authentication.
pub async fn faults_for_caller<F>(
    state: &AppState,
    request: Request,
    handler: impl FnOnce(Request) -> F,
) -> Response
where
    F: Future<Output = Response>,
{
    let hit = state.control.as_ref().and_then(|control| {
        let caller = Principal::of(request.extensions()).ok()?;
        // A nested router sees its path without the prefix it is nested at.
        let path = request
            .extensions()
            .get::<OriginalUri>()
            .map_or_else(|| request.uri().path(), |original| original.path());
        control.faults.take(
            Stage::Authenticated(caller.username()),
            request.method().as_str(),
            path,
        )
    });
    apply(hit, request, handler).await
}

/// Runs the request, or answers it as `hit` says.
async fn apply<F>(
    hit: Option<FaultHit>,
    request: Request,
    handler: impl FnOnce(Request) -> F,
) -> Response
where
    F: Future<Output = Response>,
{
    let Some(hit) = hit else {
        return handler(request).await;
    };
    tracing::debug!(fault = %hit.rule_id, "applying a fault rule");
    if let Some(delay) = hit.action.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = if hit.action.drop {
        let mut response = AppError::ServiceUnavailable.parts().into_response();
        response.extensions_mut().insert(DropConnection);
        response
    } else if let Some(status) = hit.action.status {
        let error = AppError::InjectedFault {
            status: status.code(),
            retry_after: hit.action.retry_after_seconds,
        };
        let mut response = answer_early(request, error).await;
        if status != FaultStatus::InternalError {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(hit.action.retry_after_seconds),
            );
        }
        response
    } else {
        handler(request).await
    };
    response.extensions_mut().insert(AppliedFault(hit.rule_id));
    response
}
