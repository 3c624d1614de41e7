//! Organizations: `GET /orgs`, `GET /orgs/{orgId}`, `PATCH /orgs/{orgId}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get};
use orgdoor_domain::limits::MAX_ROLES;
use orgdoor_domain::{NewOrganization, OrgName, OrgUser, Organization, Page};
use serde::{Deserialize, Serialize};

use crate::auth::{OrgAccess, Principal};
use crate::error::AppError;
use crate::http::api_keys::{self, ApiKeyView, KeyRequest};
use crate::http::extract::{
    AtlasJson, BaseUrl, QueryParams, RequestBody, parse_user_id, required_name,
};
use crate::http::operations::ApiRoutes;
use crate::http::pagination::{Link, ListQuery, Paginated};
use crate::http::rate_limits::{ORGANIZATIONS, ORGANIZATIONS_BY_CALLER, limited};
use crate::http::roles::parse_org_roles;
use crate::http::scope::{OrgMember, OrgOwner, OrgScope};
use crate::http::versioning::V2023_01_01;
use crate::provision;
use crate::state::AppState;

fn method_routers(state: &AppState) -> [(&'static str, MethodRouter<AppState>); 2] {
    [
        (
            "/orgs",
            limited(
                get(list_orgs).post(create_org),
                state,
                &ORGANIZATIONS_BY_CALLER,
            ),
        ),
        (
            "/orgs/{orgId}",
            limited(
                get(get_org).patch(update_org).delete(delete_org),
                state,
                &ORGANIZATIONS,
            ),
        ),
    ]
}

/// The v2 operations (2023-01-01) and their `/api/atlas/v1.0` twins, which the public client
/// libraries still call.
pub fn routes(state: &AppState) -> ApiRoutes {
    ApiRoutes::v2_and_legacy(method_routers(state), state, &[V2023_01_01])
}

/// `AtlasOrganization`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationView {
    id: String,
    is_deleted: bool,
    links: Vec<Link>,
    name: String,
    skip_default_alerts_settings: bool,
}

impl OrganizationView {
    pub fn new(base: &BaseUrl, organization: Organization) -> Self {
        Self {
            links: vec![Link::self_link(base, &format!("/orgs/{}", organization.id))],
            id: organization.id.into(),
            is_deleted: false,
            name: organization.name.to_string(),
            skip_default_alerts_settings: organization.skip_default_alerts_settings,
        }
    }
}

async fn list_orgs(
    principal: Principal,
    base: BaseUrl,
    query: QueryParams,
) -> Result<Json<Paginated<OrganizationView>>, AppError> {
    let list = ListQuery::from_query(&query)?;
    // An API key belongs to exactly one organization; `name` filters by case-insensitive prefix.
    let prefix = query.get("name").unwrap_or_default().to_lowercase();
    let mut items = Vec::new();
    if principal
        .organization
        .name
        .as_str()
        .to_lowercase()
        .starts_with(&prefix)
    {
        items.push(principal.organization.clone());
    }
    let total_count = items.len() as u64;
    let offset = usize::try_from(list.page.offset()).unwrap_or(usize::MAX);
    let page = Page {
        items: items
            .into_iter()
            .skip(offset)
            .take(list.page.items_per_page() as usize)
            .collect(),
        total_count,
    };
    Ok(Json(Paginated::new(
        &base,
        "/orgs",
        &list,
        page,
        |organization| OrganizationView::new(&base, organization),
    )))
}

async fn get_org(
    base: BaseUrl,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Json<OrganizationView>, AppError> {
    Ok(Json(OrganizationView::new(&base, organization)))
}

/// `AtlasOrganization` as a request: only `name` changes; server-set fields are accepted and
/// ignored, as the contract says (read as `Value` so they do not count as unknown).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrganizationUpdateRequest {
    name: Option<String>,
    #[serde(rename = "id")]
    _id: Option<serde_json::Value>,
    #[serde(rename = "isDeleted")]
    _is_deleted: Option<serde_json::Value>,
    #[serde(rename = "links")]
    _links: Option<serde_json::Value>,
    #[serde(rename = "skipDefaultAlertsSettings")]
    _skip_default_alerts_settings: Option<bool>,
}

impl RequestBody for OrganizationUpdateRequest {}

async fn update_org(
    State(state): State<AppState>,
    base: BaseUrl,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<OrganizationUpdateRequest>,
) -> Result<Json<OrganizationView>, AppError> {
    let request = body.parse()?;
    let name: OrgName = required_name(request.name)?;
    let organization = state
        .store
        .rename_organization(&organization.id, &name)
        .await?;
    Ok(Json(OrganizationView::new(&base, organization)))
}

/// `CreateOrganizationRequest`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateOrganizationRequest {
    api_key: Option<KeyRequest>,
    federation_settings_id: Option<String>,
    name: Option<String>,
    org_owner_id: Option<String>,
    service_account: Option<serde_json::Value>,
    skip_default_alerts_settings: Option<bool>,
}

impl RequestBody for CreateOrganizationRequest {}

/// `CreateOrganizationResponse`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedOrganizationView {
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<ApiKeyView>,
    org_owner_id: String,
    organization: OrganizationView,
    skip_default_alerts_settings: bool,
}

/// Creates an organization, optionally with an API key of its own (how a test suite gets a
/// fresh organization to work in). The caller must own its organization.
async fn create_org(
    State(state): State<AppState>,
    principal: Principal,
    base: BaseUrl,
    body: AtlasJson<CreateOrganizationRequest>,
) -> Result<(StatusCode, Json<CreatedOrganizationView>), AppError> {
    principal.require_org(principal.org_id(), OrgAccess::Owner)?;
    let request = body.parse()?;
    let name: OrgName = required_name(request.name)?;
    // Required with API keys. A member of the caller's organization becomes the new
    // organization's owner; another well-formed id is echoed only (docs/compatibility.md).
    let owner = request
        .org_owner_id
        .ok_or_else(|| AppError::MissingAttribute("orgOwnerId".into()))?;
    let owner = parse_user_id(&owner)?;
    if let Some(federation) = request.federation_settings_id {
        return Err(AppError::ResourceNotFound(federation));
    }
    if request.service_account.is_some() {
        return Err(AppError::InvalidAttribute("serviceAccount".into()));
    }
    let now = state.clock.now();
    let skip_default_alerts_settings = request.skip_default_alerts_settings.unwrap_or(false);
    let organization = NewOrganization {
        name,
        skip_default_alerts_settings,
    }
    .into_organization(now);
    let minted = match request.api_key {
        None => None,
        Some(key) => {
            let desc = api_keys::description(
                key.desc
                    .ok_or_else(|| AppError::MissingAttribute("apiKey.desc".into()))?,
            )?;
            let roles = key.roles.unwrap_or_default();
            AppError::check_length("apiKey.roles", &roles, MAX_ROLES)?;
            let roles = parse_org_roles(roles, &organization.id)?;
            Some(provision::mint(&organization.id, roles, &desc, now))
        }
    };
    let keys: Vec<_> = minted
        .iter()
        .map(|(minted, ha1)| (minted.key.clone(), ha1.clone()))
        .collect();
    let owner_member = match state.store.get_org_user(principal.org_id(), &owner).await? {
        Some(OrgUser::Member(member)) => Some(member.user.id),
        _ => None,
    };
    state
        .store
        .create_organization(&organization, &keys, owner_member.as_ref())
        .await?;
    let view = CreatedOrganizationView {
        api_key: minted.map(|(minted, _)| ApiKeyView::minted(&base, minted)),
        org_owner_id: owner.into(),
        skip_default_alerts_settings,
        organization: OrganizationView::new(&base, organization),
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// Deletes an organization without projects (409 while it has some).
async fn delete_org(
    State(state): State<AppState>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<StatusCode, AppError> {
    state.store.delete_organization(&organization.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
