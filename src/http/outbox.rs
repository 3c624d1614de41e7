//! `GET /api/orgdoor/v1/orgs/{orgId}/outbox`: the messages orgdoor has composed for an
//! organization's invitations, newest first, whether or not an SMTP server delivered them — how
//! a test reads the link an invitee would have received. Organization Owners only: the links
//! let whoever holds them join.

use axum::Json;
use axum::extract::State;
use orgdoor_domain::OutboxMessage;
use serde::Serialize;

use crate::error::AppError;
use crate::http::extract::{BaseUrl, QueryParams};
use crate::http::pagination::{ListQuery, Paginated};
use crate::http::scope::{OrgOwner, OrgScope};
use crate::state::AppState;
use crate::views::atlas_timestamp;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessageView {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    invitation_id: Option<String>,
    to: String,
    subject: String,
    text: String,
    html: String,
    accept_url: String,
    status: &'static str,
    attempts: u32,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
}

impl From<OutboxMessage> for OutboxMessageView {
    fn from(message: OutboxMessage) -> Self {
        Self {
            id: message.id.to_string(),
            invitation_id: message.invitation_id.map(|id| id.to_string()),
            to: message.to.to_string(),
            subject: message.subject,
            text: message.text,
            html: message.html,
            accept_url: message.accept_url,
            status: message.status.as_str(),
            attempts: message.attempts,
            created_at: atlas_timestamp(message.created_at),
            delivered_at: message.delivered_at.map(atlas_timestamp),
            last_error: message.last_error,
        }
    }
}

pub async fn list_outbox(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<Json<Paginated<OutboxMessageView>>, AppError> {
    let to = query.email("to")?;
    let list = ListQuery::from_query(&query)?;
    let page = state
        .store
        .list_outbox(&organization.id, to.as_ref(), list.page)
        .await?;
    let path = format!("/orgs/{}/outbox", organization.id);
    Ok(Json(Paginated::new(
        &base,
        &path,
        &list,
        page,
        OutboxMessageView::from,
    )))
}
