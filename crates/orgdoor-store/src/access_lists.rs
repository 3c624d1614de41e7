//! The networks a credential (an API key or a service account) may be used from.

use async_trait::async_trait;
use orgdoor_domain::{AccessListEntry, AllowedNetwork, EventType, OrgId, Page, PageRequest};
use time::OffsetDateTime;
use tracing::instrument;

use crate::rows::{AccessListRow, access_list_tables, count, limit_offset, seconds};
use crate::sql::{Backend, Connection};
use crate::tables::credentials::{credential_in_org, existing_credential};
use crate::tables::events::{credential_event, record_event};
use crate::tables::one_row_or;
use crate::{Credential, Rejection, StoreError};

#[async_trait]
pub trait AccessListStore: Send + Sync {
    /// A credential's access list, oldest first ([`Rejection::ApiKeyNotFound`] or
    /// [`Rejection::ServiceAccountNotFound`] when the credential is not in `org`).
    async fn list_access_list(
        &self,
        org: &OrgId,
        credential: &Credential,
        page: PageRequest,
    ) -> Result<Page<AccessListEntry>, StoreError>;

    /// Adds networks to a credential's access list; networks already on it are kept as they are.
    async fn add_to_access_list(
        &self,
        org: &OrgId,
        credential: &Credential,
        networks: &[AllowedNetwork],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    async fn get_access_list_entry(
        &self,
        org: &OrgId,
        credential: &Credential,
        network: &AllowedNetwork,
    ) -> Result<Option<AccessListEntry>, StoreError>;

    /// Removes a network ([`Rejection::NetworkNotListed`] when the credential or the entry is not
    /// there).
    async fn remove_from_access_list(
        &self,
        org: &OrgId,
        credential: &Credential,
        network: &AllowedNetwork,
    ) -> Result<(), StoreError>;
}

#[async_trait]
impl<B: Backend> AccessListStore for B {
    #[instrument(level = "debug", skip(self))]
    async fn list_access_list(
        &self,
        org: &OrgId,
        credential: &Credential,
        page: PageRequest,
    ) -> Result<Page<AccessListEntry>, StoreError> {
        let mut conn = self.read().await?;
        existing_credential(&mut *conn, org, credential).await?;
        let (table, column, _, _, id) = access_list_tables(credential);
        let total: i64 = conn
            .query(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1"))
            .bind(id.as_str())
            .fetch_scalar()
            .await?;
        let (limit, offset) = limit_offset(page);
        let rows: Vec<AccessListRow> = conn
            .query(&format!(
                "SELECT cidr, created_at FROM {table} WHERE {column} = $1 \
                 ORDER BY created_at, cidr LIMIT $2 OFFSET $3"
            ))
            .bind(id.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all()
            .await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(AccessListEntry::try_from)
                .collect::<Result<_, _>>()?,
            total_count: count(total),
        })
    }

    #[instrument(level = "debug", skip(self))]
    async fn add_to_access_list(
        &self,
        org: &OrgId,
        credential: &Credential,
        networks: &[AllowedNetwork],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let org = org.clone();
        let credential = credential.clone();
        let networks = networks.to_vec();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, credential, networks) = (&org, &credential, networks.as_slice());
                existing_credential(&mut *tx, org, credential).await?;
                let (table, column, _, _, id) = access_list_tables(credential);
                let sql = format!(
                    "INSERT INTO {table} ({column}, cidr, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT ({column}, cidr) DO NOTHING"
                );
                let (event_type, _) = access_list_event_types(credential);
                let public_key = public_key_of(&mut *tx, credential).await?;
                for network in networks {
                    let added = tx
                        .query(&sql)
                        .bind(id.as_str())
                        .bind(network.cidr())
                        .bind(seconds(now))
                        .execute()
                        .await?;
                    // An entry listed already is no change.
                    if added == 1 {
                        let event = credential_event(event_type, &public_key, Some(network.cidr()));
                        record_event(&mut *tx, org, event).await?;
                    }
                }
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn get_access_list_entry(
        &self,
        org: &OrgId,
        credential: &Credential,
        network: &AllowedNetwork,
    ) -> Result<Option<AccessListEntry>, StoreError> {
        let mut conn = self.read().await?;
        if !credential_in_org(&mut *conn, org, credential).await? {
            return Ok(None);
        }
        let (table, column, _, _, id) = access_list_tables(credential);
        let row: Option<AccessListRow> = conn
            .query(&format!(
                "SELECT cidr, created_at FROM {table} WHERE {column} = $1 AND cidr = $2"
            ))
            .bind(id.as_str())
            .bind(network.cidr())
            .fetch_optional()
            .await?;
        row.map(AccessListEntry::try_from).transpose()
    }

    #[instrument(level = "debug", skip(self))]
    async fn remove_from_access_list(
        &self,
        org: &OrgId,
        credential: &Credential,
        network: &AllowedNetwork,
    ) -> Result<(), StoreError> {
        let (table, column, owners, owner_column, id) = access_list_tables(credential);
        let sql = format!(
            "DELETE FROM {table} WHERE cidr = $1 AND {column} = \
             (SELECT {owner_column} FROM {owners} WHERE {owner_column} = $2 AND org_id = $3)"
        );
        let cidr = network.cidr();
        let org = org.clone();
        let credential = credential.clone();
        let network = *network;
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, credential) = (&org, &credential);
                let removed = tx
                    .query(&sql)
                    .bind(cidr.as_str())
                    .bind(id.as_str())
                    .bind(org.as_str())
                    .execute()
                    .await?;
                one_row_or(removed, Rejection::NetworkNotListed(network))?;
                let (_, event_type) = access_list_event_types(credential);
                let public_key = public_key_of(&mut *tx, credential).await?;
                record_event(
                    &mut *tx,
                    org,
                    credential_event(event_type, &public_key, Some(cidr)),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }
}

/// The events of entries added to and removed from `credential`'s access list.
fn access_list_event_types(credential: &Credential) -> (EventType, EventType) {
    match credential {
        Credential::ApiKey(_) => (
            EventType::ApiKeyAccessListEntryAdded,
            EventType::ApiKeyAccessListEntryDeleted,
        ),
        Credential::ServiceAccount(_) => (
            EventType::ServiceAccountAccessListEntryAdded,
            EventType::ServiceAccountAccessListEntryDeleted,
        ),
    }
}

/// How events name `credential`: a key by its public key, an account by its client id.
async fn public_key_of<C: Connection>(
    conn: &mut C,
    credential: &Credential,
) -> Result<String, StoreError> {
    match credential {
        Credential::ApiKey(id) => Ok(conn
            .query("SELECT public_key FROM api_keys WHERE id = $1")
            .bind(id.as_str())
            .fetch_scalar()
            .await?),
        Credential::ServiceAccount(client_id) => Ok(client_id.to_string()),
    }
}
