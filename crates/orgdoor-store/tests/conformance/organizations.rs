//! Organizations: the first one a new server makes, once however many instances start; renamed
//! and deleted.

use std::sync::Arc;

use orgdoor_domain::{OrgName, PageRequest};
use orgdoor_store::{Rejection, Store};

use crate::fixtures::{
    NOW, new_api_key, new_organization, organization, pending, pending_invitations, rejection,
    stored_api_key, stored_project, stored_team,
};

on_every_store!(
    only_one_of_many_first_starts_creates_an_organization,
    an_organization_is_renamed_and_deleted_once_it_has_no_projects,
);

async fn only_one_of_many_first_starts_creates_an_organization(store: Arc<dyn Store>) {
    let attempts = (0..8).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let organization = new_organization(&format!("first-{n}"));
            store
                .create_first_organization(&organization, &[])
                .await
                .unwrap()
        })
    });
    let mut created = 0;
    for attempt in attempts {
        if attempt.await.unwrap() {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    let later = new_organization("later");
    assert!(!store.create_first_organization(&later, &[]).await.unwrap());
}

/// Renaming keeps everything else; deleting waits for the projects to go and takes the keys,
/// teams and invitations with it; a missing organization is named in the refusal.
async fn an_organization_is_renamed_and_deleted_once_it_has_no_projects(store: Arc<dyn Store>) {
    let org = organization(&store, "Before").await;
    let renamed = store
        .rename_organization(&org.id, &OrgName::parse("After").unwrap())
        .await
        .unwrap();
    assert_eq!(renamed.name.as_str(), "After");
    assert_eq!(renamed.created_at, org.created_at);
    assert_eq!(
        store.get_organization(&org.id).await.unwrap(),
        Some(renamed)
    );

    let project = stored_project(&store, &org.id, "Blocking").await;
    pending(&store, &org.id, "ada@example.com").await;
    stored_team(&store, &org.id, "Team").await;
    let key = stored_api_key(&store, new_api_key(&org.id)).await;
    assert_eq!(
        rejection(store.delete_organization(&org.id).await),
        Rejection::OrganizationHasProjects(org.id.clone())
    );
    assert!(store.get_organization(&org.id).await.unwrap().is_some());
    store.delete_group(&project.id).await.unwrap();
    store.delete_organization(&org.id).await.unwrap();

    assert!(store.get_organization(&org.id).await.unwrap().is_none());
    assert!(pending_invitations(&store, &org.id, NOW).await.is_empty());
    let teams = store
        .list_teams(&org.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(teams.total_count, 0);
    assert!(store.get_api_key(&org.id, &key.id).await.unwrap().is_none());
    let gone = Rejection::OrganizationNotFound(org.id.clone());
    assert_eq!(rejection(store.delete_organization(&org.id).await), gone);
    assert_eq!(
        rejection(
            store
                .rename_organization(&org.id, &OrgName::parse("Again").unwrap())
                .await
        ),
        gone
    );
}
