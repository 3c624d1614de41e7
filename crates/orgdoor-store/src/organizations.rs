//! Organizations: the first one of a store, the others, renaming and deleting them.

use async_trait::async_trait;
use orgdoor_domain::{
    ApiKey, DigestHa1, EventTarget, EventType, NewEvent, OrgId, OrgName, OrgRole, OrgRoles,
    Organization, UserId,
};
use tracing::instrument;

use crate::error::missing_referent;
use crate::rows::{ORGANIZATION_COLUMNS, OrganizationRow, encode_roles, seconds};
use crate::sql::{Backend, Connection};
use crate::tables::events::record_event;
use crate::tables::organizations::insert_organization;
use crate::{Rejection, StoreError};

#[async_trait]
pub trait OrganizationStore: Send + Sync {
    /// Creates the organization only if the store holds none yet, atomically across instances:
    /// of several servers starting on one empty store, exactly one gets `true`.
    async fn create_first_organization(
        &self,
        organization: &Organization,
        api_keys: &[(ApiKey, DigestHa1)],
    ) -> Result<bool, StoreError>;

    /// Creates an organization together with its first API keys and, with `owner`, that
    /// person as its first member, an Organization Owner.
    async fn create_organization(
        &self,
        organization: &Organization,
        api_keys: &[(ApiKey, DigestHa1)],
        owner: Option<&UserId>,
    ) -> Result<(), StoreError>;

    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError>;

    /// Every organization, oldest first (for operators: `orgdoor org list`).
    async fn list_organizations(&self) -> Result<Vec<Organization>, StoreError>;

    /// Renames an organization; [`Rejection::OrganizationNotFound`] when it does not exist.
    async fn rename_organization(
        &self,
        id: &OrgId,
        name: &OrgName,
    ) -> Result<Organization, StoreError>;

    /// Deletes an organization with its keys, teams and invitations; refused with
    /// [`Rejection::OrganizationHasProjects`] while it has projects, [`Rejection::OrganizationNotFound`] when
    /// it does not exist.
    async fn delete_organization(&self, id: &OrgId) -> Result<(), StoreError>;
}

#[async_trait]
impl<B: Backend> OrganizationStore for B {
    #[instrument(level = "debug", skip(self, api_keys))]
    async fn create_first_organization(
        &self,
        organization: &Organization,
        api_keys: &[(ApiKey, DigestHa1)],
    ) -> Result<bool, StoreError> {
        let organization = organization.clone();
        let api_keys = api_keys.to_vec();
        let sealer = self.sealer().clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (organization, api_keys) = (&organization, api_keys.as_slice());
                if let Some(lock) = B::WriteConnection::LOCK_ORGANIZATIONS {
                    tx.query(lock).execute().await?;
                }
                let any: bool = tx
                    .query("SELECT EXISTS (SELECT 1 FROM organizations)")
                    .fetch_scalar()
                    .await?;
                if any {
                    return Ok(false);
                }
                insert_organization(&mut *tx, &sealer, organization, api_keys).await?;
                Ok(true)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self, api_keys))]
    async fn create_organization(
        &self,
        organization: &Organization,
        api_keys: &[(ApiKey, DigestHa1)],
        owner: Option<&UserId>,
    ) -> Result<(), StoreError> {
        let organization = organization.clone();
        let api_keys = api_keys.to_vec();
        let owner = owner.cloned();
        let sealer = self.sealer().clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (organization, api_keys, owner) =
                    (&organization, api_keys.as_slice(), owner.as_ref());
                insert_organization(&mut *tx, &sealer, organization, api_keys).await?;
                if let Some(owner) = owner {
                    tx.query(
                        "INSERT INTO org_members (org_id, user_id, roles, joined_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(organization.id.as_str())
                    .bind(owner.as_str())
                    .bind(encode_roles(&OrgRoles::single(OrgRole::Owner)))
                    .bind(seconds(organization.created_at))
                    .execute()
                    .await
                    .map_err(|error| {
                        missing_referent(error, || {
                            Rejection::user_not_in_org(owner, &organization.id)
                        })
                    })?;
                }
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError> {
        let row: Option<OrganizationRow> = self
            .read()
            .await?
            .query(&format!(
                "SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional()
            .await?;
        row.map(Organization::try_from).transpose()
    }

    #[instrument(level = "debug", skip(self))]
    async fn list_organizations(&self) -> Result<Vec<Organization>, StoreError> {
        let rows: Vec<OrganizationRow> = self
            .read()
            .await?
            .query(&format!(
                "SELECT {ORGANIZATION_COLUMNS} FROM organizations ORDER BY created_at, id"
            ))
            .fetch_all()
            .await?;
        rows.into_iter().map(Organization::try_from).collect()
    }

    #[instrument(level = "debug", skip(self))]
    async fn rename_organization(
        &self,
        id: &OrgId,
        name: &OrgName,
    ) -> Result<Organization, StoreError> {
        let id = id.clone();
        let name = name.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (id, name) = (&id, &name);
                let row: Option<OrganizationRow> = tx
                    .query(&format!(
                        "UPDATE organizations SET name = $1 WHERE id = $2 RETURNING {ORGANIZATION_COLUMNS}"
                    ))
                    .bind(name.as_str())
                    .bind(id.as_str())
                    .fetch_optional()
                    .await?;
                let organization: Organization = row
                    .ok_or_else(|| Rejection::OrganizationNotFound(id.clone()))?
                    .try_into()?;
                let event = NewEvent::new(EventType::OrgRenamed, EventTarget::default());
                record_event(&mut *tx, id, event).await?;
                Ok(organization)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn delete_organization(&self, id: &OrgId) -> Result<(), StoreError> {
        let id = id.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let id = &id;
                // Locking the organization holds off project inserts, whose foreign-key check needs
                // it, until this transaction ends.
                let exists: Option<String> = tx
                    .query(&format!(
                        "SELECT id FROM organizations WHERE id = $1{}",
                        B::WriteConnection::LOCK_ROWS
                    ))
                    .bind(id.as_str())
                    .fetch_optional_scalar()
                    .await?;
                if exists.is_none() {
                    return Err(Rejection::OrganizationNotFound(id.clone()).into());
                }
                let has_projects: bool = tx
                    .query("SELECT EXISTS (SELECT 1 FROM projects WHERE org_id = $1)")
                    .bind(id.as_str())
                    .fetch_scalar()
                    .await?;
                if has_projects {
                    return Err(Rejection::OrganizationHasProjects(id.clone()).into());
                }
                tx.query("DELETE FROM organizations WHERE id = $1")
                    .bind(id.as_str())
                    .execute()
                    .await?;
                Ok(())
            })
        })
        .await
    }
}
