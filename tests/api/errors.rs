//! Requests no operation takes still get Atlas error bodies.

use reqwest::Method;

use crate::harness::{V2023, read, spawn_app};

#[tokio::test]
async fn unknown_routes_are_atlas_404s() {
    let app = spawn_app().await;
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

#[tokio::test]
async fn unsupported_methods_are_atlas_405s() {
    let app = spawn_app().await;
    let response = app
        .owner()
        .send(Method::PUT, &app.invites_path(), Some(V2023), None)
        .await;
    response.assert_error(405, "METHOD_NOT_ALLOWED");
}
