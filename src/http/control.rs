//! The control API for test suites, under `/api/orgdoor/v1/control` when `serve` has a
//! control token (`--control-token`): reset the store, set the clock, inject faults, read the
//! request journal. Only `Authorization: Bearer TOKEN` is taken; without a token the paths are
//! unknown (Atlas's 404), as if the API did not exist.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::clock::{Clock, OffsetClock};
use crate::control::Control;
use crate::control::faults::{FaultAction, FaultRule, FaultStatus, NewFaultRule, TooManyRules};
use crate::control::journal::{JournalEntry, JournalFilter};
use crate::control::pattern::PathPattern;
use crate::error::AppError;
use crate::http::extract::{AtlasPath, QueryParams, RequestBody, RequestBytes, parse_body};
use crate::http::fallback;
use crate::state::AppState;
use crate::transport::answer_early;
use crate::views::atlas_timestamp;

/// The earliest and latest instants the clock may be set to: far enough either way for any
/// test, near enough that an invitation's expiry or a token's lifetime added to it is still a
/// date.
const EARLIEST: OffsetDateTime = time::macros::datetime!(1970-01-01 00:00 UTC);
const LATEST: OffsetDateTime = time::macros::datetime!(2999-12-31 23:59:59 UTC);
/// The longest latency a rule may add; longer would only hold connections.
const MAX_DELAY: Duration = Duration::from_secs(60);
/// The most journal entries one listing returns.
const MAX_LISTED: u32 = 1000;

/// The control routes, when the server has a control token.
pub fn router(state: &AppState) -> Option<Router<AppState>> {
    state.control.as_ref()?;
    let routes = Router::new()
        .route("/reset", post(reset))
        .route("/clock", get(read_clock).put(set_clock))
        .route(
            "/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/faults/{id}", delete(remove_fault))
        .route("/requests", get(list_requests).delete(clear_requests))
        // Set here, not left to the whole router's: the router-wide fallbacks would replace
        // these routes' defaults outside the token check, telling an anonymous caller which
        // control paths and methods exist.
        .fallback(fallback::unknown_path)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), require_token));
    Some(routes)
}

/// The control instance; the routes exist only when there is one.
fn control(state: &AppState) -> Result<&Control, AppError> {
    state
        .control
        .as_deref()
        .ok_or(AppError::ControlTokenRequired)
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if state
        .control
        .as_ref()
        .is_some_and(|control| control.admits(authorization))
    {
        return next.run(request).await;
    }
    let mut response = answer_early(request, AppError::ControlTokenRequired).await;
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"orgdoor-control\""),
    );
    response
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResetView {
    resets: i64,
    now: String,
}

/// Empties the store (every instance on it follows within a second), puts back what the
/// server started with, and forgets faults, the journal, failed attempts and the clock.
async fn reset(State(state): State<AppState>) -> Result<Json<ResetView>, AppError> {
    control(&state)?;
    // On a task of its own: a client that goes away between the wipe and the restore must not
    // leave the store empty of what the server started with.
    let reset = tokio::spawn(reset_and_restore(state));
    reset
        .await
        .map_err(|error| AppError::Internal(error.into()))?
}

async fn reset_and_restore(state: AppState) -> Result<Json<ResetView>, AppError> {
    let control = control(&state)?;
    let after = state.store.reset_everything().await?;
    control.follow(after);
    state.failures.clear();
    let now = state.clock.now();
    if let Some(restore) = control.restorer() {
        restore(state.store.clone(), now)
            .await
            .map_err(AppError::Internal)?;
    }
    tracing::info!(resets = after.resets, "store reset through the control API");
    Ok(Json(ResetView {
        resets: after.resets,
        now: atlas_timestamp(now),
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClockView {
    now: String,
    offset_seconds: i64,
}

fn clock_view(clock: &OffsetClock) -> ClockView {
    ClockView {
        now: atlas_timestamp(clock.now()),
        offset_seconds: clock.offset_ms() / 1000,
    }
}

async fn read_clock(State(state): State<AppState>) -> Result<Json<ClockView>, AppError> {
    Ok(Json(clock_view(&control(&state)?.clock)))
}

/// `PUT …/clock`: `{"now": "…"}`, `{"now": null}` or `{"advanceSeconds": n}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClockRequest {
    /// Absent: not given; `null`: back to the wall clock.
    #[serde(default, deserialize_with = "present")]
    now: Option<Option<String>>,
    advance_seconds: Option<i64>,
}

impl RequestBody for ClockRequest {
    const READ_ONLY: &'static [&'static str] = &["offsetSeconds"];
}

/// Tells a `null` from an absent attribute: `Some(None)` for `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

async fn set_clock(
    State(state): State<AppState>,
    RequestBytes(body): RequestBytes,
) -> Result<Json<ClockView>, AppError> {
    let control = control(&state)?;
    let request: ClockRequest = parse_body(&body)?;
    let offset_ms = match (request.now, request.advance_seconds) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "advanceSeconds",
                "give either now or advanceSeconds, not both",
            ));
        }
        (None, None) => return Err(AppError::MissingAttribute("now".into())),
        (Some(None), None) => 0,
        (Some(Some(text)), None) => {
            let at = OffsetDateTime::parse(&text, &Rfc3339)
                .map_err(|_| invalid("now", "an RFC 3339 instant such as 2027-01-01T00:00:00Z"))?;
            OffsetClock::offset_to(in_range("now", at)?)
        }
        (None, Some(seconds)) => {
            let moved = time::Duration::seconds(seconds)
                .checked_add(time::Duration::milliseconds(control.clock.offset_ms()))
                .ok_or_else(|| invalid("advanceSeconds", "too far"))?;
            let at = OffsetDateTime::now_utc()
                .checked_add(moved)
                .ok_or_else(|| invalid("advanceSeconds", "too far"))?;
            in_range("advanceSeconds", at)?;
            i64::try_from(moved.whole_milliseconds())
                .map_err(|_| invalid("advanceSeconds", "too far"))?
        }
    };
    state.store.set_clock_offset(offset_ms).await?;
    control.clock.set_offset_ms(offset_ms);
    tracing::info!(offset_ms, "server clock set through the control API");
    Ok(Json(clock_view(&control.clock)))
}

fn in_range(attribute: &str, at: OffsetDateTime) -> Result<OffsetDateTime, AppError> {
    if (EARLIEST..=LATEST).contains(&at) {
        Ok(at)
    } else {
        Err(invalid(attribute, "the clock stays between 1970 and 2999"))
    }
}

fn invalid(attribute: &str, reason: &str) -> AppError {
    AppError::InvalidAttributeValue {
        attribute: attribute.into(),
        reason: reason.into(),
    }
}

/// `POST …/faults`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultRequest {
    method: Option<String>,
    path: Option<String>,
    credential: Option<String>,
    status: Option<u16>,
    delay_ms: Option<u64>,
    #[serde(default)]
    drop: bool,
    retry_after_seconds: Option<u32>,
    times: Option<u32>,
    probability: Option<f64>,
}

impl RequestBody for FaultRequest {
    const READ_ONLY: &'static [&'static str] = &["id", "applied"];
}

impl TryFrom<FaultRequest> for NewFaultRule {
    type Error = AppError;

    fn try_from(request: FaultRequest) -> Result<Self, AppError> {
        let path = request
            .path
            .ok_or_else(|| AppError::MissingAttribute("path".into()))?;
        let path =
            PathPattern::parse(&path).map_err(|error| invalid("path", &error.to_string()))?;
        let method = match request.method {
            None => None,
            Some(method) if method == "*" => None,
            Some(method) => {
                if method.is_empty()
                    || method.len() > 16
                    || !method.bytes().all(|c| c.is_ascii_alphabetic())
                {
                    return Err(invalid("method", "an HTTP method such as GET, or *"));
                }
                Some(method.to_ascii_uppercase())
            }
        };
        if let Some(credential) = &request.credential
            && (credential.is_empty()
                || credential.len() > 64
                || !credential
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-'))
        {
            return Err(invalid(
                "credential",
                "an API key's public key or a service account's client id",
            ));
        }
        let status = request
            .status
            .map(|code| {
                FaultStatus::from_code(code).ok_or_else(|| invalid("status", "429, 500 or 503"))
            })
            .transpose()?;
        let delay = request
            .delay_ms
            .map(Duration::from_millis)
            .map(|delay| {
                if delay > MAX_DELAY {
                    Err(invalid("delayMs", "at most 60000"))
                } else {
                    Ok(delay)
                }
            })
            .transpose()?;
        if request.drop && status.is_some() {
            return Err(invalid(
                "drop",
                "a rule drops the connection or answers a status",
            ));
        }
        if !request.drop && status.is_none() && delay.is_none() {
            return Err(AppError::MissingAttribute("status".into()));
        }
        if request.times == Some(0) {
            return Err(invalid("times", "at least 1"));
        }
        if let Some(chance) = request.probability
            && !(0.0..=1.0).contains(&chance)
        {
            return Err(invalid("probability", "from 0 to 1"));
        }
        let retry_after_seconds = request.retry_after_seconds.unwrap_or(1);
        if retry_after_seconds > 3600 {
            return Err(invalid("retryAfterSeconds", "at most 3600"));
        }
        Ok(NewFaultRule {
            method,
            path,
            credential: request.credential,
            action: FaultAction {
                status,
                delay,
                drop: request.drop,
                retry_after_seconds,
            },
            times: request.times,
            probability: request.probability,
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FaultView {
    id: String,
    method: String,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    credential: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u128>,
    drop: bool,
    retry_after_seconds: u32,
    /// Matches left; absent for a rule that stays.
    #[serde(skip_serializing_if = "Option::is_none")]
    times: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probability: Option<f64>,
    applied: u64,
}

impl From<FaultRule> for FaultView {
    fn from(held: FaultRule) -> Self {
        let rule = held.rule;
        Self {
            id: held.id,
            method: rule.method.unwrap_or_else(|| "*".into()),
            path: rule.path.as_str().to_owned(),
            credential: rule.credential,
            status: rule.action.status.map(FaultStatus::code),
            delay_ms: rule.action.delay.map(|delay| delay.as_millis()),
            drop: rule.action.drop,
            retry_after_seconds: rule.action.retry_after_seconds,
            times: rule.times,
            probability: rule.probability,
            applied: held.applied,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listing<T> {
    results: Vec<T>,
    total_count: usize,
}

impl<T> Listing<T> {
    fn of(results: Vec<T>) -> Json<Self> {
        let total_count = results.len();
        Json(Self {
            results,
            total_count,
        })
    }
}

async fn add_fault(
    State(state): State<AppState>,
    RequestBytes(body): RequestBytes,
) -> Result<Response, AppError> {
    let control = control(&state)?;
    let rule = NewFaultRule::try_from(parse_body::<FaultRequest>(&body)?)?;
    let held = control
        .faults
        .add(rule)
        .map_err(|TooManyRules| AppError::TooManyItems {
            attribute: "faults".into(),
            max: crate::control::faults::MAX_RULES,
        })?;
    tracing::info!(fault = %held.id, path = %held.rule.path.as_str(), "fault rule added");
    Ok((StatusCode::CREATED, Json(FaultView::from(held))).into_response())
}

async fn list_faults(State(state): State<AppState>) -> Result<Json<Listing<FaultView>>, AppError> {
    let rules = control(&state)?.faults.list();
    Ok(Listing::of(
        rules.into_iter().map(FaultView::from).collect(),
    ))
}

async fn clear_faults(State(state): State<AppState>) -> Result<StatusCode, AppError> {
    control(&state)?.faults.clear();
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_fault(
    State(state): State<AppState>,
    AtlasPath(id): AtlasPath<String>,
) -> Result<StatusCode, AppError> {
    if control(&state)?.faults.remove(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::ResourceNotFound(format!("faults/{id}")))
    }
}

async fn list_requests(
    State(state): State<AppState>,
    query: QueryParams,
) -> Result<Json<Listing<JournalEntry>>, AppError> {
    let control = control(&state)?;
    let status = match query.get("status") {
        None => None,
        Some(text) => Some(
            text.parse::<u16>()
                .ok()
                .filter(|status| (100..=599).contains(status))
                .ok_or_else(|| AppError::InvalidQueryParameter("status".into()))?,
        ),
    };
    let path = query
        .get("path")
        .map(PathPattern::parse)
        .transpose()
        .map_err(|_| AppError::InvalidQueryParameter("path".into()))?;
    let filter = JournalFilter {
        method: query.get("method").map(str::to_owned),
        path,
        status,
    };
    let limit = query.count("limit")?.unwrap_or(MAX_LISTED).min(MAX_LISTED);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    Ok(Listing::of(control.journal.list(&filter, limit)))
}

async fn clear_requests(State(state): State<AppState>) -> Result<StatusCode, AppError> {
    control(&state)?.journal.clear();
    Ok(StatusCode::NO_CONTENT)
}
