//! Service accounts of an organization (version 2024-08-05):
//! `/orgs/{orgId}/serviceAccounts[/{clientId}[/secrets[/{secretId}]|/accessList[/{ipAddress}]]]`.
//! A secret's value is shown once, in the answer that creates it.

use std::sync::LazyLock;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, delete, get, post};
use orgdoor_domain::{
    AccessListEntry, ClientId, OrgRoles, Organization, SECRET_LIFETIME_HOURS, SecretId,
    ServiceAccount, ServiceAccountSecret,
};
use orgdoor_store::Credential;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::http::access_lists::{
    AccessListRequest, allowed_networks, check_entry_count, parse_network,
};
use crate::http::extract::{AtlasJson, AtlasPath, BaseUrl, QueryParams, RequestBody};
use crate::http::operations::ApiRoutes;
use crate::http::pagination::{ListQuery, Paginated};
use crate::http::rate_limits::{SERVICE_ACCOUNTS, limited};
use crate::http::roles::parse_org_roles;
use crate::http::scope::{OrgOwner, OrgReadOnly, OrgScope, ScopeSegment};
use crate::http::versioning::V2024_08_05;
use crate::state::AppState;
use crate::views::atlas_timestamp;

/// The spec's pattern for service-account names and descriptions (SANAME).
static SANAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{N}\-_.,' ]*$").expect("SANAME is a valid pattern"));

fn method_routers(state: &AppState) -> [(&'static str, MethodRouter<AppState>); 6] {
    [
        (
            "/orgs/{orgId}/serviceAccounts",
            get(list_accounts).post(create_account),
        ),
        (
            "/orgs/{orgId}/serviceAccounts/{clientId}",
            get(get_account)
                .patch(update_account)
                .delete(delete_account),
        ),
        (
            "/orgs/{orgId}/serviceAccounts/{clientId}/secrets",
            post(create_secret),
        ),
        (
            "/orgs/{orgId}/serviceAccounts/{clientId}/secrets/{secretId}",
            delete(delete_secret),
        ),
        (
            "/orgs/{orgId}/serviceAccounts/{clientId}/accessList",
            get(list_access_list).post(add_to_access_list),
        ),
        (
            "/orgs/{orgId}/serviceAccounts/{clientId}/accessList/{ipAddress}",
            delete(remove_from_access_list),
        ),
    ]
    .map(|(path, methods)| (path, limited(methods, state, &SERVICE_ACCOUNTS)))
}

/// The v2 operations (2024-08-05); the v1.0 API has no service accounts.
pub fn routes(state: &AppState) -> ApiRoutes {
    ApiRoutes::v2_only(method_routers(state), state, &[V2024_08_05])
}

/// `ServiceAccountSecret`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretView {
    created_at: String,
    expires_at: String,
    id: String,
    masked_secret_value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl SecretView {
    fn new(secret: &ServiceAccountSecret, value: Option<&str>) -> Self {
        Self {
            created_at: atlas_timestamp(secret.created_at),
            expires_at: atlas_timestamp(secret.expires_at),
            id: secret.id.to_string(),
            masked_secret_value: secret.masked.clone(),
            secret: value.map(str::to_owned),
        }
    }
}

/// `OrgServiceAccount`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountView {
    client_id: String,
    created_at: String,
    description: String,
    name: String,
    roles: Vec<&'static str>,
    secrets: Vec<SecretView>,
}

impl AccountView {
    /// `revealed` is the value of the one secret just made, if any.
    fn new(account: &ServiceAccount, revealed: Option<(&SecretId, &str)>) -> Self {
        Self {
            client_id: account.client_id.to_string(),
            created_at: atlas_timestamp(account.created_at),
            description: account.description.clone(),
            name: account.name.clone(),
            roles: account.roles.iter().map(|role| role.as_str()).collect(),
            secrets: account
                .secrets
                .iter()
                .map(|secret| {
                    let value = revealed
                        .filter(|(id, _)| **id == secret.id)
                        .map(|(_, value)| value);
                    SecretView::new(secret, value)
                })
                .collect(),
        }
    }
}

/// `ServiceAccountIPAccessListEntry`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessListEntryView {
    cidr_block: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_address: Option<String>,
}

impl AccessListEntryView {
    fn new(entry: &AccessListEntry) -> Self {
        Self {
            cidr_block: entry.network.cidr_in_full(),
            created_at: atlas_timestamp(entry.created_at),
            ip_address: entry.network.address_in_full(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateAccountRequest {
    description: Option<String>,
    name: Option<String>,
    roles: Option<Vec<String>>,
    secret_expires_after_hours: Option<i64>,
}

impl RequestBody for CreateAccountRequest {
    const READ_ONLY: &'static [&'static str] = &["clientId", "createdAt", "secrets"];
}

#[derive(Deserialize)]
struct UpdateAccountRequest {
    description: Option<String>,
    name: Option<String>,
    roles: Option<Vec<String>>,
}

impl RequestBody for UpdateAccountRequest {
    const READ_ONLY: &'static [&'static str] = &["clientId", "createdAt", "secrets"];
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretRequest {
    secret_expires_after_hours: Option<i64>,
}

impl RequestBody for SecretRequest {}

#[derive(Deserialize)]
#[serde(transparent)]
struct AccessListRequests(Vec<AccessListRequest>);

impl RequestBody for AccessListRequests {
    const READ_ONLY: &'static [&'static str] =
        &["createdAt", "lastUsedAddress", "lastUsedAt", "requestCount"];
    const IS_ARRAY: bool = true;
}

/// A name or description: 1 to `max` characters of the SANAME alphabet.
fn text(attribute: &str, value: String, max: usize) -> Result<String, AppError> {
    let length = value.chars().count();
    if (1..=max).contains(&length) && SANAME.is_match(&value) {
        Ok(value)
    } else {
        Err(AppError::InvalidAttributeValue {
            attribute: attribute.to_owned(),
            reason: format!("1 to {max} letters, digits, spaces or the characters -_.,'"),
        })
    }
}

/// A service account's name.
fn account_name(name: String) -> Result<String, AppError> {
    text("name", name, 64)
}

/// A service account's description.
fn account_description(description: String) -> Result<String, AppError> {
    text("description", description, 250)
}

fn lifetime(hours: Option<i64>) -> Result<i64, AppError> {
    let hours =
        hours.ok_or_else(|| AppError::MissingAttribute("secretExpiresAfterHours".into()))?;
    if SECRET_LIFETIME_HOURS.contains(&hours) {
        Ok(hours)
    } else {
        Err(AppError::InvalidAttributeValue {
            attribute: "secretExpiresAfterHours".into(),
            reason: format!(
                "between {} and {} hours",
                SECRET_LIFETIME_HOURS.start(),
                SECRET_LIFETIME_HOURS.end()
            ),
        })
    }
}

fn parse_client_id(raw: &str) -> Result<ClientId, AppError> {
    raw.parse()
        .map_err(|_| AppError::ResourceNotFound(raw.to_owned()))
}

async fn account_for(
    state: &AppState,
    organization: &Organization,
    raw: &str,
) -> Result<ServiceAccount, AppError> {
    let client_id = parse_client_id(raw)?;
    state
        .store
        .get_service_account(&organization.id, &client_id)
        .await?
        .ok_or_else(|| AppError::ResourceNotFound(raw.to_owned()))
}

async fn list_accounts(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgReadOnly>,
) -> Result<Json<Paginated<AccountView>>, AppError> {
    let list = ListQuery::from_query(&query)?;
    let page = state
        .store
        .list_service_accounts(&organization.id, list.page)
        .await?;
    let path = format!("/orgs/{}/serviceAccounts", organization.id);
    Ok(Json(Paginated::new(&base, &path, &list, page, |account| {
        AccountView::new(&account, None)
    })))
}

async fn create_account(
    State(state): State<AppState>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<CreateAccountRequest>,
) -> Result<(StatusCode, Json<AccountView>), AppError> {
    let request = body.parse()?;
    let name = account_name(
        request
            .name
            .ok_or_else(|| AppError::MissingAttribute("name".into()))?,
    )?;
    let description = account_description(
        request
            .description
            .ok_or_else(|| AppError::MissingAttribute("description".into()))?,
    )?;
    let roles = parse_org_roles(request.roles.unwrap_or_default(), &organization.id)?;
    let hours = lifetime(request.secret_expires_after_hours)?;
    let now = orgdoor_domain::truncate_to_seconds(state.clock.now());
    let (secret, value) = ServiceAccountSecret::generate(now, hours);
    let account = ServiceAccount {
        client_id: ClientId::generate(now),
        org_id: organization.id,
        name,
        description,
        roles,
        created_at: now,
        secrets: vec![secret],
    };
    state.store.create_service_account(&account).await?;
    let secret_id = account.secrets[0].id.clone();
    Ok((
        StatusCode::CREATED,
        Json(AccountView::new(&account, Some((&secret_id, &value)))),
    ))
}

async fn get_account(
    State(state): State<AppState>,
    AtlasPath((_, client_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgReadOnly>,
) -> Result<Json<AccountView>, AppError> {
    let account = account_for(&state, &organization, &client_id).await?;
    Ok(Json(AccountView::new(&account, None)))
}

async fn update_account(
    State(state): State<AppState>,
    AtlasPath((_, client_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<UpdateAccountRequest>,
) -> Result<Json<AccountView>, AppError> {
    let request = body.parse()?;
    let id = parse_client_id(&client_id)?;
    let name = request.name.map(account_name).transpose()?;
    let description = request.description.map(account_description).transpose()?;
    let roles: Option<OrgRoles> = request
        .roles
        .map(|roles| parse_org_roles(roles, &organization.id))
        .transpose()?;
    let account = state
        .store
        .update_service_account(
            &organization.id,
            &id,
            name.as_deref(),
            description.as_deref(),
            roles.as_ref(),
        )
        .await?;
    Ok(Json(AccountView::new(&account, None)))
}

async fn delete_account(
    State(state): State<AppState>,
    AtlasPath((_, client_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<StatusCode, AppError> {
    let id = parse_client_id(&client_id)?;
    state
        .store
        .delete_service_account(&organization.id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_secret(
    State(state): State<AppState>,
    AtlasPath((_, client_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<SecretRequest>,
) -> Result<(StatusCode, Json<SecretView>), AppError> {
    let request = body.parse()?;
    let id = parse_client_id(&client_id)?;
    let hours = lifetime(request.secret_expires_after_hours)?;
    let (secret, value) = ServiceAccountSecret::generate(state.clock.now(), hours);
    state
        .store
        .add_service_account_secret(&organization.id, &id, &secret)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SecretView::new(&secret, Some(&value))),
    ))
}

async fn delete_secret(
    State(state): State<AppState>,
    AtlasPath((_, client_id, secret_id)): AtlasPath<(ScopeSegment, String, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<StatusCode, AppError> {
    let id = parse_client_id(&client_id)?;
    let secret: SecretId = secret_id
        .parse()
        .map_err(|_| AppError::ResourceNotFound(secret_id.clone()))?;
    state
        .store
        .delete_service_account_secret(&organization.id, &id, &secret)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account's access list, as the page `query` asks for.
async fn access_list_page(
    state: &AppState,
    base: &BaseUrl,
    organization: &Organization,
    client_id: &ClientId,
    list: &ListQuery,
) -> Result<Json<Paginated<AccessListEntryView>>, AppError> {
    let page = state
        .store
        .list_access_list(
            &organization.id,
            &Credential::ServiceAccount(client_id.clone()),
            list.page,
        )
        .await?;
    let path = format!(
        "/orgs/{}/serviceAccounts/{client_id}/accessList",
        organization.id
    );
    Ok(Json(Paginated::new(base, &path, list, page, |entry| {
        AccessListEntryView::new(&entry)
    })))
}

async fn list_access_list(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, client_id)): AtlasPath<(ScopeSegment, String)>,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgReadOnly>,
) -> Result<Json<Paginated<AccessListEntryView>>, AppError> {
    let id = parse_client_id(&client_id)?;
    let list = ListQuery::from_query(&query)?;
    access_list_page(&state, &base, &organization, &id, &list).await
}

async fn add_to_access_list(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, client_id)): AtlasPath<(ScopeSegment, String)>,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<AccessListRequests>,
) -> Result<Json<Paginated<AccessListEntryView>>, AppError> {
    // The page's query is read before the write: a write must not be answered with a 400.
    let list = ListQuery::from_query(&query)?;
    let AccessListRequests(requests) = body.parse()?;
    let id = parse_client_id(&client_id)?;
    check_entry_count(&requests)?;
    let networks = allowed_networks(requests)?;
    state
        .store
        .add_to_access_list(
            &organization.id,
            &Credential::ServiceAccount(id.clone()),
            &networks,
            state.clock.now(),
        )
        .await?;
    access_list_page(&state, &base, &organization, &id, &list).await
}

async fn remove_from_access_list(
    State(state): State<AppState>,
    AtlasPath((_, client_id, address)): AtlasPath<(ScopeSegment, String, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<StatusCode, AppError> {
    let id = parse_client_id(&client_id)?;
    let network = parse_network(&address)?;
    state
        .store
        .remove_from_access_list(&organization.id, &Credential::ServiceAccount(id), &network)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
