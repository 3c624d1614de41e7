//! Authentication as one layer in front of every `/api/atlas` route, before the body is read,
//! the version negotiated or the route matched (BEHAVIOR §0): a client's first, credential-less
//! request must get a challenge and have no side effect. The layer stores the caller as a
//! [`Principal`] in the request; authorization happens in each handler.

pub mod principal;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orgdoor_domain::{AllowedNetwork, PublicKey};
use orgdoor_store::audit::{AuditContext, acting_as};
use orgdoor_store::{ApiKeyCredential, BearerCredential};
use time::OffsetDateTime;

pub use principal::{GroupAccess, Identity, OrgAccess, Principal};

use crate::error::AppError;
use crate::metrics::{self, AuthFailure};
use crate::security::digest::{self, NonceStatus};
use crate::security::failures::{Scheme, Throttled};
use crate::state::AppState;
use crate::transport::{RequestTarget, answer_early};

/// Atlas's 401 body, byte for byte: Jackson-pretty, keys in this fixed order (BEHAVIOR §1.1).
const UNAUTHORIZED_BODY: &str = "{\n  \"error\" : 401,\n  \"reason\" : \"Unauthorized\",\n  \"detail\" : \"You are not authorized for this resource.\",\n  \"errorCode\" : \"UNEXPECTED_ERROR\"\n}";

/// Who a request was authenticated as, put on its response for the request log and journal.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The API key's public key or the service account's client id.
    pub credential: Box<str>,
    /// The organization the credential belongs to.
    pub org_id: Box<str>,
}

/// Why a request was not authenticated; only logged, never told to the client.
#[derive(Debug)]
enum Refusal {
    NoCredentials,
    Malformed,
    Unacceptable,
    UnknownKey,
    WrongResponse,
    ForgedNonce,
    StaleNonce,
    /// A `(nonce, nc)` pair used before: a replayed header, or a client resending a request.
    Replayed,
    UnknownToken,
    ExpiredToken,
}

impl Refusal {
    /// The reason metrics count it under.
    fn metric(&self) -> AuthFailure {
        match self {
            Refusal::NoCredentials => AuthFailure::MissingCredentials,
            Refusal::Malformed | Refusal::Unacceptable => AuthFailure::MalformedCredentials,
            Refusal::UnknownKey => AuthFailure::UnknownKey,
            Refusal::WrongResponse => AuthFailure::BadDigest,
            Refusal::ForgedNonce => AuthFailure::ForgedNonce,
            Refusal::StaleNonce => AuthFailure::StaleNonce,
            Refusal::Replayed => AuthFailure::ReplayedNonce,
            Refusal::UnknownToken | Refusal::ExpiredToken => AuthFailure::BadBearerToken,
        }
    }
}

/// Finds who sent `request` and runs `handler` as them, or answers with a challenge or an
/// Atlas error without running it.
pub async fn authenticate<F>(
    state: &AppState,
    mut request: Request,
    handler: impl FnOnce(Request) -> F,
) -> Response
where
    F: Future<Output = Response>,
{
    let now = state.clock.now();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    let attempt = Attempt {
        authorization: request.headers().get(header::AUTHORIZATION),
        method: request.method(),
        target: request
            .extensions()
            .get::<RequestTarget>()
            .map(RequestTarget::as_str)
            .or_else(|| request.uri().path_and_query().map(|target| target.as_str()))
            .unwrap_or("/"),
        peer,
    };
    let identified = identify(state, &attempt, now).await;
    match identified {
        Ok(principal) => {
            tracing::Span::current().record("auth.key", principal.username());
            // The events the request's changes record name this credential and address.
            let audit = AuditContext {
                actor: principal.actor(peer),
                at: now,
            };
            let caller = Caller {
                credential: principal.username().into(),
                org_id: principal.org_id().to_string().into(),
            };
            request.extensions_mut().insert(principal);
            let mut response = acting_as(audit, handler(request)).await;
            response.extensions_mut().insert(caller);
            response
        }
        Err(Ok(refusal)) => {
            tracing::debug!(auth.refusal = ?refusal, "request not authenticated");
            metrics::record_auth_failure(refusal.metric());
            let stale = matches!(refusal, Refusal::StaleNonce | Refusal::Replayed);
            let challenge = challenge(state, now, stale);
            answer_early(request, challenge).await
        }
        Err(Err(error)) => {
            match &error {
                AppError::RateLimited { .. } => {
                    metrics::record_auth_failure(AuthFailure::Throttled)
                }
                AppError::IpAddressNotOnAccessList(_) => {
                    metrics::record_auth_failure(AuthFailure::AccessList);
                }
                // The store failed: nothing was refused.
                _ => {}
            }
            let retry_after = match &error {
                AppError::RateLimited { retry_after, .. } => Some(*retry_after),
                _ => None,
            };
            let mut response = answer_early(request, error).await;
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
    }
}

/// What authentication needs from a request, taken out so the body can stay behind.
struct Attempt<'a> {
    authorization: Option<&'a HeaderValue>,
    method: &'a Method,
    /// Path and query as received, which a Digest `uri` must name.
    target: &'a str,
    /// The address the connection comes from, for access lists.
    peer: Option<IpAddr>,
}

/// The caller, or why there is none (`Ok`) or a failure to find out (`Err`, e.g. no database).
async fn identify(
    state: &AppState,
    attempt: &Attempt<'_>,
    now: OffsetDateTime,
) -> Result<Principal, Result<Refusal, AppError>> {
    let header = attempt
        .authorization
        .as_ref()
        .ok_or(Ok(Refusal::NoCredentials))?
        .to_str()
        .map_err(|_| Ok(Refusal::Malformed))?;
    if let Some(token) = bearer_token(header) {
        return identify_bearer(state, attempt, token, now).await;
    }
    let credentials = digest::parse_authorization(header).map_err(|_| Ok(Refusal::Malformed))?;
    credentials
        .check_shape(attempt.target)
        .map_err(|_| Ok(Refusal::Unacceptable))?;
    let nonce = state.nonces.check(&credentials.nonce, now);
    if nonce == NonceStatus::Forged {
        return Err(Ok(Refusal::ForgedNonce));
    }
    // Guessing: after repeated failures on this key (or any key) from this address, no
    // attempt from there is checked until the bucket refills.
    let username = credentials.username.as_str();
    state
        .failures
        .check(Scheme::Digest, username, attempt.peer, now)
        .map_err(|throttled| Err(throttled_error(throttled)))?;
    let failed = |refusal: Refusal| {
        state
            .failures
            .record_failure(Scheme::Digest, username, attempt.peer, now);
        Ok(refusal)
    };
    let public_key: PublicKey = username.parse().map_err(|_| failed(Refusal::UnknownKey))?;
    let credential = match state.credentials.api_key(&public_key).await {
        Some(held) => held,
        None => {
            let lease = state.credentials.lease();
            let found = state
                .store
                .find_api_key(&public_key)
                .await
                .map_err(|error| Err(AppError::from(error)))?
                .ok_or_else(|| failed(Refusal::UnknownKey))?;
            let found = Arc::new(found);
            state.credentials.keep_api_key(lease, Arc::clone(&found));
            found
        }
    };
    let ApiKeyCredential {
        key,
        ha1,
        access_list,
        organization,
    } = &*credential;
    if !credentials.verify(ha1, attempt.method.as_str()) {
        return Err(failed(Refusal::WrongResponse));
    }
    let NonceStatus::Fresh(nonce) = nonce else {
        return Err(Ok(Refusal::StaleNonce));
    };
    // Only a proven, fresh pair is remembered: nobody can fill the memory without the key.
    if !state
        .replays
        .first_use(nonce, credentials.nonce_count(), now)
    {
        return Err(Ok(Refusal::Replayed));
    }
    check_access_list(access_list, attempt.peer).map_err(Err)?;
    Ok(Principal {
        identity: Identity::ApiKey {
            id: key.id.clone(),
            public_key: key.public_key.clone(),
        },
        organization: organization.clone(),
        roles: key.roles.clone(),
        project_roles: key.project_roles.clone(),
    })
}

/// The 429 for a caller throttled after failed attempts: Atlas's rate-limit error, which every
/// Atlas client already knows to wait on.
pub fn throttled_error(throttled: Throttled) -> AppError {
    AppError::RateLimited {
        resource: "authentication",
        retry_after: throttled.retry_after,
        capacity: throttled.limits.capacity,
        refill: throttled.limits.refill,
        period: throttled.limits.period_seconds,
    }
}

/// The token of an `Authorization: Bearer …` header.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// A service account's access token: known (by its SHA-256), unexpired, and used from an
/// allowed address. An unknown, revoked or expired token gets the same challenge as bad Digest
/// credentials (BEHAVIOR §2.3).
async fn identify_bearer(
    state: &AppState,
    attempt: &Attempt<'_>,
    token: &str,
    now: OffsetDateTime,
) -> Result<Principal, Result<Refusal, AppError>> {
    let digest = orgdoor_domain::service_account::sha256(token);
    let credential = match state.credentials.token(&digest).await {
        Some(held) => held,
        None => {
            let lease = state.credentials.lease();
            let found = state
                .store
                .find_access_token(&digest)
                .await
                .map_err(|error| Err(AppError::from(error)))?
                .ok_or(Ok(Refusal::UnknownToken))?;
            let found = Arc::new(found);
            state
                .credentials
                .keep_token(lease, digest, Arc::clone(&found));
            found
        }
    };
    let BearerCredential {
        token,
        credential,
        organization,
    } = &*credential;
    if now >= token.expires_at {
        return Err(Ok(Refusal::ExpiredToken));
    }
    check_access_list(&credential.access_list, attempt.peer).map_err(Err)?;
    let account = &credential.account;
    Ok(Principal {
        identity: Identity::ServiceAccount {
            client_id: account.client_id.clone(),
        },
        organization: organization.clone(),
        roles: account.roles.clone(),
        project_roles: Vec::new(),
    })
}

/// Only a caller who proved its credential learns that its address is not allowed.
fn check_access_list(access_list: &[AllowedNetwork], peer: Option<IpAddr>) -> Result<(), AppError> {
    if access_list.is_empty()
        || peer.is_some_and(|peer| access_list.iter().any(|network| network.contains(peer)))
    {
        return Ok(());
    }
    Err(AppError::IpAddressNotOnAccessList(
        peer.map(|peer| peer.to_string()).unwrap_or_default(),
    ))
}

/// A 401 with a fresh Digest challenge and Atlas's exact body.
fn challenge(state: &AppState, now: OffsetDateTime, stale: bool) -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, UNAUTHORIZED_BODY).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(&state.nonces.challenge(now, stale)) {
        headers.insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
