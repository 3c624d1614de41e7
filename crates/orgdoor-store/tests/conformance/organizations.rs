//! Organizations: the first one a new server makes, once however many instances start.

use std::sync::Arc;

use orgdoor_store::Store;

use crate::fixtures::new_organization;

on_every_store!(only_one_of_many_first_starts_creates_an_organization);

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
