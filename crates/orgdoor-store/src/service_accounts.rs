//! Service accounts, their secrets, and the OAuth access tokens minted with them.

use std::sync::LazyLock;

use async_trait::async_trait;
use orgdoor_domain::{
    AccessToken, ClientId, EventType, NewEvent, OrgId, OrgRoles, Page, PageRequest, SecretId,
    ServiceAccount, ServiceAccountSecret,
};
use time::OffsetDateTime;
use tracing::instrument;

use crate::rows::{
    CREDENTIAL_ORG_COLUMNS, SERVICE_ACCOUNT_COLUMNS, ServiceAccountRow, TokenAccountRow, TokenRow,
    WithAccessCidr, WithCredentialOrg, count, encode_roles, seconds, write_error,
};
use crate::sql::{Backend, Connection};
use crate::tables::credentials::{
    existing_credential, fetch_service_account, insert_secret, load_access_list, load_secrets,
    with_org_and_access_list,
};
use crate::tables::events::{credential_event, record_event};
use crate::tables::{one_row_or, org_page};
use crate::{BearerCredential, Credential, Rejection, ServiceAccountCredential, StoreError};

#[async_trait]
pub trait ServiceAccountStore: Send + Sync {
    /// Stores a service account with the secrets it carries.
    async fn create_service_account(&self, account: &ServiceAccount) -> Result<(), StoreError>;

    /// An organization's service accounts with their secrets, oldest first.
    async fn list_service_accounts(
        &self,
        org: &OrgId,
        page: PageRequest,
    ) -> Result<Page<ServiceAccount>, StoreError>;

    async fn get_service_account(
        &self,
        org: &OrgId,
        client_id: &ClientId,
    ) -> Result<Option<ServiceAccount>, StoreError>;

    /// Changes what is given ([`Rejection::ServiceAccountNotFound`] when the account is not in
    /// `org`).
    async fn update_service_account(
        &self,
        org: &OrgId,
        client_id: &ClientId,
        name: Option<&str>,
        description: Option<&str>,
        roles: Option<&OrgRoles>,
    ) -> Result<ServiceAccount, StoreError>;

    /// Deletes an account with its secrets, tokens and access list.
    async fn delete_service_account(
        &self,
        org: &OrgId,
        client_id: &ClientId,
    ) -> Result<(), StoreError>;

    async fn add_service_account_secret(
        &self,
        org: &OrgId,
        client_id: &ClientId,
        secret: &ServiceAccountSecret,
    ) -> Result<(), StoreError>;

    async fn delete_service_account_secret(
        &self,
        org: &OrgId,
        client_id: &ClientId,
        secret: &SecretId,
    ) -> Result<(), StoreError>;

    /// An account with its secrets and access list, for the token endpoint.
    async fn find_service_account(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<ServiceAccountCredential>, StoreError>;

    /// Stores an issued token, refusing with [`Rejection::TooManyTokens`] while the account
    /// already holds `max_active` unexpired ones (counted under a lock on the account, so the
    /// cap holds across instances). Expired tokens of the account are dropped. `secret` is
    /// the secret the token was minted with: deleting it deletes the token.
    async fn issue_access_token(
        &self,
        token: &AccessToken,
        secret: Option<&SecretId>,
        now: OffsetDateTime,
        max_active: u64,
    ) -> Result<(), StoreError>;

    /// The token with this digest, its account (without its secrets, which a Bearer request
    /// does not need) and the account's organization, for Bearer authentication.
    async fn find_access_token(
        &self,
        digest: &[u8; 32],
    ) -> Result<Option<BearerCredential>, StoreError>;

    /// Revokes a token of `client_id`; an unknown token is no error (RFC 7009).
    async fn revoke_access_token(
        &self,
        client_id: &ClientId,
        digest: &[u8; 32],
    ) -> Result<(), StoreError>;
}

/// The token, its account, the account's organization and access list in one statement, built
/// once: this runs on every Bearer request.
static FIND_ACCESS_TOKEN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT c.*, {CREDENTIAL_ORG_COLUMNS}, l.cidr AS access_cidr FROM ( \
             SELECT a.client_id, a.org_id, a.name, a.description, a.roles, a.created_at, \
                 t.created_at AS token_created_at, t.expires_at AS token_expires_at \
             FROM oauth_tokens t JOIN service_accounts a ON a.client_id = t.client_id \
             WHERE t.digest = $1) c \
         JOIN organizations o ON o.id = c.org_id \
         LEFT JOIN service_account_access_list l ON l.client_id = c.client_id"
    )
});

#[async_trait]
impl<B: Backend> ServiceAccountStore for B {
    #[instrument(level = "debug", skip_all, fields(client_id = %account.client_id))]
    async fn create_service_account(&self, account: &ServiceAccount) -> Result<(), StoreError> {
        let account = account.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let account = &account;
                tx.query(&format!(
                    "INSERT INTO service_accounts ({SERVICE_ACCOUNT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6)"
                ))
                .bind(account.client_id.as_str())
                .bind(account.org_id.as_str())
                .bind(account.name.as_str())
                .bind(account.description.as_str())
                .bind(encode_roles(&account.roles))
                .bind(seconds(account.created_at))
                .execute()
                .await
                .map_err(|error| {
                    write_error(error, &account.org_id, || {
                        Rejection::ServiceAccountNotFound(account.client_id.clone())
                    })
                })?;
                for secret in &account.secrets {
                    insert_secret(&mut *tx, &account.client_id, secret).await?;
                }
                let event = account_event(EventType::ServiceAccountCreated, &account.client_id);
                record_event(&mut *tx, &account.org_id, event).await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn list_service_accounts(
        &self,
        org: &OrgId,
        page: PageRequest,
    ) -> Result<Page<ServiceAccount>, StoreError> {
        let mut conn = self.read().await?;
        let (rows, total_count) = org_page::<_, ServiceAccountRow>(
            &mut *conn,
            "service_accounts",
            SERVICE_ACCOUNT_COLUMNS,
            "client_id",
            org,
            page,
        )
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let mut account = ServiceAccount::try_from(row)?;
            account.secrets = load_secrets(&mut *conn, &account.client_id).await?;
            items.push(account);
        }
        Ok(Page { items, total_count })
    }

    #[instrument(level = "debug", skip(self))]
    async fn get_service_account(
        &self,
        org: &OrgId,
        client_id: &ClientId,
    ) -> Result<Option<ServiceAccount>, StoreError> {
        fetch_service_account(&mut *self.read().await?, Some(org), client_id, false).await
    }

    #[instrument(level = "debug", skip(self))]
    async fn update_service_account(
        &self,
        org: &OrgId,
        client_id: &ClientId,
        name: Option<&str>,
        description: Option<&str>,
        roles: Option<&OrgRoles>,
    ) -> Result<ServiceAccount, StoreError> {
        let org = org.clone();
        let client_id = client_id.clone();
        let name = name.map(str::to_owned);
        let description = description.map(str::to_owned);
        let roles = roles.cloned();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, client_id, name, description, roles) = (
                    &org,
                    &client_id,
                    name.as_deref(),
                    description.as_deref(),
                    roles.as_ref(),
                );
                let mut account = fetch_service_account(&mut *tx, Some(org), client_id, true)
                    .await?
                    .ok_or_else(|| Rejection::ServiceAccountNotFound(client_id.clone()))?;
                // Only a real change is an event: clients re-apply the same settings.
                let details = (account.name.clone(), account.description.clone());
                if let Some(name) = name {
                    account.name = name.to_owned();
                }
                if let Some(description) = description {
                    account.description = description.to_owned();
                }
                if (account.name.clone(), account.description.clone()) != details {
                    let event = account_event(EventType::ServiceAccountDetailsChanged, client_id);
                    record_event(&mut *tx, org, event).await?;
                }
                if let Some(roles) = roles.filter(|new| **new != account.roles) {
                    account.roles = roles.clone();
                    let event = account_event(EventType::ServiceAccountRolesChanged, client_id);
                    record_event(&mut *tx, org, event).await?;
                }
                tx.query(
                    "UPDATE service_accounts SET name = $1, description = $2, roles = $3 \
                     WHERE client_id = $4",
                )
                .bind(account.name.as_str())
                .bind(account.description.as_str())
                .bind(encode_roles(&account.roles))
                .bind(client_id.as_str())
                .execute()
                .await?;
                Ok(account)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn delete_service_account(
        &self,
        org: &OrgId,
        client_id: &ClientId,
    ) -> Result<(), StoreError> {
        let org = org.clone();
        let client_id = client_id.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, client_id) = (&org, &client_id);
                let deleted = tx
                    .query("DELETE FROM service_accounts WHERE org_id = $1 AND client_id = $2")
                    .bind(org.as_str())
                    .bind(client_id.as_str())
                    .execute()
                    .await?;
                one_row_or(
                    deleted,
                    Rejection::ServiceAccountNotFound(client_id.clone()),
                )?;
                let event = account_event(EventType::ServiceAccountDeleted, client_id);
                record_event(&mut *tx, org, event).await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self, secret), fields(secret_id = %secret.id))]
    async fn add_service_account_secret(
        &self,
        org: &OrgId,
        client_id: &ClientId,
        secret: &ServiceAccountSecret,
    ) -> Result<(), StoreError> {
        let org = org.clone();
        let client_id = client_id.clone();
        let secret = secret.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, client_id, secret) = (&org, &client_id, &secret);
                let credential = Credential::ServiceAccount(client_id.clone());
                existing_credential(&mut *tx, org, &credential).await?;
                insert_secret(&mut *tx, client_id, secret).await?;
                let event = account_event(EventType::ServiceAccountSecretAdded, client_id);
                record_event(&mut *tx, org, event).await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn delete_service_account_secret(
        &self,
        org: &OrgId,
        client_id: &ClientId,
        secret: &SecretId,
    ) -> Result<(), StoreError> {
        let org = org.clone();
        let client_id = client_id.clone();
        let secret = secret.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, client_id, secret) = (&org, &client_id, &secret);
                let deleted = tx
                    .query(
                        "DELETE FROM service_account_secrets WHERE id = $1 AND client_id = \
                         (SELECT client_id FROM service_accounts WHERE client_id = $2 AND org_id = $3)",
                    )
                    .bind(secret.as_str())
                    .bind(client_id.as_str())
                    .bind(org.as_str())
                    .execute()
                    .await?;
                one_row_or(deleted, Rejection::SecretNotFound(secret.clone()))?;
                // Tokens minted with the secret go with it, in the same transaction.
                tx.query("DELETE FROM oauth_tokens WHERE secret_id = $1 AND client_id = $2")
                    .bind(secret.as_str())
                    .bind(client_id.as_str())
                    .execute()
                    .await?;
                let event = account_event(EventType::ServiceAccountSecretDeleted, client_id);
                record_event(&mut *tx, org, event).await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn find_service_account(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<ServiceAccountCredential>, StoreError> {
        let mut conn = self.read().await?;
        let Some(account) = fetch_service_account(&mut *conn, None, client_id, false).await? else {
            return Ok(None);
        };
        let credential = Credential::ServiceAccount(client_id.clone());
        let access_list = load_access_list(&mut *conn, &credential).await?;
        Ok(Some(ServiceAccountCredential {
            account,
            access_list,
        }))
    }

    #[instrument(level = "debug", skip_all, fields(client_id = %token.client_id))]
    async fn issue_access_token(
        &self,
        token: &AccessToken,
        secret: Option<&SecretId>,
        now: OffsetDateTime,
        max_active: u64,
    ) -> Result<(), StoreError> {
        let token = token.clone();
        let secret = secret.cloned();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (token, secret) = (&token, secret.as_ref());
                fetch_service_account(&mut *tx, None, &token.client_id, true)
                    .await?
                    .ok_or_else(|| Rejection::ServiceAccountNotFound(token.client_id.clone()))?;
                tx.query("DELETE FROM oauth_tokens WHERE client_id = $1 AND expires_at <= $2")
                    .bind(token.client_id.as_str())
                    .bind(seconds(now))
                    .execute()
                    .await?;
                let active: i64 = tx
                    .query("SELECT COUNT(*) FROM oauth_tokens WHERE client_id = $1")
                    .bind(token.client_id.as_str())
                    .fetch_scalar()
                    .await?;
                if count(active) >= max_active {
                    return Err(Rejection::TooManyTokens.into());
                }
                tx.query(
                    "INSERT INTO oauth_tokens (digest, client_id, created_at, expires_at, secret_id) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&token.digest[..])
                .bind(token.client_id.as_str())
                .bind(seconds(token.created_at))
                .bind(seconds(token.expires_at))
                .bind(secret.map(SecretId::as_str))
                .execute()
                .await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip_all)]
    async fn find_access_token(
        &self,
        digest: &[u8; 32],
    ) -> Result<Option<BearerCredential>, StoreError> {
        let rows: Vec<WithAccessCidr<WithCredentialOrg<TokenAccountRow>>> = self
            .read()
            .await?
            .query(&FIND_ACCESS_TOKEN)
            .bind(&digest[..])
            .fetch_all()
            .await?;
        let Some((row, organization, access_list)) =
            with_org_and_access_list(rows, |row| row.account.org_id.clone())?
        else {
            return Ok(None);
        };
        let token = AccessToken::try_from(TokenRow {
            digest: digest.to_vec(),
            client_id: row.account.client_id.clone(),
            created_at: row.token_created_at,
            expires_at: row.token_expires_at,
        })?;
        let account = ServiceAccount::try_from(row.account)?;
        Ok(Some(BearerCredential {
            token,
            credential: ServiceAccountCredential {
                account,
                access_list,
            },
            organization,
        }))
    }

    #[instrument(level = "debug", skip(self, digest))]
    async fn revoke_access_token(
        &self,
        client_id: &ClientId,
        digest: &[u8; 32],
    ) -> Result<(), StoreError> {
        let (client_id, digest) = (client_id.clone(), *digest);
        self.write_transaction(move |tx| {
            Box::pin(async move {
                tx.query("DELETE FROM oauth_tokens WHERE digest = $1 AND client_id = $2")
                    .bind(&digest[..])
                    .bind(client_id.as_str())
                    .execute()
                    .await?;
                Ok(())
            })
        })
        .await
    }
}

/// An event about a service account, named by its client id (Atlas's own events name none).
fn account_event(event_type: EventType, client_id: &ClientId) -> NewEvent {
    credential_event(event_type, client_id.as_str(), None)
}
