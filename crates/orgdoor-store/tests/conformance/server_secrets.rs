//! Server secrets: one value per name, made by whichever instance asks first.

use std::sync::Arc;

use orgdoor_store::Store;

on_every_store!(a_shared_secret_is_created_once);

async fn a_shared_secret_is_created_once(store: Arc<dyn Store>) {
    let first = store
        .shared_secret("nonce", &|| vec![1, 2, 3])
        .await
        .unwrap();
    let second = store
        .shared_secret("nonce", &|| vec![9, 9, 9])
        .await
        .unwrap();
    assert_eq!(first, vec![1, 2, 3]);
    assert_eq!(second, first);
    assert_eq!(
        store.shared_secret("other", &|| vec![7]).await.unwrap(),
        vec![7]
    );
}
