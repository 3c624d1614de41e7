//! Requests no operation takes still get Atlas error bodies.

use reqwest::Method;

use crate::harness::{V2023, read, spawn_app};
use orgdoor_test_db::Backend;

on_both_stores!(
    unknown_routes_are_atlas_404s,
    unsupported_methods_are_atlas_405s,
    oversized_bodies_are_refused_with_an_atlas_error,
    head_requests_answer_like_get_without_a_body,
);

async fn unknown_routes_are_atlas_404s(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.owner();
    let response = client
        .get("/api/atlas/v2/orgs/0123456789abcdef01234567/nothing-here")
        .await;
    response.assert_error(404, "RESOURCE_NOT_FOUND");
    assert_eq!(
        response.json["detail"],
        "Cannot find resource /api/atlas/v2/orgs/0123456789abcdef01234567/nothing-here."
    );

    let outside = reqwest::get(format!("{}/not-the-api", app.base_url))
        .await
        .unwrap();
    read(&Method::GET, "/not-the-api", outside)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

async fn unsupported_methods_are_atlas_405s(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .owner()
        .send(Method::PUT, &app.invites_path(), Some(V2023), None)
        .await;
    response.assert_error(405, "METHOD_NOT_ALLOWED");
}

async fn oversized_bodies_are_refused_with_an_atlas_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let huge = format!(
        r#"{{"username": "ada@example.com", "roles": ["ORG_MEMBER"], "teamIds": ["{}"]}}"#,
        "a".repeat(3 * 1024 * 1024)
    );
    let response = app
        .owner()
        .send_raw(Method::POST, &app.invites_path(), Some(V2023), Some(&huge))
        .await;
    response.assert_error(413, "PAYLOAD_TOO_LARGE");
}

async fn head_requests_answer_like_get_without_a_body(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let response = app
        .owner()
        .send(Method::HEAD, &app.invites_path(), Some(V2023), None)
        .await;
    assert_eq!(response.status, 200);
    assert!(response.text.is_empty());
    assert_eq!(
        response.header("content-type"),
        Some("application/vnd.atlas.2023-01-01+json;charset=utf-8")
    );
}
