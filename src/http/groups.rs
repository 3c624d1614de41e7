//! Projects ("groups"): `/groups[/{groupId}]` and `/orgs/{orgId}/groups`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get};
use orgdoor_domain::limits::MAX_TAGS;
use orgdoor_domain::{Group, GroupTag, GroupUpdate, NewGroup, ProjectName};
use serde::{Deserialize, Serialize};

use crate::auth::{GroupAccess, OrgAccess, Principal};
use crate::error::AppError;
use crate::http::extract::{
    AtlasJson, AtlasPath, BaseUrl, QueryParams, RequestBody, parse_name, required_name,
};
use crate::http::operations::ApiRoutes;
use crate::http::pagination::{Link, ListQuery, Paginated};
use crate::http::rate_limits::{ORGANIZATIONS, PROJECTS, PROJECTS_BY_CALLER, limited};
use crate::http::scope::{GroupOwner, GroupReadOnly, GroupScope, OrgMember, OrgScope, org_for};
use crate::http::versioning::V2023_01_01;
use crate::state::AppState;
use crate::views::atlas_timestamp;

fn method_routers(state: &AppState) -> [(&'static str, MethodRouter<AppState>); 4] {
    [
        (
            "/groups",
            limited(
                get(list_groups).post(create_group),
                state,
                &PROJECTS_BY_CALLER,
            ),
        ),
        (
            "/groups/byName/{groupName}",
            limited(get(get_group_by_name), state, &PROJECTS_BY_CALLER),
        ),
        (
            "/groups/{groupId}",
            limited(
                get(get_group).patch(update_group).delete(delete_group),
                state,
                &PROJECTS,
            ),
        ),
        (
            "/orgs/{orgId}/groups",
            limited(get(list_org_groups), state, &ORGANIZATIONS),
        ),
    ]
}

/// The v2 operations (2023-01-01) and their `/api/atlas/v1.0` twins, which the public client
/// libraries still call.
pub fn routes(state: &AppState) -> ApiRoutes {
    ApiRoutes::v2_and_legacy(method_routers(state), state, &[V2023_01_01])
}

#[derive(Serialize, Deserialize)]
struct TagView {
    key: String,
    value: String,
}

/// `Group`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupView {
    cluster_count: u64,
    created: String,
    id: String,
    links: Vec<Link>,
    name: String,
    org_id: String,
    tags: Vec<TagView>,
    with_default_alerts_settings: bool,
}

impl GroupView {
    fn new(base: &BaseUrl, group: Group) -> Self {
        Self {
            cluster_count: 0,
            created: atlas_timestamp(group.created_at),
            links: vec![Link::self_link(base, &format!("/groups/{}", group.id))],
            id: group.id.into(),
            name: group.name.to_string(),
            org_id: group.org_id.into(),
            tags: group
                .tags
                .iter()
                .map(|tag| TagView {
                    key: tag.key().into(),
                    value: tag.value().into(),
                })
                .collect(),
            with_default_alerts_settings: group.with_default_alerts_settings,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupRequest {
    name: Option<String>,
    org_id: Option<String>,
    region_usage_restrictions: Option<String>,
    tags: Option<Vec<TagView>>,
    with_default_alerts_settings: Option<bool>,
}

impl RequestBody for GroupRequest {
    const READ_ONLY: &'static [&'static str] = &["clusterCount", "created", "id", "links"];
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupUpdateRequest {
    name: Option<String>,
    tags: Option<Vec<TagView>>,
    with_default_alerts_settings: Option<bool>,
}

impl RequestBody for GroupUpdateRequest {
    const READ_ONLY: &'static [&'static str] = &["clusterCount", "created", "id", "links"];
    const FIXED: &'static [&'static str] = &["orgId"];
}

fn tags(tags: Vec<TagView>) -> Result<Vec<GroupTag>, AppError> {
    AppError::check_length("tags", &tags, MAX_TAGS)?;
    tags.into_iter()
        .map(|tag| {
            GroupTag::new(tag.key, tag.value).map_err(|reason| AppError::InvalidAttributeValue {
                attribute: "tags".into(),
                reason: reason.to_string(),
            })
        })
        .collect()
}

/// Projects the caller can read: every project of its organization for owners and read-only
/// members; none for other roles until keys can hold project roles.
async fn list_groups(
    State(state): State<AppState>,
    principal: Principal,
    base: BaseUrl,
    query: QueryParams,
) -> Result<Json<Paginated<GroupView>>, AppError> {
    let list = ListQuery::from_query(&query)?;
    let page = if principal
        .require_org(principal.org_id(), OrgAccess::ReadOnly)
        .is_ok()
    {
        state
            .store
            .list_groups(principal.org_id(), list.page)
            .await?
    } else {
        // The projects the credential has a role in, in the order it was given them.
        let mut granted = Vec::with_capacity(principal.project_roles.len());
        for grant in &principal.project_roles {
            if let Some(group) = state.store.get_group(&grant.group_id).await? {
                granted.push(group);
            }
        }
        orgdoor_domain::Page::of_all(granted, list.page)
    };
    Ok(Json(Paginated::new(
        &base,
        "/groups",
        &list,
        page,
        |group| GroupView::new(&base, group),
    )))
}

async fn list_org_groups(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Json<Paginated<GroupView>>, AppError> {
    let list = ListQuery::from_query(&query)?;
    let page = state.store.list_groups(&organization.id, list.page).await?;
    let path = format!("/orgs/{}/groups", organization.id);
    Ok(Json(Paginated::new(&base, &path, &list, page, |group| {
        GroupView::new(&base, group)
    })))
}

async fn create_group(
    State(state): State<AppState>,
    principal: Principal,
    base: BaseUrl,
    body: AtlasJson<GroupRequest>,
) -> Result<Json<GroupView>, AppError> {
    // The organization is named in the body, so the body is read before the role check.
    let request = body.parse()?;
    let raw_org = request
        .org_id
        .clone()
        .ok_or_else(|| AppError::MissingAttribute("orgId".into()))?;
    let organization = org_for(&state, &principal, &raw_org, OrgAccess::GroupCreator).await?;
    let name: ProjectName = required_name(request.name)?;
    if let Some(restriction) = request.region_usage_restrictions {
        // Only the commercial regions exist here; Atlas for Government is a separate service.
        if restriction != "COMMERCIAL_FEDRAMP_REGIONS_ONLY" {
            return Err(AppError::InvalidEnumValue(restriction));
        }
    }
    let group = NewGroup {
        org_id: organization.id,
        name,
        tags: tags(request.tags.unwrap_or_default())?,
        with_default_alerts_settings: request.with_default_alerts_settings.unwrap_or(true),
    }
    .into_group(state.clock.now());
    // A key that creates a project owns it (and so sees it in `GET /groups`), as on Atlas.
    state
        .store
        .create_group(&group, principal.api_key())
        .await?;
    Ok(Json(GroupView::new(&base, group)))
}

async fn get_group(
    base: BaseUrl,
    GroupScope(group, _): GroupScope<GroupReadOnly>,
) -> Result<Json<GroupView>, AppError> {
    Ok(Json(GroupView::new(&base, group)))
}

/// The caller's organization's project of that name (names are unique per organization).
async fn get_group_by_name(
    State(state): State<AppState>,
    principal: Principal,
    base: BaseUrl,
    AtlasPath(raw_name): AtlasPath<String>,
) -> Result<Json<GroupView>, AppError> {
    let name = ProjectName::parse(raw_name.clone())
        .map_err(|_| AppError::GroupNameNotFound(raw_name.clone()))?;
    let group = state
        .store
        .find_group_by_name(principal.org_id(), &name)
        .await?
        .ok_or(AppError::GroupNameNotFound(raw_name))?;
    principal.require_group(&group, GroupAccess::ReadOnly)?;
    Ok(Json(GroupView::new(&base, group)))
}

async fn update_group(
    State(state): State<AppState>,
    base: BaseUrl,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<GroupUpdateRequest>,
) -> Result<Json<GroupView>, AppError> {
    let request = body.parse()?;
    let update = GroupUpdate {
        name: request.name.map(parse_name).transpose()?,
        tags: request.tags.map(tags).transpose()?,
        with_default_alerts_settings: request.with_default_alerts_settings,
    };
    let group = state.store.update_group(&group.id, update).await?;
    Ok(Json(GroupView::new(&base, group)))
}

async fn delete_group(
    State(state): State<AppState>,
    GroupScope(group, _): GroupScope<GroupOwner>,
) -> Result<StatusCode, AppError> {
    state.store.delete_group(&group.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
