//! Rate limits: token buckets shared by every instance, Atlas's headers and 429 body.

use orgdoor_test_db::Backend;
use serde_json::json;
use time::Duration;

use crate::harness::{DigestClient, DigestStyle, spawn_app, spawn_limited_app};

on_both_stores!(
    a_bucket_empties_across_instances_and_refills_with_time,
    limits_are_off_unless_asked_for,
);

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
