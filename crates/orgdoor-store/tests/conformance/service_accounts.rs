//! Service accounts: their secrets, the OAuth access tokens they are issued (capped, revocable,
//! gone with the account) and their access lists.

use std::sync::Arc;

use orgdoor_domain::{
    AccessToken, AllowedNetwork, ClientId, OrgRole, OrgRoles, PageRequest, ServiceAccountSecret,
};
use orgdoor_store::{Credential, Rejection, Store};
use time::Duration;

use crate::fixtures::{NOW, organization, rejection, stored_service_account};

on_every_store!(service_accounts_hold_secrets_tokens_and_access_lists);

/// Whether a token with `digest` authenticates.
async fn token_found(store: &Arc<dyn Store>, digest: &[u8; 32]) -> bool {
    store.find_access_token(digest).await.unwrap().is_some()
}

async fn service_accounts_hold_secrets_tokens_and_access_lists(store: Arc<dyn Store>) {
    let org = organization(&store, "Robots").await;
    let other = organization(&store, "Humans").await;
    let account = stored_service_account(&store, &org.id).await;
    let secret = account.secrets[0].clone();
    assert_eq!(
        store
            .get_service_account(&org.id, &account.client_id)
            .await
            .unwrap()
            .unwrap(),
        account
    );
    assert!(
        store
            .get_service_account(&other.id, &account.client_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .list_service_accounts(&org.id, PageRequest::default())
            .await
            .unwrap()
            .items,
        vec![account.clone()]
    );

    let owner = OrgRoles::single(OrgRole::Owner);
    let updated = store
        .update_service_account(&org.id, &account.client_id, Some("ops"), None, Some(&owner))
        .await
        .unwrap();
    assert_eq!(
        (
            updated.name.as_str(),
            updated.description.as_str(),
            &updated.roles
        ),
        ("ops", "ships things", &owner)
    );

    let (second, _) = ServiceAccountSecret::generate(NOW + Duration::seconds(1), 24);
    store
        .add_service_account_secret(&org.id, &account.client_id, &second)
        .await
        .unwrap();
    assert_eq!(
        rejection(
            store
                .add_service_account_secret(&other.id, &account.client_id, &second)
                .await
        ),
        Rejection::ServiceAccountNotFound(account.client_id.clone())
    );
    store
        .delete_service_account_secret(&org.id, &account.client_id, &secret.id)
        .await
        .unwrap();
    let found = store
        .find_service_account(&account.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.account.secrets, vec![second]);

    // Tokens: a cap on active ones, expired ones do not count, revocation is per account.
    let issue = |at| {
        let (token, _) = AccessToken::generate(account.client_id.clone(), at);
        let store = store.clone();
        async move {
            store.issue_access_token(&token, None, at, 3).await?;
            Ok::<_, orgdoor_store::StoreError>(token)
        }
    };
    for _ in 0..3 {
        issue(NOW).await.unwrap();
    }
    assert_eq!(rejection(issue(NOW).await), Rejection::TooManyTokens);
    let later = NOW + Duration::hours(1);
    let fresh = issue(later).await.unwrap();
    let bearer = store
        .find_access_token(&fresh.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bearer.token, fresh);
    assert_eq!(bearer.credential.account.client_id, account.client_id);
    assert_eq!(
        bearer.organization, org,
        "the account's organization comes along"
    );
    let stranger = ClientId::generate(NOW);
    store
        .revoke_access_token(&stranger, &fresh.digest)
        .await
        .unwrap();
    assert!(
        token_found(&store, &fresh.digest).await,
        "only the owner revokes"
    );
    store
        .revoke_access_token(&account.client_id, &fresh.digest)
        .await
        .unwrap();
    assert!(!token_found(&store, &fresh.digest).await);

    let credential = Credential::ServiceAccount(account.client_id.clone());
    let network = AllowedNetwork::from_address("198.51.100.7").unwrap();
    store
        .add_to_access_list(&org.id, &credential, &[network], NOW)
        .await
        .unwrap();
    assert_eq!(
        rejection(
            store
                .add_to_access_list(&other.id, &credential, &[network], NOW)
                .await
        ),
        Rejection::ServiceAccountNotFound(account.client_id.clone())
    );
    assert_eq!(
        store
            .find_service_account(&account.client_id)
            .await
            .unwrap()
            .unwrap()
            .access_list,
        vec![network]
    );

    let kept = issue(later).await.unwrap();
    store
        .delete_service_account(&org.id, &account.client_id)
        .await
        .unwrap();
    assert!(
        !token_found(&store, &kept.digest).await,
        "tokens go with the account"
    );
    assert!(
        store
            .find_service_account(&account.client_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        rejection(
            store
                .delete_service_account(&org.id, &account.client_id)
                .await
        ),
        Rejection::ServiceAccountNotFound(account.client_id.clone())
    );
}
