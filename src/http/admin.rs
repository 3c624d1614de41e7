//! orgdoor's own API under `/api/orgdoor/v1`, outside Atlas's: what Atlas does out of band.
//!
//! An Atlas invitee accepts or declines by following an e-mail; no Admin API call can do it.
//! Tests, and platforms that build the invitee's side themselves, answer an invitation here:
//! `POST /api/orgdoor/v1/orgs/{orgId}/invitations/{invitee}:accept` (or `:decline`), where
//! `invitee` is the invitation id, the pending user's id or the invitee's address. The caller
//! must be an Organization Owner of that organization, authenticated like any Atlas request.
//!
//! `GET /api/orgdoor/v1/orgs/{orgId}/outbox` lists the messages composed for the
//! organization's invitations (`http::outbox`).
//!
//! `GET /api/orgdoor/v1/openapi.yaml` serves the Atlas v2 contract (`spec/atlas/`) to anyone:
//! it is public documentation.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::extract::{AtlasPath, RequestBody, RequestBytes, parse_body};
use crate::http::operations::behind_authentication;
use crate::http::scope::{OrgOwner, OrgScope, ScopeSegment};
use crate::http::{openapi, outbox};
use crate::invitee::{Answer, Profile, answer_as_invitee};
use crate::state::AppState;
use crate::views::OrgUserView;

pub fn router(state: &AppState) -> Router<AppState> {
    // `{invitee}:accept` and `:decline`, split off by `split_custom_method`.
    let routes = Router::new()
        .route(
            "/orgs/{orgId}/invitations/{invitee}/{method}",
            post(answer_invitation),
        )
        .route("/orgs/{orgId}/outbox", get(outbox::list_outbox));
    // Added after the authentication layer, so outside it.
    behind_authentication(routes, state).route("/openapi.yaml", get(openapi::atlas_v2))
}

/// What the invitee tells about themselves on accepting; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileRequest {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub country: Option<String>,
    pub mobile_number: Option<String>,
}

impl RequestBody for ProfileRequest {}

impl From<ProfileRequest> for Profile {
    fn from(request: ProfileRequest) -> Self {
        Profile {
            first_name: request.first_name,
            last_name: request.last_name,
            country: request.country,
            mobile_number: request.mobile_number,
        }
    }
}

async fn answer_invitation(
    State(state): State<AppState>,
    AtlasPath((_, invitee, method)): AtlasPath<(ScopeSegment, String, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    RequestBytes(body): RequestBytes,
) -> Result<Json<OrgUserView>, AppError> {
    let answer = match method.as_str() {
        ":accept" if body.is_empty() => Answer::Accept(Profile::default()),
        ":accept" => Answer::Accept(parse_body::<ProfileRequest>(&body)?.into()),
        ":decline" => Answer::Decline,
        _ => return Err(AppError::ResourceNotFound(format!("{invitee}/{method}"))),
    };
    let now = state.clock.now();
    let user = answer_as_invitee(
        state.store.as_ref(),
        &organization.id,
        &invitee,
        answer,
        now,
    )
    .await?;
    Ok(Json(OrgUserView::new(user, now)))
}
