//! `api_keys` and the roles keys hold in projects (`api_key_project_roles`).

use orgdoor_domain::{ApiKey, ApiKeyId, DigestHa1, OrgId, ProjectGrant};
use time::OffsetDateTime;

use crate::error::missing_referent;
use crate::rows::{API_KEY_COLUMNS, ApiKeyRow, decode_roles, encode_roles, parse, seconds};
use crate::sealing::{Sealer, ha1_context};
use crate::sql::Connection;
use crate::{Rejection, StoreError};

/// Stores a key with its project roles; its Digest credential sealed.
pub(crate) async fn insert_api_key<C: Connection>(
    conn: &mut C,
    sealer: &Sealer,
    key: &ApiKey,
    ha1: &DigestHa1,
) -> Result<(), StoreError> {
    let sealed = sealer.seal(&ha1.0, &ha1_context(key.public_key.as_str()))?;
    conn.query(
        "INSERT INTO api_keys (id, org_id, public_key, digest_ha1, description, roles, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(key.id.as_str())
    .bind(key.org_id.as_str())
    .bind(key.public_key.as_str())
    .bind(sealed)
    .bind(key.description.as_str())
    .bind(encode_roles(&key.roles))
    .bind(seconds(key.created_at))
    .execute()
    .await
    .map_err(|error| {
        missing_referent(error, || {
            Rejection::OrganizationNotFound(key.org_id.clone())
        })
    })?;
    for grant in &key.project_roles {
        upsert_key_grant(conn, key, grant, key.created_at).await?;
    }
    Ok(())
}

/// A key of `org`, with its project roles.
pub(crate) async fn fetch_api_key<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    id: &ApiKeyId,
) -> Result<Option<ApiKey>, StoreError> {
    let row: Option<ApiKeyRow> = conn
        .query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE org_id = $1 AND id = $2"
        ))
        .bind(org.as_str())
        .bind(id.as_str())
        .fetch_optional()
        .await?;
    let Some(row) = row else { return Ok(None) };
    let (key, _) = <(ApiKey, Vec<u8>)>::try_from(row)?;
    let mut keys = [key];
    load_key_grants(conn, &mut keys).await?;
    let [key] = keys;
    Ok(Some(key))
}

/// Keys read from their rows, without their sealed credentials.
pub(crate) fn keys_from_rows(rows: Vec<ApiKeyRow>) -> Result<Vec<ApiKey>, StoreError> {
    rows.into_iter()
        .map(|row| <(ApiKey, Vec<u8>)>::try_from(row).map(|(key, _)| key))
        .collect()
}

/// Gives a key its roles in a project, replacing any it had there; a project of another
/// organization (or none) is [`Rejection::GroupNotFound`].
pub(crate) async fn upsert_key_grant<C: Connection>(
    conn: &mut C,
    key: &ApiKey,
    grant: &ProjectGrant,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    conn.query(
        "INSERT INTO api_key_project_roles (project_id, org_id, api_key_id, roles, assigned_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (project_id, api_key_id) DO UPDATE SET roles = excluded.roles",
    )
    .bind(grant.group_id.as_str())
    .bind(key.org_id.as_str())
    .bind(key.id.as_str())
    .bind(encode_roles(&grant.roles))
    .bind(seconds(now))
    .execute()
    .await
    .map_err(|error| {
        missing_referent(error, || Rejection::GroupNotFound(grant.group_id.clone()))
    })?;
    Ok(())
}

/// Fills in the project roles of keys of one organization, in the order granted.
pub(crate) async fn load_key_grants<C: Connection>(
    conn: &mut C,
    keys: &mut [ApiKey],
) -> Result<(), StoreError> {
    let Some(first) = keys.first() else {
        return Ok(());
    };
    let (sql, bound) = if keys.len() == 1 {
        (
            "SELECT api_key_id, project_id, roles FROM api_key_project_roles \
             WHERE api_key_id = $1 ORDER BY assigned_at, project_id",
            first.id.as_str().to_owned(),
        )
    } else {
        (
            "SELECT api_key_id, project_id, roles FROM api_key_project_roles \
             WHERE org_id = $1 ORDER BY assigned_at, project_id",
            first.org_id.as_str().to_owned(),
        )
    };
    let rows: Vec<(String, String, String)> = conn.query(sql).bind(bound).fetch_all().await?;
    for (key_id, project_id, roles) in rows {
        if let Some(key) = keys.iter_mut().find(|key| key.id.as_str() == key_id) {
            key.project_roles.push(ProjectGrant {
                group_id: parse(&project_id, "project id")?,
                roles: decode_roles(&roles)?,
            });
        }
    }
    Ok(())
}
