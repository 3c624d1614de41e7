//! Programmatic API keys of an organization and their access lists:
//! `/orgs/{orgId}/apiKeys[/{apiUserId}[/accessList[/{ipAddress}]]]`, in v2 and v1.0 (same
//! handlers; v1.0 answers plain JSON with v1.0 links).
//!
//! The private key exists only in the create response; the store keeps its Digest HA1, so every
//! later read shows it masked.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get};
use orgdoor_domain::{AccessListEntry, ApiKey, ApiKeyId, OrgId, OrgRoles, Page, check_description};
use orgdoor_store::Credential;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::http::access_lists::{
    AccessListRequest, allowed_networks, check_entry_count, parse_network,
};
use crate::http::extract::{AtlasJson, AtlasPath, BaseUrl, QueryParams, RequestBody};
use crate::http::operations::ApiRoutes;
use crate::http::pagination::{Link, ListQuery, Paginated};
use crate::http::rate_limits::{API_KEYS, limited};
use crate::http::roles::parse_org_roles;
use crate::http::scope::{OrgMember, OrgOwner, OrgScope, ScopeSegment};
use crate::http::user_lists::RoleAssignmentView;
use crate::http::versioning::V2023_01_01;
use crate::provision::{self, MintedKey};
use crate::state::AppState;
use crate::views::atlas_timestamp;

/// How a stored private key is shown: in the layout of Atlas's redacted keys, with nothing of
/// the key in it (only its HA1 is stored).
const MASKED_PRIVATE_KEY: &str = "********-****-****-************";

fn method_routers(state: &AppState) -> [(&'static str, MethodRouter<AppState>); 4] {
    [
        ("/orgs/{orgId}/apiKeys", get(list_keys).post(create_key)),
        (
            "/orgs/{orgId}/apiKeys/{apiUserId}",
            get(get_key).patch(update_key).delete(delete_key),
        ),
        (
            "/orgs/{orgId}/apiKeys/{apiUserId}/accessList",
            get(list_access_list).post(add_to_access_list),
        ),
        // `{ipAddress}` is one segment: a CIDR block arrives with its `/` as `%2F`, which
        // `Path` decodes after routing.
        (
            "/orgs/{orgId}/apiKeys/{apiUserId}/accessList/{ipAddress}",
            get(get_access_list_entry).delete(remove_from_access_list),
        ),
    ]
    .map(|(path, methods)| (path, limited(methods, state, &API_KEYS)))
}

/// The v2 operations (2023-01-01) and their `/api/atlas/v1.0` twins, as the legacy Go client
/// (`go.mongodb.org/atlas` `APIKeysService` and `AccessListAPIKeysService`) calls them.
pub fn routes(state: &AppState) -> ApiRoutes {
    ApiRoutes::v2_and_legacy(method_routers(state), state, &[V2023_01_01])
}

/// `ApiKeyUserDetails`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    desc: String,
    id: String,
    links: Vec<Link>,
    private_key: String,
    public_key: String,
    roles: Vec<RoleAssignmentView>,
}

impl ApiKeyView {
    /// A stored key, its private key masked.
    pub fn new(base: &BaseUrl, key: ApiKey) -> Self {
        Self::showing(base, key, MASKED_PRIVATE_KEY)
    }

    /// A key just minted: the one answer that shows its private key.
    pub fn minted(base: &BaseUrl, minted: MintedKey) -> Self {
        Self::showing(base, minted.key, minted.private_key.expose_secret())
    }

    /// A page of stored keys.
    pub fn page(
        base: &BaseUrl,
        path: &str,
        list: &ListQuery,
        page: Page<ApiKey>,
    ) -> Json<Paginated<Self>> {
        Json(Paginated::new(base, path, list, page, |key| {
            Self::new(base, key)
        }))
    }

    fn showing(base: &BaseUrl, key: ApiKey, private_key: &str) -> Self {
        Self {
            links: vec![Link::self_link(
                base,
                &format!("/orgs/{}/apiKeys/{}", key.org_id, key.id),
            )],
            private_key: private_key.to_owned(),
            roles: key
                .roles
                .iter()
                .map(|role| RoleAssignmentView::in_org(&key.org_id, role.as_str()))
                .chain(key.project_roles.iter().flat_map(|grant| {
                    grant
                        .roles
                        .iter()
                        .map(|role| RoleAssignmentView::in_group(&grant.group_id, role.as_str()))
                }))
                .collect(),
            desc: key.description,
            id: key.id.into(),
            public_key: key.public_key.to_string(),
        }
    }
}

/// `UserAccessListResponse`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessListEntryView {
    cidr_block: String,
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_address: Option<String>,
    links: Vec<Link>,
}

impl AccessListEntryView {
    fn new(base: &BaseUrl, key: &ApiKey, entry: &AccessListEntry) -> Self {
        let cidr = entry.network.cidr_in_full();
        let segment = cidr.replace('/', "%2F");
        Self {
            links: vec![Link::self_link(
                base,
                &format!(
                    "/orgs/{}/apiKeys/{}/accessList/{segment}",
                    key.org_id, key.id
                ),
            )],
            ip_address: entry.network.address_in_full(),
            cidr_block: cidr,
            created: atlas_timestamp(entry.created_at),
        }
    }
}

/// `CreateAtlasOrganizationApiKey` and `UpdateAtlasOrganizationApiKey`, and their project
/// twins: one shape, whose roles are read in the organization or in the project.
#[derive(Deserialize)]
pub struct KeyRequest {
    pub desc: Option<String>,
    pub roles: Option<Vec<String>>,
}

impl RequestBody for KeyRequest {
    const READ_ONLY: &'static [&'static str] = &["id", "links", "privateKey", "publicKey"];
}

#[derive(Deserialize)]
#[serde(transparent)]
struct AccessListRequests(Vec<AccessListRequest>);

impl RequestBody for AccessListRequests {
    const READ_ONLY: &'static [&'static str] =
        &["count", "created", "lastUsed", "lastUsedAddress", "links"];
    const IS_ARRAY: bool = true;
}

/// The description a new key must have: present, and as [`description`] takes it.
pub fn required_description(desc: Option<String>) -> Result<String, AppError> {
    description(desc.ok_or_else(|| AppError::MissingAttribute("desc".into()))?)
}

/// A key description: 1 to 250 characters, no control characters.
pub fn description(desc: String) -> Result<String, AppError> {
    check_description(&desc).map_err(|reason| AppError::InvalidAttributeValue {
        attribute: "desc".into(),
        reason: reason.to_string(),
    })?;
    Ok(desc)
}

pub fn parse_key_id(raw: &str) -> Result<ApiKeyId, AppError> {
    raw.parse()
        .map_err(|_| AppError::ResourceNotFound(raw.to_owned()))
}

pub async fn key_for(state: &AppState, org: &OrgId, raw_id: &str) -> Result<ApiKey, AppError> {
    let id = parse_key_id(raw_id)?;
    state
        .store
        .get_api_key(org, &id)
        .await?
        .ok_or_else(|| AppError::ResourceNotFound(raw_id.to_owned()))
}

async fn list_keys(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Json<Paginated<ApiKeyView>>, AppError> {
    let list = ListQuery::from_query(&query)?;
    let page = state
        .store
        .list_api_keys(&organization.id, list.page)
        .await?;
    let path = format!("/orgs/{}/apiKeys", organization.id);
    Ok(ApiKeyView::page(&base, &path, &list, page))
}

async fn create_key(
    State(state): State<AppState>,
    base: BaseUrl,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<KeyRequest>,
) -> Result<Json<ApiKeyView>, AppError> {
    let request = body.parse()?;
    let desc = required_description(request.desc)?;
    let roles = parse_org_roles(request.roles.unwrap_or_default(), &organization.id)?;
    let (_, minted) = provision::create_api_key(
        &state.store,
        &organization.id,
        roles,
        &desc,
        state.clock.now(),
    )
    .await?;
    Ok(Json(ApiKeyView::minted(&base, minted)))
}

async fn get_key(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, key_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Json<ApiKeyView>, AppError> {
    let key = key_for(&state, &organization.id, &key_id).await?;
    Ok(Json(ApiKeyView::new(&base, key)))
}

async fn update_key(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, key_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<KeyRequest>,
) -> Result<Json<ApiKeyView>, AppError> {
    let request = body.parse()?;
    let id = parse_key_id(&key_id)?;
    let desc = request.desc.map(description).transpose()?;
    let roles: Option<OrgRoles> = request
        .roles
        .map(|roles| parse_org_roles(roles, &organization.id))
        .transpose()?;
    let key = state
        .store
        .update_api_key(&organization.id, &id, desc.as_deref(), roles.as_ref())
        .await?;
    Ok(Json(ApiKeyView::new(&base, key)))
}

async fn delete_key(
    State(state): State<AppState>,
    AtlasPath((_, key_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<StatusCode, AppError> {
    let id = parse_key_id(&key_id)?;
    state.store.delete_api_key(&organization.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The key's access list, as the page `query` asks for.
async fn access_list_page(
    state: &AppState,
    base: &BaseUrl,
    key: &ApiKey,
    list: &ListQuery,
) -> Result<Json<Paginated<AccessListEntryView>>, AppError> {
    let page = state
        .store
        .list_access_list(&key.org_id, &Credential::ApiKey(key.id.clone()), list.page)
        .await?;
    let path = format!("/orgs/{}/apiKeys/{}/accessList", key.org_id, key.id);
    Ok(Json(Paginated::new(base, &path, list, page, |entry| {
        AccessListEntryView::new(base, key, &entry)
    })))
}

async fn list_access_list(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, key_id)): AtlasPath<(ScopeSegment, String)>,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Json<Paginated<AccessListEntryView>>, AppError> {
    let list = ListQuery::from_query(&query)?;
    let key = key_for(&state, &organization.id, &key_id).await?;
    access_list_page(&state, &base, &key, &list).await
}

/// Adds entries and answers with the whole resulting list.
async fn add_to_access_list(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, key_id)): AtlasPath<(ScopeSegment, String)>,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<AccessListRequests>,
) -> Result<Json<Paginated<AccessListEntryView>>, AppError> {
    // The page's query is read before the write: a write must not be answered with a 400.
    let list = ListQuery::from_query(&query)?;
    let AccessListRequests(requests) = body.parse()?;
    check_entry_count(&requests)?;
    let key = key_for(&state, &organization.id, &key_id).await?;
    let networks = allowed_networks(requests)?;
    state
        .store
        .add_to_access_list(
            &organization.id,
            &Credential::ApiKey(key.id.clone()),
            &networks,
            state.clock.now(),
        )
        .await?;
    access_list_page(&state, &base, &key, &list).await
}

async fn get_access_list_entry(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, key_id, address)): AtlasPath<(ScopeSegment, String, String)>,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Json<AccessListEntryView>, AppError> {
    let key = key_for(&state, &organization.id, &key_id).await?;
    let network = parse_network(&address)?;
    let entry = state
        .store
        .get_access_list_entry(
            &organization.id,
            &Credential::ApiKey(key.id.clone()),
            &network,
        )
        .await?
        .ok_or_else(|| AppError::ResourceNotFound(address.clone()))?;
    Ok(Json(AccessListEntryView::new(&base, &key, &entry)))
}

async fn remove_from_access_list(
    State(state): State<AppState>,
    AtlasPath((_, key_id, address)): AtlasPath<(ScopeSegment, String, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<StatusCode, AppError> {
    let key = key_for(&state, &organization.id, &key_id).await?;
    let network = parse_network(&address)?;
    state
        .store
        .remove_from_access_list(
            &organization.id,
            &Credential::ApiKey(key.id.clone()),
            &network,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_masked_key_has_the_shape_of_atlas_redacted_keys() {
        // Atlas redacts to 8-4-4-12 characters (one group fewer than the UUID), e.g.
        // `55c3bbb6-b4bb-0be1-e66d20841f3e` (BEHAVIOR §1.1).
        let groups: Vec<usize> = MASKED_PRIVATE_KEY.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 12]);
        assert!(MASKED_PRIVATE_KEY.chars().all(|c| c == '*' || c == '-'));
    }
}
