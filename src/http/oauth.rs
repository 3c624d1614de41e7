//! The OAuth 2.0 endpoints of service accounts, outside `/api/atlas` and outside Digest
//! authentication: `POST /api/oauth/token` (client credentials) and `POST /api/oauth/revoke`.
//! Errors use the OAuth shape (`{"error", "error_description"}`), not Atlas's (BEHAVIOR §2).

use axum::Json;
use axum::Router;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use orgdoor_domain::service_account::sha256;
use orgdoor_domain::{
    AccessToken, ClientId, MAX_ACTIVE_TOKENS, ServiceAccount, ServiceAccountSecret,
};
use orgdoor_store::{Rejection, StoreError};
use serde::Serialize;
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::http::extract::RequestBytes;
use crate::security::failures::Scheme;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/oauth/token", post(issue_token))
        .route("/api/oauth/revoke", post(revoke_token))
        // A form of a client id, a secret and a token is small; anything more is refused (413)
        // before it is held, since these bodies are read before the client is authenticated.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
}

/// Largest token or revoke form accepted.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// An OAuth error response (RFC 6749 §5.2).
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
    /// Seconds to wait, for a 429.
    retry_after: Option<i64>,
}

const INVALID_CLIENT: OAuthError = OAuthError {
    status: StatusCode::UNAUTHORIZED,
    error: "invalid_client",
    description: "Invalid credentials provided.",
    retry_after: None,
};

#[derive(Serialize)]
struct OAuthErrorBody {
    error: &'static str,
    error_description: &'static str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = OAuthErrorBody {
            error: self.error,
            error_description: self.description,
        };
        let mut response = (
            self.status,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            Json(body),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Rejected(Rejection::TooManyTokens) => OAuthError {
                status: StatusCode::FORBIDDEN,
                error: "access_denied",
                description: "Access Token limit reached. Please use the existing Access Tokensor create a new Service Account.",
                retry_after: None,
            },
            StoreError::Rejected(Rejection::ServiceAccountNotFound(_)) => INVALID_CLIENT,
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "token endpoint: database unavailable");
                OAuthError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    error: "temporarily_unavailable",
                    description: "The service is temporarily unavailable. Please try again later.",
                    retry_after: None,
                }
            }
            other => {
                tracing::error!(error = ?other, "token endpoint failed");
                OAuthError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    error: "server_error",
                    description: "Unexpected error.",
                    retry_after: None,
                }
            }
        }
    }
}

/// The form fields of a token or revoke request.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        serde_urlencoded::from_bytes(body)
            .map(Form)
            .map_err(|_| OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "invalid_request",
                description: "The request body is not a form.",
                retry_after: None,
            })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined with `:` and base64-encoded.
fn decode_form_component(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

/// The client's id and secret, from `Authorization: Basic` or, failing that, the form.
fn client_credentials(headers: &HeaderMap, form: &Form) -> Option<(String, String)> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    {
        let (scheme, encoded) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        return Some((decode_form_component(id)?, decode_form_component(secret)?));
    }
    Some((
        form.get("client_id")?.to_owned(),
        form.get("client_secret")?.to_owned(),
    ))
}

/// The account whose id and secret these are; a missing account, an unknown or expired secret
/// all look the same to the caller.
/// The service account whose id and secret the client presented, and the secret that matched.
/// Every unexpired secret is compared, in constant time, whichever matches.
async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    form: &Form,
    peer: Option<IpAddr>,
) -> Result<(ServiceAccount, ServiceAccountSecret), OAuthError> {
    let (id, secret) = client_credentials(headers, form).ok_or(INVALID_CLIENT)?;
    let now = state.clock.now();
    state
        .failures
        .check(Scheme::ClientSecret, &id, peer, now)
        .map_err(|throttled| OAuthError {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: "slow_down",
            description: "Too many failed authentication attempts. Try again later.",
            retry_after: Some(throttled.retry_after),
        })?;
    let failed = || {
        state
            .failures
            .record_failure(Scheme::ClientSecret, &id, peer, now);
        INVALID_CLIENT
    };
    let client_id: ClientId = id.parse().map_err(|_| failed())?;
    let credential = state
        .store
        .find_service_account(&client_id)
        .await?
        .ok_or_else(failed)?;
    let presented = sha256(&secret);
    let mut matched = subtle::Choice::from(0);
    let mut matched_index = 0u64;
    for (index, stored) in credential.account.secrets.iter().enumerate() {
        let unexpired = subtle::Choice::from(u8::from(!stored.is_expired(now)));
        let this = stored.digest.ct_eq(&presented) & unexpired;
        let index = u64::try_from(index).unwrap_or(u64::MAX);
        matched_index = u64::conditional_select(&matched_index, &index, this);
        matched |= this;
    }
    let secret = usize::try_from(matched_index)
        .ok()
        .and_then(|index| credential.account.secrets.get(index))
        .cloned();
    match (bool::from(matched), secret) {
        (true, Some(secret)) => Ok((credential.account, secret)),
        _ => Err(failed()),
    }
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
    token_type: &'static str,
}

async fn issue_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RequestBytes(body): RequestBytes,
) -> Result<Response, OAuthError> {
    let form = Form::parse(&body)?;
    match form.get("grant_type") {
        None => {
            return Err(OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "invalid_request",
                description: "The grant_type parameter is missing.",
                retry_after: None,
            });
        }
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "unsupported_grant_type",
                description: "Only the client_credentials grant type is supported.",
                retry_after: None,
            });
        }
    }
    let (account, secret) = authenticate_client(&state, &headers, &form, Some(peer.ip())).await?;
    let now = state.clock.now();
    let (mut token, value) = AccessToken::generate(account.client_id, now);
    // A token never outlives the secret it was minted with.
    token.expires_at = token.expires_at.min(secret.expires_at);
    state
        .store
        .issue_access_token(&token, Some(&secret.id), now, MAX_ACTIVE_TOKENS)
        .await?;
    let body = TokenResponse {
        access_token: value,
        expires_in: (token.expires_at - token.created_at).whole_seconds(),
        token_type: "Bearer",
    };
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response())
}

/// Revokes one of the client's tokens; 200 whether or not the token was known (RFC 7009).
async fn revoke_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RequestBytes(body): RequestBytes,
) -> Result<StatusCode, OAuthError> {
    let form = Form::parse(&body)?;
    let (account, _) = authenticate_client(&state, &headers, &form, Some(peer.ip())).await?;
    if let Some(token) = form.get("token") {
        state
            .store
            .revoke_access_token(&account.client_id, &sha256(token))
            .await?;
    }
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_url_decoded_after_base64() {
        let mut headers = HeaderMap::new();
        let encoded = BASE64.encode("mdb_sa_id_0123%3Aabc:s%2Bcr%2Fet+x");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).expect("header"),
        );
        let form = Form(Vec::new());
        assert_eq!(
            client_credentials(&headers, &form),
            Some(("mdb_sa_id_0123:abc".to_owned(), "s+cr/et x".to_owned()))
        );
    }

    #[test]
    fn form_credentials_are_the_fallback() {
        let form = Form::parse(b"grant_type=client_credentials&client_id=a&client_secret=b")
            .expect("form");
        assert_eq!(
            client_credentials(&HeaderMap::new(), &form),
            Some(("a".to_owned(), "b".to_owned()))
        );
    }
}
