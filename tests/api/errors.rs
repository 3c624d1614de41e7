//! Requests no operation takes still get Atlas error bodies.

use reqwest::Method;

use crate::harness::{V2023, read, spawn_app};
use orgdoor_test_db::Backend;

on_both_stores!(
    unknown_routes_are_atlas_404s,
    unsupported_methods_are_atlas_405s,
    oversized_bodies_are_refused_with_an_atlas_error,
    head_requests_answer_like_get_without_a_body,
    the_api_asks_for_credentials_before_it_says_a_path_or_method_is_unknown,
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

/// Atlas answers an anonymous request under `/api/atlas` with 401 whatever its path or method:
/// what routes exist is not told to a caller who has not authenticated. Outside the API, a
/// missing path is 404 to anyone.
async fn the_api_asks_for_credentials_before_it_says_a_path_or_method_is_unknown(backend: Backend) {
    let app = spawn_app(backend).await;
    let http = reqwest::Client::new();
    let anonymous = [
        (
            Method::GET,
            "/api/atlas/v2/orgs/0123456789abcdef01234567/nothing-here".to_owned(),
        ),
        (Method::GET, "/api/atlas/nothing-here".to_owned()),
        (Method::GET, "/api/atlas".to_owned()),
        (Method::PUT, app.invites_path()),
        (Method::GET, app.invites_path()),
    ];
    for (method, path) in anonymous {
        let response = http
            .request(method.clone(), format!("{}{path}", app.base_url))
            .header("accept", V2023)
            .send()
            .await
            .unwrap();
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{method} {path}"
        );
        // Nor which methods the path takes.
        assert!(!response.headers().contains_key("allow"), "{method} {path}");
        read(&method, &path, response)
            .await
            .assert_error(401, "UNEXPECTED_ERROR");
    }
    let outside = http
        .get(format!("{}/api/atlasx/v2", app.base_url))
        .send()
        .await
        .unwrap();
    read(&Method::GET, "/api/atlasx/v2", outside)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");

    // Authenticated, the same requests are told apart; the unknown path's error is rendered
    // as the query asks, as an operation's would be.
    let client = app.owner();
    let unknown = client
        .get("/api/atlas/v2/orgs/0123456789abcdef01234567/nothing-here?envelope=true")
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    assert_eq!(unknown.json["status"], 404);
    assert_eq!(unknown.json["content"]["errorCode"], "RESOURCE_NOT_FOUND");
    client
        .send(Method::PUT, &app.invites_path(), Some(V2023), None)
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");
}
