//! Rate limits: token buckets shared by every instance, Atlas's headers and 429 body.

use orgdoor_test_db::Backend;
use serde_json::json;
use time::Duration;

use orgdoor::clock::Clock as _;

use crate::harness::{DigestClient, DigestStyle, spawn_app, spawn_limited_app};

on_both_stores!(
    a_bucket_empties_across_instances_and_refills_with_time,
    limits_are_off_unless_asked_for,
    another_tenant_cannot_drain_an_organizations_bucket,
    junk_ids_create_no_buckets_and_idle_buckets_are_deleted,
);

/// How many rate-limit buckets the store holds, read straight from the database.
async fn bucket_count(app: &crate::harness::TestApp) -> i64 {
    let counted = app
        .stored_column("SELECT COUNT(*) FROM rate_limit_buckets")
        .await;
    counted[0]
}

/// Organization A's key hammering organization B's paths is refused every time, and is
/// charged to A's own bucket: B's owner is never rate-limited by it.
async fn another_tenant_cannot_drain_an_organizations_bucket(backend: Backend) {
    let app = spawn_limited_app(backend, 5).await;
    let (other_org, other_owner) = app.other_org().await;
    let intruder = app.client(&other_owner);
    for _ in 0..8 {
        let refused = intruder.get(&app.invites_path()).await;
        assert!(
            matches!(refused.status, 401 | 403 | 429),
            "{}",
            refused.text
        );
    }
    let owner = app.owner().get(&app.invites_path()).await;
    assert_eq!(owner.status, 200, "{}", owner.text);
    assert_eq!(owner.header("ratelimit-remaining"), Some("4"));
    // The intruder paid from its own organization's bucket.
    intruder
        .get(&format!("/api/atlas/v2/orgs/{other_org}/invites"))
        .await
        .assert_error(429, "RATE_LIMITED_TOKEN_BUCKET");
}

/// Requests naming malformed ids are charged to the caller and make no bucket of their own,
/// and buckets left idle long enough to be full again are deleted by the sweep.
async fn junk_ids_create_no_buckets_and_idle_buckets_are_deleted(backend: Backend) {
    let app = spawn_limited_app(backend, 1000).await;
    let owner = app.owner();
    owner.get(&app.invites_path()).await;
    let before = bucket_count(&app).await;
    assert!(before >= 1);
    for n in 0..30 {
        let junk = format!("{}{n}", "x".repeat(3000));
        let answer = owner
            .get(&format!("/api/atlas/v2/orgs/{junk}/invites"))
            .await;
        assert!(
            answer.status >= 400 && answer.status < 500,
            "{}",
            answer.text
        );
        let answer = owner.get(&format!("/api/atlas/v2/groups/{junk}")).await;
        assert!(
            answer.status >= 400 && answer.status < 500,
            "{}",
            answer.text
        );
    }
    let after = bucket_count(&app).await;
    assert!(after <= before + 1, "{before} buckets became {after}");
    // Idle past refilling, every bucket goes; taken from just now, none does.
    assert_eq!(
        app.store
            .delete_idle_rate_limit_buckets(app.clock.now())
            .await
            .unwrap(),
        0
    );
    app.clock.advance(Duration::minutes(5));
    let deleted = app
        .store
        .delete_idle_rate_limit_buckets(app.clock.now())
        .await
        .unwrap();
    assert_eq!(i64::try_from(deleted).unwrap(), after);
    assert_eq!(bucket_count(&app).await, 0);
}

async fn a_bucket_empties_across_instances_and_refills_with_time(backend: Backend) {
    let app = spawn_limited_app(backend, 3).await;
    let second = app.spawn_instance().await;
    let here = app.owner();
    let there = DigestClient::new(
        &second,
        app.owner.clone(),
        DigestStyle::ChallengeEveryRequest,
    );
    let path = app.invites_path();

    let first = here.get(&path).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("ratelimit-limit"), Some("3"));
    assert_eq!(first.header("ratelimit-remaining"), Some("2"));
    assert_eq!(
        there.get(&path).await.header("ratelimit-remaining"),
        Some("1")
    );
    assert_eq!(
        here.get(&path).await.header("ratelimit-remaining"),
        Some("0")
    );

    let refused = there.get(&path).await;
    refused.assert_error(429, "RATE_LIMITED_TOKEN_BUCKET");
    let retry_after: i64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    assert_eq!(
        refused.json["parameters"],
        json!(["api/atlas/v2/orgs", retry_after, 3, 3, 60])
    );
    assert!(
        refused.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("Rate limit exceeded for api/atlas/v2/orgs.")
    );
    // The organization's bucket is shared by all its invitation and organization operations...
    here.get(&format!("/api/atlas/v2/orgs/{}", app.org_id))
        .await
        .assert_error(429, "RATE_LIMITED_TOKEN_BUCKET");
    // ...but another endpoint set has its own.
    assert_eq!(
        here.get(&format!("/api/atlas/v2/orgs/{}/teams", app.org_id))
            .await
            .status,
        200
    );
    // And another organization is not held back.
    let (other_org, other_owner) = app.other_org().await;
    assert_eq!(
        app.client(&other_owner)
            .get(&format!("/api/atlas/v2/orgs/{other_org}/invites"))
            .await
            .status,
        200
    );

    app.clock.advance(Duration::seconds(retry_after));
    let refilled = here.get(&path).await;
    assert_eq!(refilled.status, 200);
    assert_eq!(refilled.header("ratelimit-remaining"), Some("2"));
}

async fn limits_are_off_unless_asked_for(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.owner().get(&app.invites_path()).await;
    assert_eq!(response.status, 200);
    assert!(response.header("ratelimit-limit").is_none());
}
