//! Programmatic API keys: their Digest credentials, organization roles and project roles.

use std::sync::LazyLock;

use async_trait::async_trait;
use orgdoor_domain::{
    ApiKey, ApiKeyId, DigestHa1, EventType, GroupId, GroupRoles, NewEvent, OrgId, OrgRoles, Page,
    PageRequest, ProjectGrant, PublicKey,
};
use time::OffsetDateTime;
use tracing::instrument;

use crate::rows::{
    API_KEY_COLUMNS, ApiKeyRow, CREDENTIAL_ORG_COLUMNS, WithAccessCidr, WithCredentialOrg, count,
    encode_roles, limit_offset, parse,
};
use crate::sealing::ha1_context;
use crate::sql::{Backend, Connection};
use crate::tables::api_keys::{
    fetch_api_key, insert_api_key, keys_from_rows, load_key_grants, upsert_key_grant,
};
use crate::tables::credentials::with_org_and_access_list;
use crate::tables::events::{credential_event, record_event};
use crate::tables::projects::existing_group;
use crate::tables::{one_row_or, org_page};
use crate::{ApiKeyCredential, Rejection, StoreError};

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a key of an existing organization ([`Rejection::OrganizationNotFound`] otherwise).
    async fn create_api_key(&self, key: &ApiKey, ha1: &DigestHa1) -> Result<(), StoreError>;

    /// The key with this public key, its Digest credential, its access list and its
    /// organization, for authentication.
    async fn find_api_key(
        &self,
        public_key: &PublicKey,
    ) -> Result<Option<ApiKeyCredential>, StoreError>;

    /// An organization's API keys, oldest first.
    async fn list_api_keys(
        &self,
        org: &OrgId,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, StoreError>;

    async fn get_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError>;

    /// Changes a key's description and/or roles ([`Rejection::ApiKeyNotFound`] when it is not there).
    async fn update_api_key(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
        description: Option<&str>,
        roles: Option<&OrgRoles>,
    ) -> Result<ApiKey, StoreError>;

    /// Deletes a key; it stops authenticating at once, on every instance.
    async fn delete_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<(), StoreError>;

    /// The keys with roles in a project, oldest first ([`Rejection::GroupNotFound`] without the
    /// project).
    async fn list_project_api_keys(
        &self,
        group: &GroupId,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, StoreError>;

    /// Gives a key of the project's organization `roles` in the project, replacing any it had
    /// there, and with `description` describes it anew, in one step; answers the key with all
    /// its roles. [`Rejection::GroupNotFound`] without the project or
    /// [`Rejection::ApiKeyNotFound`] without such a key in its organization.
    async fn grant_api_key_project_roles(
        &self,
        group: &GroupId,
        key: &ApiKeyId,
        roles: &GroupRoles,
        description: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ApiKey, StoreError>;

    /// Takes a key's roles in a project away ([`Rejection::ApiKeyNotFound`] when it has none there).
    async fn revoke_api_key_project_roles(
        &self,
        group: &GroupId,
        key: &ApiKeyId,
    ) -> Result<(), StoreError>;
}

/// Gives `key` a new description, when `description` is one, and records the change; whether it
/// changed (the caller stores it). Clients re-apply the same settings: only a real change is an
/// event.
async fn describe_key<C: Connection>(
    tx: &mut C,
    org: &OrgId,
    key: &mut ApiKey,
    description: Option<&str>,
) -> Result<bool, StoreError> {
    let Some(description) = description.filter(|new| *new != key.description) else {
        return Ok(false);
    };
    key.description = description.to_owned();
    let event = credential_event(
        EventType::ApiKeyDescriptionChanged,
        key.public_key.as_str(),
        None,
    );
    record_event(&mut *tx, org, event).await?;
    Ok(true)
}

/// The key with a public key, its organization and its access list, in one statement: every
/// Digest request runs it, so it is built once.
static FIND_API_KEY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT k.*, {CREDENTIAL_ORG_COLUMNS}, l.cidr AS access_cidr \
         FROM (SELECT {API_KEY_COLUMNS} FROM api_keys WHERE public_key = $1) k \
         JOIN organizations o ON o.id = k.org_id \
         LEFT JOIN api_key_access_list l ON l.api_key_id = k.id"
    )
});

#[async_trait]
impl<B: Backend> ApiKeyStore for B {
    #[instrument(level = "debug", skip(self, ha1))]
    async fn create_api_key(&self, key: &ApiKey, ha1: &DigestHa1) -> Result<(), StoreError> {
        let key = key.clone();
        let ha1 = ha1.clone();
        let sealer = self.sealer().clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (key, ha1) = (&key, &ha1);
                insert_api_key(&mut *tx, &sealer, key, ha1).await?;
                let event =
                    credential_event(EventType::ApiKeyCreated, key.public_key.as_str(), None);
                record_event(&mut *tx, &key.org_id, event).await?;
                // A key made in a project is given its roles there at once.
                for grant in &key.project_roles {
                    let event_type = EventType::ApiKeyAddedToGroup;
                    let target = credential_event(event_type, key.public_key.as_str(), None).target;
                    let event = NewEvent::in_project(event_type, &grant.group_id, target);
                    record_event(&mut *tx, &key.org_id, event).await?;
                }
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn find_api_key(
        &self,
        public_key: &PublicKey,
    ) -> Result<Option<ApiKeyCredential>, StoreError> {
        let mut conn = self.read().await?;
        let rows: Vec<WithAccessCidr<WithCredentialOrg<ApiKeyRow>>> = conn
            .query(&FIND_API_KEY)
            .bind(public_key.as_str())
            .fetch_all()
            .await?;
        let Some((row, organization, access_list)) =
            with_org_and_access_list(rows, |row| row.org_id.clone())?
        else {
            return Ok(None);
        };
        let (key, sealed): (ApiKey, Vec<u8>) = row.try_into()?;
        let mut keys = [key];
        load_key_grants(&mut *conn, &mut keys).await?;
        let [key] = keys;
        let ha1 = self
            .sealer()
            .open(&sealed, &ha1_context(key.public_key.as_str()))?;
        let ha1 = <[u8; 16]>::try_from(ha1.as_slice())
            .map_err(|_| StoreError::Corrupt("a digest credential of the wrong length".into()))?;
        Ok(Some(ApiKeyCredential {
            key,
            ha1: DigestHa1(ha1),
            access_list,
            organization,
        }))
    }

    #[instrument(level = "debug", skip(self))]
    async fn list_api_keys(
        &self,
        org: &OrgId,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, StoreError> {
        let mut conn = self.read().await?;
        let (rows, total_count) =
            org_page::<_, ApiKeyRow>(&mut *conn, "api_keys", API_KEY_COLUMNS, "id", org, page)
                .await?;
        let mut items = keys_from_rows(rows)?;
        load_key_grants(&mut *conn, &mut items).await?;
        Ok(Page { items, total_count })
    }

    #[instrument(level = "debug", skip(self))]
    async fn get_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        fetch_api_key(&mut *self.read().await?, org, id).await
    }

    #[instrument(level = "debug", skip(self))]
    async fn update_api_key(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
        description: Option<&str>,
        roles: Option<&OrgRoles>,
    ) -> Result<ApiKey, StoreError> {
        let org = org.clone();
        let id = id.clone();
        let description = description.map(str::to_owned);
        let roles = roles.cloned();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, id, description, roles) =
                    (&org, &id, description.as_deref(), roles.as_ref());
                let mut key = fetch_api_key(&mut *tx, org, id)
                    .await?
                    .ok_or_else(|| Rejection::ApiKeyNotFound(id.clone()))?;
                describe_key(&mut *tx, org, &mut key, description).await?;
                // Only a real change is an event: clients re-apply the same settings.
                if let Some(roles) = roles.filter(|new| **new != key.roles) {
                    key.roles = roles.clone();
                    let public_key = key.public_key.as_str();
                    let event = credential_event(EventType::ApiKeyRolesChanged, public_key, None);
                    record_event(&mut *tx, org, event).await?;
                }
                tx.query("UPDATE api_keys SET description = $1, roles = $2 WHERE id = $3")
                    .bind(key.description.as_str())
                    .bind(encode_roles(&key.roles))
                    .bind(key.id.as_str())
                    .execute()
                    .await?;
                Ok(key)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn delete_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<(), StoreError> {
        let org = org.clone();
        let id = id.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, id) = (&org, &id);
                let public_key: String = tx
                    .query(
                        "DELETE FROM api_keys WHERE org_id = $1 AND id = $2 RETURNING public_key",
                    )
                    .bind(org.as_str())
                    .bind(id.as_str())
                    .fetch_optional_scalar()
                    .await?
                    .ok_or_else(|| Rejection::ApiKeyNotFound(id.clone()))?;
                let event = credential_event(EventType::ApiKeyDeleted, &public_key, None);
                record_event(&mut *tx, org, event).await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn list_project_api_keys(
        &self,
        group: &GroupId,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, StoreError> {
        let mut conn = self.read().await?;
        existing_group(&mut *conn, group, false).await?;
        let total: i64 = conn
            .query("SELECT COUNT(*) FROM api_key_project_roles WHERE project_id = $1")
            .bind(group.as_str())
            .fetch_scalar()
            .await?;
        let (limit, offset) = limit_offset(page);
        let columns = API_KEY_COLUMNS
            .split(", ")
            .map(|column| format!("k.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Vec<ApiKeyRow> = conn
            .query(&format!(
                "SELECT {columns} FROM api_keys k \
                 JOIN api_key_project_roles g ON g.api_key_id = k.id AND g.org_id = k.org_id \
                 WHERE g.project_id = $1 ORDER BY k.created_at, k.id LIMIT $2 OFFSET $3"
            ))
            .bind(group.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all()
            .await?;
        let mut items = keys_from_rows(rows)?;
        load_key_grants(&mut *conn, &mut items).await?;
        Ok(Page {
            items,
            total_count: count(total),
        })
    }

    #[instrument(level = "debug", skip(self))]
    async fn grant_api_key_project_roles(
        &self,
        group: &GroupId,
        key: &ApiKeyId,
        roles: &GroupRoles,
        description: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ApiKey, StoreError> {
        let group = group.clone();
        let key = key.clone();
        let roles = roles.clone();
        let description = description.map(str::to_owned);
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (group, key, roles, description) =
                    (&group, &key, &roles, description.as_deref());
                let project = existing_group(&mut *tx, group, true).await?;
                let mut key = fetch_api_key(&mut *tx, &project.org_id, key)
                    .await?
                    .ok_or_else(|| Rejection::ApiKeyNotFound(key.clone()))?;
                if describe_key(&mut *tx, &project.org_id, &mut key, description).await? {
                    tx.query("UPDATE api_keys SET description = $1 WHERE id = $2")
                        .bind(key.description.as_str())
                        .bind(key.id.as_str())
                        .execute()
                        .await?;
                }
                let grant = ProjectGrant {
                    group_id: group.clone(),
                    roles: roles.clone(),
                };
                upsert_key_grant(&mut *tx, &key, &grant, now).await?;
                let held = key
                    .project_roles
                    .iter()
                    .find(|held| held.group_id == grant.group_id);
                let event_type = match held {
                    None => Some(EventType::ApiKeyAddedToGroup),
                    Some(held) if held.roles != grant.roles => Some(EventType::ApiKeyRolesChanged),
                    Some(_) => None,
                };
                if let Some(event_type) = event_type {
                    let target = credential_event(event_type, key.public_key.as_str(), None).target;
                    let event = NewEvent::in_project(event_type, group, target);
                    record_event(&mut *tx, &project.org_id, event).await?;
                }
                // The grant as stored: in place of the one it replaced, or added.
                match key
                    .project_roles
                    .iter_mut()
                    .find(|held| held.group_id == grant.group_id)
                {
                    Some(held) => held.roles = grant.roles,
                    None => key.project_roles.push(grant),
                }
                Ok(key)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn revoke_api_key_project_roles(
        &self,
        group: &GroupId,
        key: &ApiKeyId,
    ) -> Result<(), StoreError> {
        let group = group.clone();
        let key = key.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (group, key) = (&group, &key);
                let granted: Option<(String, String)> = tx
                    .query(
                        "SELECT k.org_id, k.public_key FROM api_keys k \
                         JOIN api_key_project_roles g ON g.api_key_id = k.id \
                         WHERE g.project_id = $1 AND k.id = $2",
                    )
                    .bind(group.as_str())
                    .bind(key.as_str())
                    .fetch_optional()
                    .await?;
                let (org, public_key) = granted.ok_or_else(|| Rejection::ApiKeyNotFound(key.clone()))?;
                let revoked = tx
                    .query("DELETE FROM api_key_project_roles WHERE project_id = $1 AND api_key_id = $2")
                    .bind(group.as_str())
                    .bind(key.as_str())
                    .execute()
                    .await?;
                // Another revoke may have come first (PostgreSQL reads before that one committed).
                one_row_or(revoked, Rejection::ApiKeyNotFound(key.clone()))?;
                let target = credential_event(EventType::ApiKeyRemovedFromGroup, &public_key, None).target;
                let event = NewEvent::in_project(EventType::ApiKeyRemovedFromGroup, group, target);
                record_event(&mut *tx, &parse(&org, "org id")?, event).await?;
                Ok(())
            })
        })
        .await
    }
}
