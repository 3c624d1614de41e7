//! Creating organizations and API keys outside the API: on the first start of `serve`, and by
//! the `bootstrap` and `api-key create` commands. The private key exists only in the returned
//! [`MintedKey`]; the store keeps its Digest HA1.

use std::sync::Arc;

use orgdoor_domain::{
    ApiKey, DigestHa1, Group, GroupRoles, NewApiKey, NewOrganization, OrgId, OrgName, OrgRole,
    OrgRoles, Organization, ProjectGrant, PublicKey,
};
use orgdoor_store::{Rejection, Store, StoreError};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use time::OffsetDateTime;

use crate::security::digest::digest_ha1;

/// A key just made, with its private key: the only time that value is known.
pub struct MintedKey {
    pub key: ApiKey,
    pub private_key: SecretString,
}

/// What `bootstrap` and `api-key create` print: one JSON object.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsOutput<'a> {
    pub org_id: &'a str,
    pub org_name: &'a str,
    pub public_key: &'a str,
    pub private_key: &'a str,
}

impl<'a> CredentialsOutput<'a> {
    pub fn new(organization: &'a Organization, minted: &'a MintedKey) -> Self {
        Self {
            org_id: organization.id.as_str(),
            org_name: organization.name.as_str(),
            public_key: minted.key.public_key.as_str(),
            private_key: minted.private_key.expose_secret(),
        }
    }
}

/// A new key for `org` and its Digest credential, not yet stored.
pub fn mint(
    org: &OrgId,
    roles: OrgRoles,
    description: &str,
    now: OffsetDateTime,
) -> (MintedKey, DigestHa1) {
    let public_key = PublicKey::generate();
    let private_key = uuid::Uuid::new_v4().to_string();
    let ha1 = digest_ha1(public_key.as_str(), &private_key);
    let (key, ha1) = NewApiKey {
        org_id: org.clone(),
        public_key,
        ha1,
        description: description.to_owned(),
        roles,
        project_roles: Vec::new(),
    }
    .into_api_key(now);
    (
        MintedKey {
            key,
            private_key: SecretString::from(private_key),
        },
        ha1,
    )
}

/// A new organization and an Organization Owner key for it, not yet stored.
fn owned_organization(name: OrgName, now: OffsetDateTime) -> (Organization, MintedKey, DigestHa1) {
    let organization = NewOrganization {
        name,
        skip_default_alerts_settings: false,
    }
    .into_organization(now);
    let (minted, ha1) = mint(
        &organization.id,
        OrgRoles::single(OrgRole::Owner),
        "orgdoor bootstrap key",
        now,
    );
    (organization, minted, ha1)
}

/// Creates an organization with one Organization Owner key, in one transaction.
pub async fn create_organization(
    store: &Arc<dyn Store>,
    name: OrgName,
    now: OffsetDateTime,
) -> Result<(Organization, MintedKey), StoreError> {
    let (organization, minted, ha1) = owned_organization(name, now);
    store
        .create_organization(&organization, &[(minted.key.clone(), ha1)], None)
        .await?;
    Ok((organization, minted))
}

/// Creates a key with the given roles in an existing organization.
pub async fn create_api_key(
    store: &Arc<dyn Store>,
    org: &OrgId,
    roles: OrgRoles,
    description: &str,
    now: OffsetDateTime,
) -> Result<(Organization, MintedKey), StoreError> {
    let organization = store
        .get_organization(org)
        .await?
        .ok_or_else(|| Rejection::OrganizationNotFound(org.clone()))?;
    let (minted, ha1) = mint(org, roles, description, now);
    store.create_api_key(&minted.key, &ha1).await?;
    Ok((organization, minted))
}

/// Creates a key for a project (`createGroupApiKey`): `ORG_MEMBER` in the project's
/// organization, as Atlas gives every project key, and `roles` in the project, stored together.
pub async fn create_project_api_key(
    store: &Arc<dyn Store>,
    group: &Group,
    roles: GroupRoles,
    description: &str,
    now: OffsetDateTime,
) -> Result<MintedKey, StoreError> {
    let (mut minted, ha1) = mint(
        &group.org_id,
        OrgRoles::single(OrgRole::Member),
        description,
        now,
    );
    minted.key.project_roles = vec![ProjectGrant {
        group_id: group.id.clone(),
        roles,
    }];
    store.create_api_key(&minted.key, &ha1).await?;
    Ok(minted)
}

/// An organization and its owner key as first made, kept (the key's Digest HA1, never its
/// private key) so that a reset of the store can put back the very same organization and key.
#[derive(Clone)]
pub struct KeptOrganization {
    organization: Organization,
    key: ApiKey,
    ha1: DigestHa1,
}

impl KeptOrganization {
    /// A new organization named `name` with an owner key, not yet stored.
    pub fn mint(name: OrgName, now: OffsetDateTime) -> (Self, MintedKey) {
        let (organization, minted, ha1) = owned_organization(name, now);
        let kept = Self {
            organization,
            key: minted.key.clone(),
            ha1,
        };
        (kept, minted)
    }

    pub fn organization(&self) -> &Organization {
        &self.organization
    }

    /// Stores the organization and its key, as they were made.
    pub async fn store(&self, store: &Arc<dyn Store>) -> Result<(), StoreError> {
        store
            .create_organization(
                &self.organization,
                &[(self.key.clone(), self.ha1.clone())],
                None,
            )
            .await
    }
}

/// An owner key given in advance (`ORGDOOR_PUBLIC_KEY`/`ORGDOOR_PRIVATE_KEY`), as MinIO takes
/// its root credentials, so a test suite knows it before the server starts.
#[derive(Clone)]
pub struct FixedKey {
    pub public_key: PublicKey,
    pub private_key: SecretString,
}

/// Why a fixed key was refused.
#[derive(Debug, thiserror::Error)]
pub enum FixedKeyError {
    #[error("ORGDOOR_PUBLIC_KEY must be 8 lowercase letters, as Atlas public keys are")]
    PublicKey,
    #[error("ORGDOOR_PRIVATE_KEY must be 8 to 128 printable ASCII characters without spaces")]
    PrivateKey,
    #[error(
        "the API key {0} already exists with another private key or in another organization; \
         revoke it (`orgdoor api-key revoke`) or give its own private key"
    )]
    Mismatch(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FixedKey {
    pub fn parse(public_key: &str, private_key: &str) -> Result<Self, FixedKeyError> {
        let public_key = public_key.parse().map_err(|_| FixedKeyError::PublicKey)?;
        if !(8..=128).contains(&private_key.len())
            || !private_key.bytes().all(|c| c.is_ascii_graphic())
        {
            return Err(FixedKeyError::PrivateKey);
        }
        Ok(Self {
            public_key,
            private_key: SecretString::from(private_key.to_owned()),
        })
    }

    fn ha1(&self) -> DigestHa1 {
        digest_ha1(self.public_key.as_str(), self.private_key.expose_secret())
    }

    /// Makes this key an Organization Owner key if it is not stored yet: of a new organization
    /// on an empty store, else of the oldest organization. A key already stored is left as it
    /// is if its private key is this one, and refused otherwise. Returns the key's
    /// organization, kept as it is now so a reset can put it back.
    pub async fn ensure(
        &self,
        store: &Arc<dyn Store>,
        now: OffsetDateTime,
    ) -> Result<KeptOrganization, FixedKeyError> {
        let ha1 = self.ha1();
        if let Some(stored) = self.stored(store).await? {
            return Ok(KeptOrganization {
                organization: stored.organization,
                key: stored.key,
                ha1,
            });
        }
        let name =
            OrgName::parse("orgdoor").map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let organization = NewOrganization {
            name,
            skip_default_alerts_settings: false,
        }
        .into_organization(now);
        let key = self.key_of(&organization.id, now);
        if store
            .create_first_organization(&organization, &[(key.clone(), ha1.clone())])
            .await?
        {
            return Ok(KeptOrganization {
                organization,
                key,
                ha1,
            });
        }
        let oldest = store
            .list_organizations()
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("no organization".into()))?;
        let key = self.key_of(&oldest.id, now);
        store.create_api_key(&key, &ha1).await?;
        Ok(KeptOrganization {
            organization: oldest,
            key,
            ha1,
        })
    }

    fn key_of(&self, org: &OrgId, now: OffsetDateTime) -> ApiKey {
        self.key_with(
            org,
            OrgRoles::single(OrgRole::Owner),
            "orgdoor fixed key (ORGDOOR_PUBLIC_KEY)",
            now,
        )
    }

    /// This key as a key of `org` with `roles`, not yet stored.
    pub fn key_with(
        &self,
        org: &OrgId,
        roles: OrgRoles,
        description: &str,
        now: OffsetDateTime,
    ) -> ApiKey {
        NewApiKey {
            org_id: org.clone(),
            public_key: self.public_key.clone(),
            ha1: self.ha1(),
            description: description.to_owned(),
            roles,
            project_roles: Vec::new(),
        }
        .into_api_key(now)
        .0
    }

    /// Stores this key in `org` with `roles` unless it is stored already; a stored key with
    /// another private key, or in another organization, is refused.
    pub async fn ensure_in(
        &self,
        store: &Arc<dyn Store>,
        org: &OrgId,
        roles: OrgRoles,
        description: &str,
        now: OffsetDateTime,
    ) -> Result<(), FixedKeyError> {
        if let Some(stored) = self.stored(store).await? {
            if stored.key.org_id != *org {
                return Err(FixedKeyError::Mismatch(self.public_key.to_string()));
            }
            return Ok(());
        }
        let key = self.key_with(org, roles, description, now);
        store.create_api_key(&key, &self.ha1()).await?;
        Ok(())
    }

    /// The stored key of this public key, if any; refused when its private key is another
    /// (compared as HA1s, in constant time).
    async fn stored(
        &self,
        store: &Arc<dyn Store>,
    ) -> Result<Option<orgdoor_store::ApiKeyCredential>, FixedKeyError> {
        let Some(stored) = store.find_api_key(&self.public_key).await? else {
            return Ok(None);
        };
        if bool::from(subtle::ConstantTimeEq::ct_eq(
            &stored.ha1.0[..],
            &self.ha1().0[..],
        )) {
            Ok(Some(stored))
        } else {
            Err(FixedKeyError::Mismatch(self.public_key.to_string()))
        }
    }
}

/// On a store with no organization, creates the first one and its owner key. When several
/// instances start on one empty store, only one of them creates (and prints) it.
pub async fn create_initial_credentials(
    store: &Arc<dyn Store>,
    now: OffsetDateTime,
) -> Result<Option<(Organization, MintedKey)>, StoreError> {
    let name = OrgName::parse("orgdoor").map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let (organization, minted, ha1) = owned_organization(name, now);
    let created = store
        .create_first_organization(&organization, &[(minted.key.clone(), ha1)])
        .await?;
    Ok(created.then_some((organization, minted)))
}
