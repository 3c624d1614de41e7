//! Projects (groups): paged in creation order, updated in place.

use std::sync::Arc;

use orgdoor_domain::{GroupUpdate, PageRequest, ProjectName};
use orgdoor_store::Store;

use crate::fixtures::{organization, stored_project};

on_every_store!(pages_are_ordered_by_creation_and_counted);

async fn pages_are_ordered_by_creation_and_counted(store: Arc<dyn Store>) {
    let org = organization(&store, "Paged").await;
    let mut made = Vec::new();
    for n in 0..5 {
        made.push(stored_project(&store, &org.id, &format!("p{n}")).await.id);
    }
    let first = store
        .list_groups(&org.id, PageRequest::new(Some(2), Some(1)))
        .await
        .unwrap();
    let third = store
        .list_groups(&org.id, PageRequest::new(Some(2), Some(3)))
        .await
        .unwrap();
    let past = store
        .list_groups(&org.id, PageRequest::new(Some(2), Some(9)))
        .await
        .unwrap();
    assert_eq!(first.total_count, 5);
    assert_eq!(
        first.items.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
        made[..2]
    );
    assert_eq!(
        third.items.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
        made[4..]
    );
    assert!(past.items.is_empty());
    let updated = store
        .update_group(
            &made[0],
            GroupUpdate {
                name: Some(ProjectName::parse("renamed").unwrap()),
                ..GroupUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name.as_str(), "renamed");
    assert_eq!(store.get_group(&made[0]).await.unwrap().unwrap(), updated);
}
