//! What the store does for the server rather than for one resource: health, secrets shared by
//! every instance, and bringing what an older version stored up to date when a store opens.

use async_trait::async_trait;
use orgdoor_domain::{NewInvitation, ProjectInvitation};
use time::OffsetDateTime;
use tracing::instrument;

use crate::project_users::ProjectUserStore;
use crate::rows::{PROJECT_INVITATION_COLUMNS, ProjectInvitationRow};
use crate::sealing::{ha1_context, is_sealed, server_secret_context};
use crate::sql::{Backend, Connection};
use crate::tables::projects::fetch_group;
use crate::{Newcomer, ProjectAddition, Rejection, StoreError};

#[async_trait]
pub trait HousekeepingStore: Send + Sync {
    /// Answers when the database does; used by health checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The named secret shared by every instance on this store, created with `generate` the
    /// first time it is asked for. Concurrent first calls agree on one value.
    async fn shared_secret(
        &self,
        name: &str,
        generate: &(dyn Fn() -> Vec<u8> + Send + Sync),
    ) -> Result<Vec<u8>, StoreError>;
}

#[async_trait]
impl<B: Backend> HousekeepingStore for B {
    #[instrument(level = "debug", skip(self))]
    async fn ping(&self) -> Result<(), StoreError> {
        self.read().await?.query("SELECT 1").execute().await?;
        // A store that answers reads but cannot start a write (a wedged writer, a write lock
        // held elsewhere) is not healthy: take the write lock, let it go.
        self.write_transaction(|tx| {
            Box::pin(async move {
                tx.query("SELECT 1").execute().await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self, generate))]
    async fn shared_secret(
        &self,
        name: &str,
        generate: &(dyn Fn() -> Vec<u8> + Send + Sync),
    ) -> Result<Vec<u8>, StoreError> {
        let context = server_secret_context(name);
        let fresh = self.sealer().seal(&generate(), &context)?;
        let name = name.to_owned();
        let value: Vec<u8> = self
            .write_transaction(move |tx| {
                Box::pin(async move {
                    tx.query(
                        "INSERT INTO server_secrets (name, value) VALUES ($1, $2) \
                         ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(name.as_str())
                    .bind(fresh)
                    .execute()
                    .await?;
                    let value = tx
                        .query("SELECT value FROM server_secrets WHERE name = $1")
                        .bind(name.as_str())
                        .fetch_scalar()
                        .await?;
                    Ok(value)
                })
            })
            .await?;
        self.sealer().open(&value, &context)
    }
}

/// Brings what an older version stored up to date, once, as a store opens.
pub(crate) async fn prepare<B: Backend>(store: &B, now: OffsetDateTime) -> Result<(), StoreError> {
    seal_plaintext_secrets(store).await?;
    fold_project_invitations(store, now).await
}

/// Seals what an older version stored in the clear (HA1 values, server secrets), and checks
/// that the configured key opens the secrets already sealed.
async fn seal_plaintext_secrets<B: Backend>(store: &B) -> Result<(), StoreError> {
    let sealer = store.sealer().clone();
    let sealed_keys = store
        .write_transaction(move |tx| {
            Box::pin(async move {
            let plaintext: Vec<(String, Vec<u8>)> = tx
                .query("SELECT public_key, digest_ha1 FROM api_keys WHERE length(digest_ha1) = 16")
                .fetch_all()
                .await?;
            for (public_key, ha1) in &plaintext {
                tx.query("UPDATE api_keys SET digest_ha1 = $1 WHERE public_key = $2")
                    .bind(sealer.seal(ha1, &ha1_context(public_key))?)
                    .bind(public_key.as_str())
                    .execute()
                    .await?;
            }
            // One sealed credential is enough to tell whether the key is this store's.
            let sealed: Option<(String, Vec<u8>)> = tx
                .query("SELECT public_key, digest_ha1 FROM api_keys WHERE length(digest_ha1) > 16 LIMIT 1")
                .fetch_optional()
                .await?;
            if let Some((public_key, ha1)) = &sealed {
                sealer.open(ha1, &ha1_context(public_key))?;
            }
            let secrets: Vec<(String, Vec<u8>)> = tx
                .query("SELECT name, value FROM server_secrets")
                .fetch_all()
                .await?;
            for (name, value) in &secrets {
                let context = server_secret_context(name);
                if is_sealed(value) {
                    sealer.open(value, &context)?;
                } else {
                    tx.query("UPDATE server_secrets SET value = $1 WHERE name = $2")
                        .bind(sealer.seal(value, &context)?)
                        .bind(name.as_str())
                        .execute()
                        .await?;
                }
            }
                Ok(plaintext.len())
            })
        })
        .await?;
    if sealed_keys > 0 {
        tracing::info!(
            keys = sealed_keys,
            "sealed API key credentials stored in the clear"
        );
    }
    Ok(())
}

/// Moves what an older version stored as separate project invitations into the one record they
/// are now, an organization invitation offering roles in the project (see
/// [`ProjectInvitation`]), then forgets them. A pending one is added as a project invitation is
/// today, keeping its id, dates and inviter when it becomes a new invitation; an expired one,
/// or one to someone who has since joined the organization, is dropped: neither could be
/// accepted.
async fn fold_project_invitations<B: Backend>(
    store: &B,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let rows: Vec<ProjectInvitationRow> = store
        .read()
        .await?
        .query(&format!(
            "SELECT {PROJECT_INVITATION_COLUMNS} FROM project_invitations ORDER BY created_at, id"
        ))
        .fetch_all()
        .await?;
    for row in rows {
        let id = row.id.clone();
        let old = ProjectInvitation::try_from(row)?;
        let project = if old.is_expired(now) {
            None
        } else {
            fetch_group(&mut *store.read().await?, &old.group_id, false).await?
        };
        if let Some(project) = project {
            let mut newcomer = NewInvitation::into_project(
                project.org_id,
                &old.group_id,
                old.username.clone(),
                &old.roles,
                old.inviter_username.clone(),
            )
            .into_invitation(old.created_at);
            newcomer.id = old.id.clone();
            newcomer.expires_at = old.expires_at;
            let added = store
                .add_project_user(
                    &old.group_id,
                    &old.roles,
                    Newcomer {
                        invitation: &newcomer,
                        letter: None,
                    },
                    ProjectAddition::Invitation,
                    now,
                )
                .await;
            match added {
                Ok(_)
                | Err(StoreError::Rejected(
                    Rejection::UsernameTaken(_) | Rejection::GroupNotFound(_),
                )) => {}
                Err(other) => return Err(other),
            }
        }
        store
            .write_transaction(move |tx| {
                Box::pin(async move {
                    tx.query("DELETE FROM project_invitations WHERE id = $1")
                        .bind(id)
                        .execute()
                        .await?;
                    Ok(())
                })
            })
            .await?;
    }
    Ok(())
}
