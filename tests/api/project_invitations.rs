//! The six project invitation operations, in v2 and v1.0.

use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;
use reqwest::Method;
use serde_json::json;
use time::Duration;

use crate::harness::{TestApp, assert_invitation_expired, bad_project_invitee_bodies, spawn_app};

on_both_stores!(
    project_invitations_are_created_read_updated_and_cancelled,
    a_project_invitation_expires_and_can_be_renewed,
    bad_project_invitations_get_atlas_errors,
    only_project_owners_may_touch_project_invitations,
    the_legacy_v1_api_serves_the_same_project_invitations,
);

async fn project(app: &TestApp) -> (String, String) {
    let id = app.create_project("Billing").await;
    (id.clone(), format!("/api/atlas/v2/groups/{id}/invites"))
}

async fn project_invitations_are_created_read_updated_and_cancelled(backend: Backend) {
    let app = spawn_app(backend).await;
    let (group, invites) = project(&app).await;
    let client = app.owner();
    let created = client
        .post(
            &invites,
            &json!({"username": "ada@example.com", "roles": ["GROUP_READ_ONLY"]}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.json["groupId"], group);
    assert_eq!(created.json["groupName"], "Billing");
    assert_eq!(created.json["roles"], json!(["GROUP_READ_ONLY"]));
    assert_eq!(created.json["inviterUsername"], app.owner.public_key);
    assert_eq!(created.json["expiresAt"], "2026-09-09T03:03:37Z");
    assert_eq!(
        created.header("deprecation"),
        Some("Wed, 19 Feb 2025 00:00:00 GMT")
    );
    client
        .post(
            &invites,
            &json!({"username": "bob@example.com", "roles": ["GROUP_OWNER"]}),
        )
        .await;

    let listed = client.get(&invites).await;
    assert_eq!(listed.json.as_array().unwrap().len(), 2);
    let filtered = client
        .get(&format!("{invites}?username=BOB@example.com"))
        .await;
    assert_eq!(filtered.json[0]["username"], "bob@example.com");

    let item = format!("{invites}/{}", created.json["id"].as_str().unwrap());
    assert_eq!(client.get(&item).await.json, created.json);
    let updated = client
        .patch(&item, &json!({"roles": ["GROUP_OWNER", "GROUP_OWNER"]}))
        .await;
    assert_eq!(updated.json["roles"], json!(["GROUP_OWNER"]));
    assert_eq!(updated.json["createdAt"], created.json["createdAt"]);
    let by_name = client
        .patch(
            &invites,
            &json!({"username": "ada@example.com", "roles": ["GROUP_CLUSTER_MANAGER"]}),
        )
        .await;
    assert_eq!(by_name.json["id"], created.json["id"]);
    assert_eq!(by_name.json["roles"], json!(["GROUP_CLUSTER_MANAGER"]));

    let deleted = client.delete(&item).await;
    assert_eq!(deleted.status, 204);
    client.assert_gone(&item, "RESOURCE_NOT_FOUND").await;
    client
        .patch(&item, &json!({"roles": ["GROUP_OWNER"]}))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");

    // Deleting the project takes its invitations with it.
    assert_eq!(
        client
            .delete(&format!("/api/atlas/v2/groups/{group}"))
            .await
            .status,
        204
    );
    client
        .get(&invites)
        .await
        .assert_error(404, "GROUP_NOT_FOUND");
}

async fn a_project_invitation_expires_and_can_be_renewed(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, invites) = project(&app).await;
    let client = app.owner();
    let first = client
        .post(
            &invites,
            &json!({"username": "ada@example.com", "roles": ["GROUP_READ_ONLY"]}),
        )
        .await
        .json;
    app.clock.advance(Duration::days(1));
    let renewed = client
        .post(
            &invites,
            &json!({"username": "ada@example.com", "roles": ["GROUP_OWNER"]}),
        )
        .await;
    assert_eq!(renewed.status, 200);
    assert_eq!(renewed.json["id"], first["id"]);
    assert_eq!(renewed.json["roles"], json!(["GROUP_OWNER"]));
    assert_eq!(renewed.json["createdAt"], "2026-08-11T03:03:37Z");

    app.clock.advance(Duration::days(30));
    let item = format!("{invites}/{}", first["id"].as_str().unwrap());
    let update = json!({"roles": ["GROUP_OWNER"]});
    assert_invitation_expired(&client, &invites, &item, &update).await;
    client
        .delete(&item)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    let replaced = client
        .post(
            &invites,
            &json!({"username": "ada@example.com", "roles": ["GROUP_OWNER"]}),
        )
        .await;
    assert_ne!(replaced.json["id"], first["id"]);
}

async fn bad_project_invitations_get_atlas_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, invites) = project(&app).await;
    let client = app.owner();
    for (body, code) in bad_project_invitee_bodies() {
        client.post(&invites, &body).await.assert_error(400, code);
    }
    assert_eq!(client.get(&invites).await.json, json!([]));
    client
        .get("/api/atlas/v2/groups/0123456789abcdef01234567/invites")
        .await
        .assert_error(404, "GROUP_NOT_FOUND");
    client
        .get("/api/atlas/v2/groups/nope/invites")
        .await
        .assert_error(404, "INVALID_GROUP_ID");
    client
        .get(&format!("{invites}/nope"))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

async fn only_project_owners_may_touch_project_invitations(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, invites) = project(&app).await;
    let created = app
        .owner()
        .post(
            &invites,
            &json!({"username": "ada@example.com", "roles": ["GROUP_OWNER"]}),
        )
        .await
        .json;
    let item = format!("{invites}/{}", created["id"].as_str().unwrap());
    let (_, other_owner) = app.other_org().await;
    let callers = [
        (app.key_with(&[OrgRole::Member]).await, "USER_UNAUTHORIZED"),
        (
            app.key_with(&[OrgRole::ReadOnly]).await,
            "USER_UNAUTHORIZED",
        ),
        (other_owner, "USER_CANNOT_ACCESS_GROUP"),
    ];
    for (credentials, code) in callers {
        let client = app.client(&credentials);
        client.get(&invites).await.assert_error(401, code);
        client
            .post(
                &invites,
                &json!({"username": "x@example.com", "roles": ["GROUP_OWNER"]}),
            )
            .await
            .assert_error(401, code);
        client.get(&item).await.assert_error(401, code);
        client
            .patch(&item, &json!({"roles": ["GROUP_READ_ONLY"]}))
            .await
            .assert_error(401, code);
        client.delete(&item).await.assert_error(401, code);
    }
    assert_eq!(app.owner().get(&invites).await.json, json!([created]));
}

async fn the_legacy_v1_api_serves_the_same_project_invitations(backend: Backend) {
    let app = spawn_app(backend).await;
    let (group, invites) = project(&app).await;
    let legacy = format!("/api/atlas/v1.0/groups/{group}/invites");
    let client = app.owner();
    let created = client
        .legacy_post(
            &legacy,
            json!({"username": "ada@example.com", "roles": ["GROUP_OWNER"]}),
        )
        .await;
    created.assert_legacy(200);
    assert_eq!(
        client.get(&invites).await.json,
        json!([created.json.clone()])
    );
    let item = format!("{legacy}/{}", created.json["id"].as_str().unwrap());
    let patched = client
        .send(
            Method::PATCH,
            &item,
            Some("*/*"),
            Some(&json!({"roles": ["GROUP_READ_ONLY"]})),
        )
        .await;
    assert_eq!(patched.json["roles"], json!(["GROUP_READ_ONLY"]));
    assert_eq!(client.legacy_delete(&item).await.status, 204);
    assert_eq!(
        client.send(Method::GET, &legacy, None, None).await.json,
        json!([])
    );
}
