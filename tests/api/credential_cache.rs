//! Credentials held in memory: a change made through an instance holds there before it is
//! answered, one made elsewhere reaches every instance within a poll of the store's credential
//! generation, and an instance that cannot read the generation stops trusting what it holds.

use std::time::{Duration, Instant};

use orgdoor::freshness::{AFTER_WRITE_WAIT, FRESH_FOR, Readings};
use orgdoor::security::credential_cache::CredentialCache;
use orgdoor_test_db::Backend;
use reqwest::Method;
use serde_json::json;

use crate::harness::{Credentials, DigestClient, DigestStyle, TestApp, eventually, spawn_app};
use crate::service_accounts::{access_token, account, bearer_get, oauth_post, send_2024};

on_both_stores!(
    held_credentials_are_kept_only_under_the_generation_they_were_read_in,
    a_reading_older_than_a_drop_of_everything_restores_nothing,
    concurrent_writes_share_readings_and_are_never_answered_before_one,
    a_held_credential_gone_stale_is_confirmed_by_a_reading_it_asks_for,
    a_change_to_a_key_holds_on_its_instance_before_it_is_answered,
    a_revoked_token_is_refused_by_its_instance_at_once,
    a_key_deleted_on_one_instance_is_refused_by_another_within_a_poll,
    an_instance_that_cannot_read_the_generation_still_refuses_a_revoked_key,
);

/// An owner key made through the API, and a client for it on `base_url` that reuses nonces
/// as python-requests does.
async fn owner_key_on(app: &TestApp, base_url: &str) -> (String, DigestClient) {
    let created = app
        .owner()
        .post(
            &app.api_keys_path(),
            &json!({"desc": "held", "roles": ["ORG_OWNER"]}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let path = format!(
        "{}/{}",
        app.api_keys_path(),
        created.json["id"].as_str().unwrap()
    );
    let client = DigestClient::new(
        base_url,
        Credentials::of_api_key(&created.json),
        DigestStyle::ReuseNonce,
    );
    (path, client)
}

async fn held_credentials_are_kept_only_under_the_generation_they_were_read_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let public_key = app.owner.public_key.parse().unwrap();
    let read = || async {
        std::sync::Arc::new(app.store.find_api_key(&public_key).await.unwrap().unwrap())
    };
    let cache = CredentialCache::new(1, Default::default());

    // Before the generation is read, nothing is kept or served.
    cache.keep_api_key(cache.lease(), read().await);
    assert!(cache.is_empty());
    let generation = app.store.credential_generation().await.unwrap();
    cache.confirm(generation, Instant::now());
    cache.keep_api_key(cache.lease(), read().await);
    // Confirmed again just before each look: a slow read must not let it go stale.
    cache.confirm(generation, Instant::now());
    assert_eq!(
        cache.api_key(&public_key).await.unwrap().key.public_key,
        public_key
    );

    // A reading that began earlier than the one recorded is old news.
    let recorded = Instant::now();
    cache.confirm(generation, recorded);
    cache.confirm(generation + 7, recorded - Duration::from_millis(5));
    assert!(cache.api_key(&public_key).await.is_some());

    // A read that began before the generation moved is used once, not kept.
    let lease = cache.lease();
    cache.confirm(generation, Instant::now());
    let revoked = app
        .owner()
        .patch(
            &format!(
                "{}/{}",
                app.api_keys_path(),
                cache.api_key(&public_key).await.unwrap().key.id
            ),
            &json!({"roles": ["ORG_OWNER", "ORG_READ_ONLY"]}),
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let moved = app.store.credential_generation().await.unwrap();
    assert!(moved > generation);
    cache.confirm(moved, Instant::now());
    assert!(cache.is_empty(), "a moved generation drops what is held");
    cache.keep_api_key(lease, read().await);
    assert!(cache.is_empty(), "kept under an old lease");

    // Full: nothing more is kept.
    cache.keep_api_key(cache.lease(), read().await);
    assert_eq!(cache.len(), 1);
    let (_, other) = app.other_org().await;
    let other_key = other.public_key.parse().unwrap();
    let other_credential = app.store.find_api_key(&other_key).await.unwrap().unwrap();
    cache.keep_api_key(cache.lease(), std::sync::Arc::new(other_credential));
    assert_eq!(cache.len(), 1);
    assert!(cache.api_key(&other_key).await.is_none());

    // Unconfirmed for longer than FRESH_FOR, what is held is used only once a reading that
    // began after the look confirms it; with no follower, none comes within AFTER_WRITE_WAIT.
    tokio::time::sleep(FRESH_FOR + Duration::from_millis(10)).await;
    assert_eq!(cache.len(), 1);
    let began = Instant::now();
    assert!(cache.api_key(&public_key).await.is_none());
    assert!(began.elapsed() >= AFTER_WRITE_WAIT);
    // It then drops everything, so the next looks go to the store without waiting.
    assert!(cache.is_empty());
    let began = Instant::now();
    assert!(cache.api_key(&public_key).await.is_none());
    assert!(began.elapsed() < AFTER_WRITE_WAIT);
    // A reading that began after the drop is trusted again.
    cache.confirm(moved, Instant::now());
    cache.keep_api_key(cache.lease(), read().await);
    assert!(cache.api_key(&public_key).await.is_some());
    cache.forget_all();
    assert!(cache.is_empty());
    assert!(cache.api_key(&public_key).await.is_none());
}

async fn a_reading_older_than_a_drop_of_everything_restores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let public_key = app.owner.public_key.parse().unwrap();
    let read = || async {
        std::sync::Arc::new(app.store.find_api_key(&public_key).await.unwrap().unwrap())
    };
    let cache = CredentialCache::new(10, Default::default());
    let generation = app.store.credential_generation().await.unwrap();
    cache.confirm(generation, Instant::now());
    let stale_lease = cache.lease();

    // A poll began, a write it may not have seen could not be confirmed, then the poll's
    // answer arrives: it must not bring back the generation a pre-write read was leased under.
    let poll_began = Instant::now();
    cache.forget_all();
    cache.confirm(generation, poll_began);
    cache.keep_api_key(stale_lease, read().await);
    assert!(cache.is_empty(), "kept under a lease from before the drop");
    assert!(cache.api_key(&public_key).await.is_none());

    // A reading that began after the drop is trusted again.
    cache.confirm(generation, Instant::now());
    cache.keep_api_key(cache.lease(), read().await);
    assert!(cache.api_key(&public_key).await.is_some());
}

/// A follower for `cache` that polls once an hour (it reads when `readings_asked` asks) and
/// counts its readings; each is a real reading of the store's generation.
fn spawn_follower(
    app: &TestApp,
    cache: &std::sync::Arc<CredentialCache>,
    readings_asked: &std::sync::Arc<Readings>,
) -> (
    tokio::task::JoinHandle<()>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let readings = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let follower = tokio::spawn({
        let cache = cache.clone();
        let readings_asked = readings_asked.clone();
        let store = app.store.clone();
        let readings = readings.clone();
        async move {
            let mut poll = tokio::time::interval(Duration::from_secs(3600));
            loop {
                let covered = readings_asked.reading_due(&mut poll).await;
                let read_at = Instant::now();
                match store.credential_generation().await {
                    Ok(generation) => cache.confirm(generation, read_at),
                    Err(_) => cache.forget_all(),
                }
                readings.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                readings_asked.reading_done(covered);
            }
        }
    });
    (follower, readings)
}

async fn concurrent_writes_share_readings_and_are_never_answered_before_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let public_key = app.owner.public_key.parse().unwrap();
    let cache = std::sync::Arc::new(CredentialCache::new(10, Default::default()));
    let readings_asked = std::sync::Arc::new(Readings::default());
    let generation = app.store.credential_generation().await.unwrap();
    cache.confirm(generation, Instant::now());
    let credential = app.store.find_api_key(&public_key).await.unwrap().unwrap();
    cache.keep_api_key(cache.lease(), std::sync::Arc::new(credential));

    // With no follower, a write waits AFTER_WRITE_WAIT and is then told it did not settle.
    let began = Instant::now();
    assert!(!readings_asked.await_reading().await);
    assert!(began.elapsed() >= AFTER_WRITE_WAIT);

    // A follower that counts its readings; every reading is a real one from the store.
    let (follower, readings) = spawn_follower(&app, &cache, &readings_asked);
    // The interval's first tick is at once; let it pass.
    eventually("the first poll", || async {
        readings.load(std::sync::atomic::Ordering::Relaxed) > 0
    })
    .await;
    let before = readings.load(std::sync::atomic::Ordering::Relaxed);
    let writes = 64;
    let settled = futures_util::future::join_all((0..writes).map(|_| {
        let readings_asked = readings_asked.clone();
        let readings = readings.clone();
        async move {
            let began = Instant::now();
            let at_start = readings.load(std::sync::atomic::Ordering::Relaxed);
            assert!(readings_asked.await_reading().await);
            // Answered only after a reading that began after it: at least one more finished.
            assert!(readings.load(std::sync::atomic::Ordering::Relaxed) > at_start);
            began.elapsed()
        }
    }))
    .await;
    follower.abort();
    let used = readings.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert!(
        settled.iter().all(|took| *took < AFTER_WRITE_WAIT),
        "{settled:?}"
    );
    assert!(
        (1..writes).contains(&used),
        "{used} readings for {writes} concurrent writes"
    );
}

async fn a_held_credential_gone_stale_is_confirmed_by_a_reading_it_asks_for(backend: Backend) {
    let app = spawn_app(backend).await;
    let public_key = app.owner.public_key.parse().unwrap();
    let readings_asked = std::sync::Arc::new(Readings::default());
    let cache = std::sync::Arc::new(CredentialCache::new(10, readings_asked.clone()));
    // The follower polls once an hour: it reads only when asked, as if every poll were late.
    let (follower, readings) = spawn_follower(&app, &cache, &readings_asked);
    eventually("the first poll", || async {
        readings.load(std::sync::atomic::Ordering::Relaxed) > 0
    })
    .await;
    let credential = app.store.find_api_key(&public_key).await.unwrap().unwrap();
    cache.keep_api_key(cache.lease(), std::sync::Arc::new(credential));

    // Stale: the look asks for a reading, and the reading confirms what is held.
    tokio::time::sleep(FRESH_FOR + Duration::from_millis(10)).await;
    let before = readings.load(std::sync::atomic::Ordering::Relaxed);
    assert!(cache.api_key(&public_key).await.is_some());
    assert!(readings.load(std::sync::atomic::Ordering::Relaxed) > before);

    // Stale again after a change elsewhere: the reading it asks for sees the change.
    tokio::time::sleep(FRESH_FOR + Duration::from_millis(10)).await;
    let id = app
        .store
        .find_api_key(&public_key)
        .await
        .unwrap()
        .unwrap()
        .key
        .id;
    let changed = app
        .owner()
        .patch(
            &format!("{}/{id}", app.api_keys_path()),
            &json!({"desc": "renamed"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert!(cache.api_key(&public_key).await.is_none());
    assert!(cache.is_empty());
    follower.abort();
}

async fn a_change_to_a_key_holds_on_its_instance_before_it_is_answered(backend: Backend) {
    let app = spawn_app(backend).await;
    let (path, key) = owner_key_on(&app, &app.base_url).await;
    let invites = app.invites_path();
    for _ in 0..3 {
        assert_eq!(key.get(&invites).await.status, 200);
    }

    let demoted = app
        .owner()
        .patch(&path, &json!({"roles": ["ORG_READ_ONLY"]}))
        .await;
    assert_eq!(demoted.status, 200, "{}", demoted.text);
    let refused = key
        .post(
            &invites,
            &json!({"username": "held@example.com", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    let org = format!("/api/atlas/v2/orgs/{}", app.org_id);
    assert_eq!(key.get(&org).await.status, 200, "still a reader");

    let access_list = format!("{path}/accessList");
    let listed = app
        .owner()
        .post(&access_list, &json!([{"ipAddress": "10.1.2.3"}]))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    key.get(&org)
        .await
        .assert_error(403, "IP_ADDRESS_NOT_ON_WHITELIST");
    let unlisted = app.owner().delete(&format!("{access_list}/10.1.2.3")).await;
    assert_eq!(unlisted.status, 204, "{}", unlisted.text);
    assert_eq!(key.get(&org).await.status, 200);

    assert_eq!(app.owner().delete(&path).await.status, 204);
    assert_eq!(key.get(&org).await.status, 401);
}

async fn a_revoked_token_is_refused_by_its_instance_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let invites = app.invites_path();
    let (client_id, secret, _) = account(&app, &["ORG_OWNER"]).await;
    let bearer = access_token(&app, &client_id, &secret).await;
    for _ in 0..3 {
        assert_eq!(
            bearer_get(&app.base_url, &invites, &bearer).await.status,
            200
        );
    }
    let revoke = format!("{}/api/oauth/revoke", app.base_url);
    let revoked = oauth_post(&revoke, &client_id, &secret, &[("token", bearer.as_str())]).await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        bearer_get(&app.base_url, &invites, &bearer).await.status,
        401
    );

    let again = access_token(&app, &client_id, &secret).await;
    assert_eq!(
        bearer_get(&app.base_url, &invites, &again).await.status,
        200
    );
    let account_path = format!(
        "/api/atlas/v2/orgs/{}/serviceAccounts/{client_id}",
        app.org_id
    );
    let gone = send_2024(&app.owner(), Method::DELETE, &account_path, None).await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    assert_eq!(
        bearer_get(&app.base_url, &invites, &again).await.status,
        401
    );
}

async fn a_key_deleted_on_one_instance_is_refused_by_another_within_a_poll(backend: Backend) {
    let app = spawn_app(backend).await;
    let second = app.spawn_instance().await;
    let (path, key) = owner_key_on(&app, &second).await;
    let invites = app.invites_path();
    for _ in 0..3 {
        assert_eq!(key.get(&invites).await.status, 200);
    }
    assert_eq!(app.owner().delete(&path).await.status, 204);
    let took = eventually("the other instance refuses the deleted key", || async {
        key.get(&invites).await.status == 401
    })
    .await;
    // The bound is a poll (10 ms) plus a reading; this only catches an instance that never
    // hears, the harness measures the figure.
    assert!(took < Duration::from_secs(1), "{took:?}");
}

async fn an_instance_that_cannot_read_the_generation_still_refuses_a_revoked_key(backend: Backend) {
    let app = spawn_app(backend).await;
    // Polled once at start, then not for an hour: as if its readings were lost.
    let second = app
        .spawn_instance_with(|instance| instance.with_credential_poll(Duration::from_secs(3600)))
        .await;
    let (path, key) = owner_key_on(&app, &second).await;
    let invites = app.invites_path();
    assert_eq!(key.get(&invites).await.status, 200);
    assert_eq!(app.owner().delete(&path).await.status, 204);
    let took = eventually("the deaf instance refuses the deleted key", || async {
        key.get(&invites).await.status == 401
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    // And it still serves the keys that are there.
    assert_eq!(
        DigestClient::new(&second, app.owner.clone(), DigestStyle::ReuseNonce)
            .get(&invites)
            .await
            .status,
        200
    );
}
