//! The activity feeds: `/orgs/{orgId}/events[/{eventId}]` (Organization Member),
//! `/groups/{groupId}/events[/{eventId}]` (Project Read Only), both in v2 (2023-01-01) and
//! v1.0, and the catalogue `/eventTypes`. Events are recorded by the changes themselves, in
//! their transactions; these operations only read them, newest first.

use axum::Json;
use axum::extract::State;
use axum::routing::{MethodRouter, get};
use orgdoor_domain::{ActorCredential, Event, EventId, EventType, Page};
use orgdoor_store::{EventFilter, EventScope};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::AppError;
use crate::http::extract::{AtlasPath, BaseUrl, QueryParams};
use crate::http::operations::ApiRoutes;
use crate::http::pagination::{Link, ListQuery, Paginated};
use crate::http::rate_limits::{ORGANIZATIONS, PROJECTS, limited};
use crate::http::scope::{GroupReadOnly, GroupScope, OrgMember, OrgScope, ScopeSegment};
use crate::http::versioning::V2023_01_01;
use crate::state::AppState;
use crate::views::atlas_timestamp;

/// Most event types one list may filter by.
const MAX_EVENT_TYPES: usize = 100;

/// The v2 operations (2023-01-01); the feeds, not the type catalogue, have v1.0 twins.
pub fn routes(state: &AppState) -> ApiRoutes {
    let [org_list, org_item, group_list, group_item, event_types] = method_routers(state);
    let feeds = [org_list, org_item, group_list, group_item];
    ApiRoutes::v2_and_legacy(feeds, state, &[V2023_01_01]).merge(ApiRoutes::v2_only(
        [event_types],
        state,
        &[V2023_01_01],
    ))
}

fn method_routers(state: &AppState) -> [(&'static str, MethodRouter<AppState>); 5] {
    [
        (
            "/orgs/{orgId}/events",
            limited(get(list_org_events), state, &ORGANIZATIONS),
        ),
        (
            "/orgs/{orgId}/events/{eventId}",
            limited(get(get_org_event), state, &ORGANIZATIONS),
        ),
        (
            "/groups/{groupId}/events",
            limited(get(list_group_events), state, &PROJECTS),
        ),
        (
            "/groups/{groupId}/events/{eventId}",
            limited(get(get_group_event), state, &PROJECTS),
        ),
        ("/eventTypes", get(list_event_types)),
    ]
}

/// `EventViewForOrg` / `EventViewForNdsGroup`: the fields Atlas's user, team, API-key and
/// service-account events share, those that do not apply left out.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    id: String,
    created: String,
    event_type_name: &'static str,
    org_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<String>,
    is_global_admin: bool,
    links: Vec<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_public_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    whitelist_entry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<Value>,
}

impl EventView {
    fn new(base: &BaseUrl, feed_path: &str, event: Event, include_raw: bool) -> Self {
        let (mut api_key_id, mut public_key, mut user_id, mut username) = (None, None, None, None);
        match event.actor.credential {
            ActorCredential::ApiKey {
                id,
                public_key: key,
            } => (api_key_id, public_key) = (Some(id.to_string()), Some(key)),
            // Atlas's service-account events name no account; the client id is the nearest
            // thing to a public key.
            ActorCredential::ServiceAccount { client_id } => public_key = Some(client_id),
            ActorCredential::User {
                user_id: id,
                username: name,
            } => (user_id, username) = (Some(id.to_string()), Some(name.to_string())),
            ActorCredential::System => {}
        }
        let created = atlas_timestamp(event.created_at);
        let raw = include_raw.then(|| {
            let (description, _) = event.event_type.description();
            let mut raw = json!({
                "_t": event.event_type.as_str(),
                "cre": created,
                "description": description,
                "id": event.id.as_str(),
                "orgId": event.org_id.as_str(),
                "severity": "INFO",
            });
            if let Some(group) = &event.group_id {
                raw["cid"] = json!(group.as_str());
            }
            raw
        });
        Self {
            links: vec![Link::self_link(base, &format!("{feed_path}/{}", event.id))],
            id: event.id.to_string(),
            created,
            event_type_name: event.event_type.as_str(),
            org_id: event.org_id.to_string(),
            group_id: event.group_id.map(|group| group.to_string()),
            is_global_admin: false,
            api_key_id,
            public_key,
            user_id,
            username,
            remote_address: event
                .actor
                .remote_address
                .map(|address| address.to_string()),
            target_username: event.target.username.map(|username| username.to_string()),
            team_id: event.target.team_id.map(|team| team.to_string()),
            target_public_key: event.target.public_key,
            whitelist_entry: event.target.access_list_entry,
            raw,
        }
    }
}

/// The filter of a list request: `eventType` (repeatable), `minDate`, `maxDate`; `None` when
/// it names only types orgdoor never records (Atlas has hundreds: a cluster's, a bill's), which
/// no event can match.
fn event_filter(query: &QueryParams) -> Result<Option<EventFilter>, AppError> {
    let names: Vec<&str> = query.all("eventType").collect();
    if names.len() > MAX_EVENT_TYPES {
        return Err(AppError::InvalidQueryParameter("eventType".into()));
    }
    let mut types = Vec::new();
    for name in &names {
        match name.parse::<EventType>() {
            Ok(event_type) => types.push(event_type),
            // Atlas's names are upper-case words joined by underscores.
            Err(_) if is_event_type_name(name) => {}
            Err(_) => return Err(AppError::InvalidEnumValue((*name).to_owned())),
        }
    }
    let date = |name: &str| -> Result<Option<OffsetDateTime>, AppError> {
        query
            .get(name)
            .map(|text| {
                OffsetDateTime::parse(text, &Rfc3339)
                    .map_err(|_| AppError::InvalidQueryParameter(name.to_owned()))
            })
            .transpose()
    };
    let filter = EventFilter {
        min_date: date("minDate")?,
        max_date: date("maxDate")?,
        types,
    };
    let only_unrecorded = !names.is_empty() && filter.types.is_empty();
    Ok((!only_unrecorded).then_some(filter))
}

fn is_event_type_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

async fn list_events(
    state: &AppState,
    base: &BaseUrl,
    query: &QueryParams,
    scope: EventScope<'_>,
    feed_path: &str,
) -> Result<Json<Paginated<EventView>>, AppError> {
    let filter = event_filter(query)?;
    let include_raw = query.flag("includeRaw", false);
    let list = ListQuery::from_query(query)?;
    let page = match filter {
        Some(filter) => state.store.list_events(scope, &filter, list.page).await?,
        None => Page {
            items: Vec::new(),
            total_count: 0,
        },
    };
    Ok(Json(Paginated::new(
        base,
        feed_path,
        &list,
        page,
        |event| EventView::new(base, feed_path, event, include_raw),
    )))
}

async fn get_event(
    state: &AppState,
    base: &BaseUrl,
    query: &QueryParams,
    scope: EventScope<'_>,
    feed_path: &str,
    raw_id: String,
) -> Result<Json<EventView>, AppError> {
    let not_found = || AppError::ResourceNotFound(raw_id.clone());
    let id: EventId = raw_id.parse().map_err(|_| not_found())?;
    let event = state
        .store
        .get_event(scope, &id)
        .await?
        .ok_or_else(not_found)?;
    let include_raw = query.flag("includeRaw", false);
    Ok(Json(EventView::new(base, feed_path, event, include_raw)))
}

async fn list_org_events(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Json<Paginated<EventView>>, AppError> {
    let path = format!("/orgs/{}/events", organization.id);
    let scope = EventScope::Organization(&organization.id);
    list_events(&state, &base, &query, scope, &path).await
}

async fn get_org_event(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryParams,
    AtlasPath((_, event_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Json<EventView>, AppError> {
    let path = format!("/orgs/{}/events", organization.id);
    let scope = EventScope::Organization(&organization.id);
    get_event(&state, &base, &query, scope, &path, event_id).await
}

async fn list_group_events(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryParams,
    GroupScope(group, _): GroupScope<GroupReadOnly>,
) -> Result<Json<Paginated<EventView>>, AppError> {
    let path = format!("/groups/{}/events", group.id);
    let scope = EventScope::Project(&group.id);
    list_events(&state, &base, &query, scope, &path).await
}

async fn get_group_event(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryParams,
    AtlasPath((_, event_id)): AtlasPath<(ScopeSegment, String)>,
    GroupScope(group, _): GroupScope<GroupReadOnly>,
) -> Result<Json<EventView>, AppError> {
    let path = format!("/groups/{}/events", group.id);
    let scope = EventScope::Project(&group.id);
    get_event(&state, &base, &query, scope, &path, event_id).await
}

/// `EventTypeDetails`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EventTypeView {
    alertable: bool,
    description: &'static str,
    event_type: &'static str,
}

async fn list_event_types(
    base: BaseUrl,
    query: QueryParams,
) -> Result<Json<Paginated<EventTypeView>>, AppError> {
    let list = ListQuery::from_query(&query)?;
    let all = EventType::all()
        .iter()
        .map(|event_type| {
            let (description, alertable) = event_type.description();
            EventTypeView {
                alertable,
                description,
                event_type: event_type.as_str(),
            }
        })
        .collect();
    let page: Page<EventTypeView> = Page::of_all(all, list.page);
    Ok(Json(Paginated::new(
        &base,
        "/eventTypes",
        &list,
        page,
        |view| view,
    )))
}
