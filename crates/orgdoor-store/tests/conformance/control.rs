//! The control state: a clock offset every instance shares, and a reset that leaves nothing a
//! client made.

use std::sync::Arc;

use orgdoor_domain::{
    AccessToken, AllowedNetwork, GroupRole, GroupRoles, OrgName, OrgRole, OrgRoles,
};
use orgdoor_store::{ControlState, Credential, Store};

use crate::fixtures::{
    NOW, org_key, organization, pending, stored_project, stored_service_account, stored_team,
};

on_every_store!(
    the_clock_offset_is_stored,
    a_reset_deletes_what_clients_made_and_keeps_server_secrets,
    the_credential_generation_moves_with_every_change_to_a_credential,
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

async fn the_credential_generation_moves_with_every_change_to_a_credential(store: Arc<dyn Store>) {
    let org = organization(&store, "generation-org").await;
    let (key, ha1) = org_key(&org.id, vec![]);
    store.create_api_key(&key, &ha1).await.unwrap();
    let before = store.credential_generation().await.unwrap();
    // What cannot change a credential already read leaves it where it is.
    pending(&store, &org.id, "someone@example.com").await;
    stored_team(&store, &org.id, "Team").await;
    let (other_key, other_ha1) = org_key(&org.id, vec![]);
    store.create_api_key(&other_key, &other_ha1).await.unwrap();
    assert_eq!(store.credential_generation().await.unwrap(), before);

    let mut seen = before;
    let mut moved = async |what: &str| {
        let now = store.credential_generation().await.unwrap();
        assert!(
            now > seen,
            "{what} did not move the generation ({seen} -> {now})"
        );
        seen = now;
    };
    let owner = OrgRoles::new([OrgRole::Owner]).unwrap();
    store
        .update_api_key(&org.id, &key.id, None, Some(&owner))
        .await
        .unwrap();
    moved("a role change").await;
    let listed = Credential::ApiKey(key.id.clone());
    let office = AllowedNetwork::from_address("203.0.113.9").unwrap();
    store
        .add_to_access_list(&org.id, &listed, &[office], NOW)
        .await
        .unwrap();
    moved("an access-list entry").await;
    store
        .remove_from_access_list(&org.id, &listed, &office)
        .await
        .unwrap();
    moved("an access-list removal").await;
    store
        .rename_organization(&org.id, &OrgName::parse("renamed-org").unwrap())
        .await
        .unwrap();
    moved("a renamed organization").await;
    store.delete_api_key(&org.id, &key.id).await.unwrap();
    moved("a deleted key").await;

    // Statements that change no row move nothing: a token issued (which sweeps expired
    // tokens, usually none) must not empty every instance's credentials.
    let account = stored_service_account(&store, &org.id).await;
    let quiet = store.credential_generation().await.unwrap();
    let (token, _) = AccessToken::generate(account.client_id.clone(), NOW);
    store
        .issue_access_token(&token, None, NOW, 10)
        .await
        .unwrap();
    let (second_token, _) = AccessToken::generate(account.client_id.clone(), NOW);
    store
        .issue_access_token(&second_token, None, NOW, 10)
        .await
        .unwrap();
    assert!(store.delete_api_key(&org.id, &key.id).await.is_err());
    assert_eq!(store.credential_generation().await.unwrap(), quiet);

    store
        .revoke_access_token(&account.client_id, &token.digest)
        .await
        .unwrap();
    moved("a revoked token").await;
    store
        .update_service_account(&org.id, &account.client_id, None, None, Some(&owner))
        .await
        .unwrap();
    moved("a service account's new roles").await;
    store
        .delete_service_account(&org.id, &account.client_id)
        .await
        .unwrap();
    moved("a deleted service account").await;

    // A project's deletion takes the project roles of keys with it.
    let project = stored_project(&store, &org.id, "Roles").await;
    let (member, member_ha1) = org_key(&org.id, vec![]);
    store.create_api_key(&member, &member_ha1).await.unwrap();
    store
        .grant_api_key_project_roles(
            &project.id,
            &member.id,
            &GroupRoles::single(GroupRole::ReadOnly),
            None,
            NOW,
        )
        .await
        .unwrap();
    moved("a key given a project role").await;
    store.delete_group(&project.id).await.unwrap();
    moved("a deleted project").await;
    store.delete_organization(&org.id).await.unwrap();
    moved("a deleted organization").await;

    store.reset_everything().await.unwrap();
    moved("a reset").await;
}
