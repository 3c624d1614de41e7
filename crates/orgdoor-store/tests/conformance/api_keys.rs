//! Programmatic API keys: found by public key for authentication, managed within their
//! organization, with an access list and roles in the organization's projects.

use std::sync::Arc;

use orgdoor_domain::{
    AllowedNetwork, ApiKey, ApiKeyId, DigestHa1, GroupId, GroupRole, GroupRoles, NewApiKey, OrgId,
    OrgRole, OrgRoles, PageRequest, ProjectGrant, PublicKey,
};
use orgdoor_store::{Credential, Rejection, Store, StoreError};

use crate::fixtures::{
    NOW, new_api_key, new_project, org_key, organization, rejection, stored_api_key, stored_project,
};

on_every_store!(
    api_keys_are_found_by_public_key_with_their_credential,
    api_keys_are_managed_within_their_organization,
    api_keys_hold_roles_in_projects_of_their_organization,
);

/// The key `id` of `org`, which must be there.
async fn read_key(store: &Arc<dyn Store>, org: &OrgId, id: &ApiKeyId) -> ApiKey {
    store.get_api_key(org, id).await.unwrap().unwrap()
}

async fn api_keys_are_found_by_public_key_with_their_credential(store: Arc<dyn Store>) {
    let org = organization(&store, "Keys").await;
    let public_key = PublicKey::generate();
    let (key, ha1): (ApiKey, DigestHa1) = NewApiKey {
        public_key: public_key.clone(),
        ha1: DigestHa1([42; 16]),
        description: "ci".into(),
        roles: OrgRoles::new([OrgRole::Member, OrgRole::ReadOnly]).unwrap(),
        ..new_api_key(&org.id)
    }
    .into_api_key(NOW);
    store.create_api_key(&key, &ha1).await.unwrap();
    let found = store.find_api_key(&public_key).await.unwrap().unwrap();
    assert_eq!(found.key, key);
    assert_eq!(found.ha1, ha1);
    assert!(found.access_list.is_empty());
    assert_eq!(
        found.organization, org,
        "the key's organization comes along"
    );
    assert!(
        store
            .find_api_key(&PublicKey::generate())
            .await
            .unwrap()
            .is_none()
    );

    let (orphan, orphan_ha1) = NewApiKey {
        ha1: DigestHa1([0; 16]),
        description: String::new(),
        roles: OrgRoles::single(OrgRole::Owner),
        ..new_api_key(&OrgId::generate(NOW))
    }
    .into_api_key(NOW);
    assert_eq!(
        rejection(store.create_api_key(&orphan, &orphan_ha1).await),
        Rejection::OrganizationNotFound(orphan.org_id.clone())
    );
}

async fn api_keys_are_managed_within_their_organization(store: Arc<dyn Store>) {
    let org = organization(&store, "Managed").await;
    let other = organization(&store, "Elsewhere").await;
    let mut made = Vec::new();
    for n in 0..3 {
        let new = NewApiKey {
            ha1: DigestHa1([n; 16]),
            description: format!("key {n}"),
            ..new_api_key(&org.id)
        };
        made.push(stored_api_key(&store, new).await);
    }
    let page = store
        .list_api_keys(&org.id, PageRequest::new(Some(2), Some(1)))
        .await
        .unwrap();
    assert_eq!(page.total_count, 3);
    assert_eq!(page.items, made[..2]);
    assert!(
        store
            .get_api_key(&other.id, &made[0].id)
            .await
            .unwrap()
            .is_none()
    );

    let owner = OrgRoles::single(OrgRole::Owner);
    let updated = store
        .update_api_key(&org.id, &made[0].id, Some("renamed"), Some(&owner))
        .await
        .unwrap();
    assert_eq!(
        (updated.description.as_str(), &updated.roles),
        ("renamed", &owner)
    );
    assert_eq!(read_key(&store, &org.id, &made[0].id).await, updated);
    assert_eq!(
        rejection(
            store
                .update_api_key(&other.id, &made[0].id, Some("theirs"), None)
                .await
        ),
        Rejection::ApiKeyNotFound(made[0].id.clone())
    );

    let home: AllowedNetwork = "192.0.2.0/24".parse().unwrap();
    let office = AllowedNetwork::from_address("203.0.113.9").unwrap();
    let listed_key = Credential::ApiKey(made[1].id.clone());
    store
        .add_to_access_list(&org.id, &listed_key, &[home, office, home], NOW)
        .await
        .unwrap();
    let list = store
        .list_access_list(&org.id, &listed_key, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(list.total_count, 2);
    let credential = store
        .find_api_key(&made[1].public_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(credential.access_list.len(), 2);
    assert!(credential.access_list.contains(&office));
    // The entry is read through the key's organization only.
    for (through, found) in [(&org.id, true), (&other.id, false)] {
        let entry = store
            .get_access_list_entry(through, &listed_key, &home)
            .await
            .unwrap();
        assert_eq!(entry.is_some(), found);
    }
    // Another organization cannot remove the entry; its own can, once.
    for (org, removed) in [(&other.id, false), (&org.id, true), (&org.id, false)] {
        let removal = store.remove_from_access_list(org, &listed_key, &home).await;
        if removed {
            removal.unwrap();
        } else {
            assert_eq!(rejection(removal), Rejection::NetworkNotListed(home));
        }
    }

    store.delete_api_key(&org.id, &made[1].id).await.unwrap();
    assert!(
        store
            .find_api_key(&made[1].public_key)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        rejection(store.delete_api_key(&org.id, &made[1].id).await),
        Rejection::ApiKeyNotFound(made[1].id.clone())
    );
    assert_eq!(
        rejection(
            store
                .list_access_list(&org.id, &listed_key, PageRequest::default())
                .await
        ),
        Rejection::ApiKeyNotFound(made[1].id.clone())
    );
}

/// Keys given roles in projects: stored with the key or granted later, read back with every
/// read of the key (authentication included), listed per project, replaced, revoked, and
/// dropped with the project; a key of another organization cannot be given any.
async fn api_keys_hold_roles_in_projects_of_their_organization(store: Arc<dyn Store>) {
    let org = organization(&store, "Grants").await;
    let payments = stored_project(&store, &org.id, "Payments").await;
    let ledger = stored_project(&store, &org.id, "Ledger").await;
    let owner_of_payments = ProjectGrant {
        group_id: payments.id.clone(),
        roles: GroupRoles::single(GroupRole::Owner),
    };
    let (made_for_project, ha1) = org_key(&org.id, vec![owner_of_payments.clone()]);
    store.create_api_key(&made_for_project, &ha1).await.unwrap();
    let (plain, ha1) = org_key(&org.id, vec![]);
    store.create_api_key(&plain, &ha1).await.unwrap();

    let found = store
        .find_api_key(&made_for_project.public_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.key.project_roles, vec![owner_of_payments.clone()]);
    let readers = GroupRoles::new([GroupRole::ReadOnly, GroupRole::DataAccessReadOnly]).unwrap();
    let granted = store
        .grant_api_key_project_roles(&ledger.id, &plain.id, &readers, None, NOW)
        .await
        .unwrap();
    assert_eq!(
        granted.project_roles,
        vec![ProjectGrant {
            group_id: ledger.id.clone(),
            roles: readers.clone()
        }]
    );
    // Granting again replaces.
    let owner = GroupRoles::single(GroupRole::Owner);
    store
        .grant_api_key_project_roles(&payments.id, &plain.id, &owner, None, NOW)
        .await
        .unwrap();
    let listed = store
        .list_project_api_keys(&payments.id, PageRequest::new(None, None))
        .await
        .unwrap();
    assert_eq!(listed.total_count, 2);
    let ids: Vec<_> = listed.items.iter().map(|key| key.id.clone()).collect();
    assert_eq!(ids, vec![made_for_project.id.clone(), plain.id.clone()]);
    assert_eq!(
        listed.items[1].project_roles.len(),
        2,
        "both of its projects"
    );
    let all = store
        .list_api_keys(&org.id, PageRequest::new(None, None))
        .await
        .unwrap();
    let plain_listed = all.items.iter().find(|key| key.id == plain.id).unwrap();
    assert_eq!(plain_listed.project_roles.len(), 2);

    store
        .revoke_api_key_project_roles(&payments.id, &plain.id)
        .await
        .unwrap();
    assert!(matches!(
        store
            .revoke_api_key_project_roles(&payments.id, &plain.id)
            .await,
        Err(StoreError::Rejected(Rejection::ApiKeyNotFound(id))) if id == plain.id
    ));
    assert_eq!(
        read_key(&store, &org.id, &plain.id).await.project_roles,
        vec![ProjectGrant {
            group_id: ledger.id.clone(),
            roles: readers
        }]
    );

    // Roles and a description change in one step: both, or, when the grant is refused,
    // neither.
    let described = store
        .grant_api_key_project_roles(&payments.id, &plain.id, &owner, Some("payments bot"), NOW)
        .await
        .unwrap();
    assert_eq!(described.description, "payments bot");
    assert_eq!(
        read_key(&store, &org.id, &plain.id).await.description,
        "payments bot"
    );
    let gone = GroupId::generate(NOW);
    assert!(matches!(
        store
            .grant_api_key_project_roles(&gone, &plain.id, &owner, Some("renamed"), NOW)
            .await,
        Err(StoreError::Rejected(Rejection::GroupNotFound(_)))
    ));
    assert_eq!(
        read_key(&store, &org.id, &plain.id).await.description,
        "payments bot"
    );

    // Another organization's key gets nothing here.
    let other = organization(&store, "Elsewhere").await;
    let (stranger, ha1) = org_key(&other.id, vec![]);
    store.create_api_key(&stranger, &ha1).await.unwrap();
    assert!(matches!(
        store
            .grant_api_key_project_roles(&payments.id, &stranger.id, &owner, None, NOW)
            .await,
        Err(StoreError::Rejected(Rejection::ApiKeyNotFound(id))) if id == stranger.id
    ));
    let (smuggled, ha1) = org_key(&other.id, vec![owner_of_payments.clone()]);
    assert!(store.create_api_key(&smuggled, &ha1).await.is_err());
    assert!(
        store
            .find_api_key(&smuggled.public_key)
            .await
            .unwrap()
            .is_none(),
        "nothing half-written"
    );

    // A project made by a key is owned by it, in the same step.
    let made = new_project(&org.id, "Made");
    store.create_group(&made, Some(&plain.id)).await.unwrap();
    let read = read_key(&store, &org.id, &plain.id).await;
    assert!(
        read.project_roles
            .iter()
            .any(|grant| grant.group_id == made.id
                && grant.roles == GroupRoles::single(GroupRole::Owner))
    );

    // Deleting a project takes its grants with it; the keys stay.
    store.delete_group(&payments.id).await.unwrap();
    let read = read_key(&store, &org.id, &made_for_project.id).await;
    assert!(read.project_roles.is_empty());
}
