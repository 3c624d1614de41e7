//! What the store's test crates share (`conformance`, `cancellation`, `sealing`): a new store on
//! a backend, and organizations to start from. Each crate includes this file as `support`.

use std::sync::Arc;

use orgdoor_domain::{
    ApiKey, DigestHa1, NewApiKey, NewOrganization, OrgId, OrgName, OrgRole, OrgRoles, Organization,
    PublicKey,
};
use orgdoor_store::Store;
use orgdoor_test_db::{Backend, TestDatabase};
use time::OffsetDateTime;

/// A new, empty store on `backend` and the database it lives in (dropping that removes it).
pub(crate) async fn open(backend: Backend) -> (Arc<dyn Store>, TestDatabase) {
    let database = TestDatabase::new(backend).await;
    (
        orgdoor_store::connect(&database.url, &orgdoor_store::SecretsKey::generate())
            .await
            .unwrap(),
        database,
    )
}

/// An organization named `name`, made at `now` and not stored.
pub(crate) fn new_organization(name: &str, now: OffsetDateTime) -> Organization {
    NewOrganization {
        name: OrgName::parse(name).unwrap(),
        skip_default_alerts_settings: false,
    }
    .into_organization(now)
}

/// An organization named `name`, made at `now` and stored.
pub(crate) async fn organization(
    store: &Arc<dyn Store>,
    name: &str,
    now: OffsetDateTime,
) -> Organization {
    let organization = new_organization(name, now);
    store
        .create_organization(&organization, &[], None)
        .await
        .unwrap();
    organization
}

/// A Member key of `org` with a fresh public key and no roles in projects; tests change
/// what they look at.
pub(crate) fn new_api_key(org: &OrgId) -> NewApiKey {
    NewApiKey {
        org_id: org.clone(),
        public_key: PublicKey::generate(),
        ha1: DigestHa1([7; 16]),
        description: "project key".into(),
        roles: OrgRoles::single(OrgRole::Member),
        project_roles: Vec::new(),
    }
}

/// Makes `new` into a key at `now` and stores it; returns the key and its credential.
pub(crate) async fn store_api_key(
    store: &Arc<dyn Store>,
    new: NewApiKey,
    now: OffsetDateTime,
) -> (ApiKey, DigestHa1) {
    let (key, ha1) = new.into_api_key(now);
    store.create_api_key(&key, &ha1).await.unwrap();
    (key, ha1)
}
