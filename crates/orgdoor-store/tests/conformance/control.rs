//! The control state: a clock offset every instance shares, and a reset that leaves nothing a
//! client made.

use std::sync::Arc;

use orgdoor_store::{ControlState, Store};

use crate::fixtures::{org_key, organization, pending, stored_project, stored_team};

on_every_store!(
    the_clock_offset_is_stored,
    a_reset_deletes_what_clients_made_and_keeps_server_secrets
);

async fn the_clock_offset_is_stored(store: Arc<dyn Store>) {
    assert_eq!(
        store.control_state().await.unwrap(),
        ControlState::default()
    );
    store.set_clock_offset(2_678_400_000).await.unwrap();
    store.set_clock_offset(-1_500).await.unwrap();
    assert_eq!(
        store.control_state().await.unwrap(),
        ControlState {
            clock_offset_ms: -1_500,
            resets: 0
        }
    );
}

async fn a_reset_deletes_what_clients_made_and_keeps_server_secrets(store: Arc<dyn Store>) {
    let secret = store.shared_secret("nonce", &|| vec![4, 2]).await.unwrap();
    let org = organization(&store, "reset-org").await;
    let (key, ha1) = org_key(&org.id, vec![]);
    store.create_api_key(&key, &ha1).await.unwrap();
    stored_team(&store, &org.id, "Team").await;
    stored_project(&store, &org.id, "Project").await;
    pending(&store, &org.id, "someone@example.com").await;
    store.set_clock_offset(60_000).await.unwrap();

    let state = store.reset_everything().await.unwrap();

    assert_eq!(
        state,
        ControlState {
            clock_offset_ms: 0,
            resets: 1
        }
    );
    assert_eq!(store.control_state().await.unwrap(), state);
    assert!(store.get_organization(&org.id).await.unwrap().is_none());
    assert!(store.find_api_key(&key.public_key).await.unwrap().is_none());
    assert_eq!(
        store.shared_secret("nonce", &|| vec![9]).await.unwrap(),
        secret
    );
    // The store takes new data as before.
    let again = organization(&store, "reset-org").await;
    assert_eq!(again.name.as_str(), "reset-org");
    assert_eq!(store.reset_everything().await.unwrap().resets, 2);
}
