//! `GET /api/orgdoor/v1/openapi.yaml`: the vendored Atlas v2 contract, served to anyone.

use orgdoor_test_db::Backend;

use crate::harness::spawn_app;

const VENDORED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/atlas/org-access.v2.openapi.yaml"
);

#[tokio::test]
#[expect(
    clippy::disallowed_methods,
    reason = "a test comparing a response with the file on disk"
)]
async fn serves_the_vendored_atlas_spec_without_authentication() {
    let app = spawn_app(Backend::Sqlite).await;
    let response = reqwest::get(format!("{}/api/orgdoor/v1/openapi.yaml", app.base_url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/yaml",
        "{:?}",
        response.headers()
    );
    let body = response.bytes().await.unwrap();
    let vendored = std::fs::read(VENDORED).unwrap();
    assert!(
        body[..] == vendored[..],
        "the body is the vendored file byte for byte ({} bytes served, {} vendored)",
        body.len(),
        vendored.len()
    );
    let document: serde_yaml::Value = serde_yaml::from_slice(&body).unwrap();
    assert_eq!(document["openapi"].as_str(), Some("3.0.1"));
    assert!(document["paths"]["/api/atlas/v2/orgs/{orgId}/invites"].is_mapping());

    // The rest of orgdoor's own API still asks for credentials.
    let accept = reqwest::Client::new()
        .post(format!(
            "{}/api/orgdoor/v1/orgs/{}/invitations/someone@example.com:accept",
            app.base_url, app.org_id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(accept.status(), 401);
    assert!(accept.headers().contains_key("www-authenticate"));
}
