//! What credentials authenticate with beyond their own row: access lists
//! (`api_key_access_list`, `service_account_access_list`) and service accounts with their
//! secrets.

use orgdoor_domain::{
    AllowedNetwork, ClientId, OrgId, Organization, ServiceAccount, ServiceAccountSecret,
};

use crate::rows::{
    SERVICE_ACCOUNT_COLUMNS, SecretRow, ServiceAccountRow, WithAccessCidr, WithCredentialOrg,
    access_list_tables, parse, seconds,
};
use crate::sql::Connection;
use crate::{Credential, Rejection, StoreError};

/// Whether the credential exists in `org`.
pub(crate) async fn credential_in_org<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    credential: &Credential,
) -> Result<bool, StoreError> {
    let (_, _, owners, owner_column, id) = access_list_tables(credential);
    let found: Option<String> = conn
        .query(&format!(
            "SELECT {owner_column} FROM {owners} WHERE {owner_column} = $1 AND org_id = $2"
        ))
        .bind(id)
        .bind(org.as_str())
        .fetch_optional_scalar()
        .await?;
    Ok(found.is_some())
}

/// `Ok` when the credential exists in `org`, else the rejection naming it.
pub(crate) async fn existing_credential<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    credential: &Credential,
) -> Result<(), StoreError> {
    if credential_in_org(conn, org, credential).await? {
        Ok(())
    } else {
        Err(Rejection::credential_not_found(credential).into())
    }
}

pub(crate) async fn load_access_list<C: Connection>(
    conn: &mut C,
    credential: &Credential,
) -> Result<Vec<AllowedNetwork>, StoreError> {
    let (table, column, _, _, id) = access_list_tables(credential);
    let networks: Vec<String> = conn
        .query(&format!("SELECT cidr FROM {table} WHERE {column} = $1"))
        .bind(id)
        .fetch_all_scalars()
        .await?;
    networks
        .iter()
        .map(|cidr| parse(cidr, "access list entry"))
        .collect()
}

/// A credential read together with its organization and access list (every authenticated
/// request does this, so it is one statement): the credential and organization of the first
/// row, and each row's entry. `org_id` is the id of the credential's organization.
pub(crate) fn with_org_and_access_list<R>(
    rows: Vec<WithAccessCidr<WithCredentialOrg<R>>>,
    org_id: impl FnOnce(&R) -> String,
) -> Result<Option<(R, Organization, Vec<AllowedNetwork>)>, StoreError> {
    let mut access_list = Vec::new();
    let mut credential = None;
    for row in rows {
        if let Some(cidr) = &row.access_cidr {
            access_list.push(parse(cidr, "access list entry")?);
        }
        if credential.is_none() {
            credential = Some(row.credential);
        }
    }
    let Some(WithCredentialOrg {
        credential,
        organization,
    }) = credential
    else {
        return Ok(None);
    };
    let organization = organization.into_organization(org_id(&credential))?;
    Ok(Some((credential, organization, access_list)))
}

pub(crate) async fn insert_secret<C: Connection>(
    conn: &mut C,
    client_id: &ClientId,
    secret: &ServiceAccountSecret,
) -> Result<(), StoreError> {
    conn.query(
        "INSERT INTO service_account_secrets \
         (id, client_id, digest, masked, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(secret.id.as_str())
    .bind(client_id.as_str())
    .bind(&secret.digest[..])
    .bind(secret.masked.as_str())
    .bind(seconds(secret.created_at))
    .bind(seconds(secret.expires_at))
    .execute()
    .await?;
    Ok(())
}

pub(crate) async fn load_secrets<C: Connection>(
    conn: &mut C,
    client_id: &ClientId,
) -> Result<Vec<ServiceAccountSecret>, StoreError> {
    let rows: Vec<SecretRow> = conn
        .query(
            "SELECT id, digest, masked, created_at, expires_at FROM service_account_secrets \
             WHERE client_id = $1 ORDER BY created_at, id",
        )
        .bind(client_id.as_str())
        .fetch_all()
        .await?;
    rows.into_iter()
        .map(ServiceAccountSecret::try_from)
        .collect()
}

/// Reads a service account with its secrets, in `org` when one is given; with `lock`, locks
/// its row until the transaction ends.
pub(crate) async fn fetch_service_account<C: Connection>(
    conn: &mut C,
    org: Option<&OrgId>,
    client_id: &ClientId,
    lock: bool,
) -> Result<Option<ServiceAccount>, StoreError> {
    let lock = if lock { C::LOCK_ROWS } else { "" };
    let row: Option<ServiceAccountRow> = match org {
        Some(org) => {
            conn.query(&format!(
                "SELECT {SERVICE_ACCOUNT_COLUMNS} FROM service_accounts \
                 WHERE client_id = $1 AND org_id = $2{lock}"
            ))
            .bind(client_id.as_str())
            .bind(org.as_str())
            .fetch_optional()
            .await?
        }
        None => {
            conn.query(&format!(
                "SELECT {SERVICE_ACCOUNT_COLUMNS} FROM service_accounts WHERE client_id = $1{lock}"
            ))
            .bind(client_id.as_str())
            .fetch_optional()
            .await?
        }
    };
    let Some(row) = row else { return Ok(None) };
    let mut account = ServiceAccount::try_from(row)?;
    account.secrets = load_secrets(conn, client_id).await?;
    Ok(Some(account))
}
