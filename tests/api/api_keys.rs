//! Programmatic API keys and their access lists.

use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;
use reqwest::Method;
use serde_json::json;

use crate::harness::{
    Credentials, DigestClient, DigestStyle, TestApp, TestResponse, V2023, eventually, spawn_app,
};

on_both_stores!(
    a_created_key_is_shown_once_and_works_with_its_roles,
    key_changes_and_deletion_reach_every_instance_within_a_poll,
    bad_key_requests_get_atlas_errors,
    an_access_list_limits_where_a_key_may_be_used_from,
);

/// Creates a key as the owner.
async fn create_key(app: &TestApp, desc: &str, roles: &[&str]) -> TestResponse {
    app.owner()
        .post(&app.api_keys_path(), &json!({"desc": desc, "roles": roles}))
        .await
}

async fn a_created_key_is_shown_once_and_works_with_its_roles(backend: Backend) {
    let app = spawn_app(backend).await;
    let keys = app.api_keys_path();
    let created = create_key(&app, "CI pipeline", &["ORG_MEMBER"]).await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.json["desc"], "CI pipeline");
    assert_eq!(
        created.json["roles"],
        json!([{"orgId": app.org_id, "roleName": "ORG_MEMBER"}])
    );
    let private_key = created.json["privateKey"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(private_key).is_ok(), "{private_key}");
    assert_eq!(created.json["publicKey"].as_str().unwrap().len(), 8);

    let key = app.client(&Credentials::of_api_key(&created.json));
    assert_eq!(
        key.get(&format!("/api/atlas/v2/orgs/{}", app.org_id))
            .await
            .status,
        200
    );
    key.get(&app.invites_path())
        .await
        .assert_error(401, "NOT_ORG_OWNER");

    let path = format!("{keys}/{}", created.json["id"].as_str().unwrap());
    let fetched = app.owner().get(&path).await;
    assert_eq!(
        fetched.json["privateKey"],
        "********-****-****-************"
    );
    assert_eq!(fetched.json["publicKey"], created.json["publicKey"]);
    let listed = key.get(&keys).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json["totalCount"], 2);
    assert!(
        listed.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["privateKey"] == "********-****-****-************")
    );
}

async fn key_changes_and_deletion_reach_every_instance_within_a_poll(backend: Backend) {
    let app = spawn_app(backend).await;
    let second = app.spawn_instance().await;
    let keys = app.api_keys_path();
    let created = create_key(&app, "temp", &["ORG_MEMBER"]).await.json;
    let path = format!("{keys}/{}", created["id"].as_str().unwrap());
    let elsewhere = DigestClient::new(
        &second,
        Credentials::of_api_key(&created),
        DigestStyle::ChallengeEveryRequest,
    );
    elsewhere
        .get(&app.invites_path())
        .await
        .assert_error(401, "NOT_ORG_OWNER");

    let updated = app
        .owner()
        .patch(&path, &json!({"desc": "promoted", "roles": ["ORG_OWNER"]}))
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json["desc"], "promoted");
    assert_eq!(updated.json["roles"][0]["roleName"], "ORG_OWNER");
    // The other instance may have held the key as it was for up to a poll.
    eventually("the promotion reaches the other instance", || async {
        elsewhere.get(&app.invites_path()).await.status == 200
    })
    .await;

    assert_eq!(app.owner().delete(&path).await.status, 204);
    eventually("the deletion reaches the other instance", || async {
        elsewhere.get(&app.invites_path()).await.status == 401
    })
    .await;
    let refused = elsewhere.get(&app.invites_path()).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.error_code(), "UNEXPECTED_ERROR");
    app.owner().assert_gone(&path, "RESOURCE_NOT_FOUND").await;
}

async fn bad_key_requests_get_atlas_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let keys = app.api_keys_path();
    let client = app.owner();
    let cases = [
        (json!({"roles": ["ORG_MEMBER"]}), 400, "MISSING_ATTRIBUTE"),
        (json!({"desc": "x"}), 400, "MISSING_ATTRIBUTE"),
        (
            json!({"desc": "", "roles": ["ORG_MEMBER"]}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({"desc": "x".repeat(251), "roles": ["ORG_MEMBER"]}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({"desc": "x", "roles": ["ORG_KING"]}),
            400,
            "INVALID_ENUM_VALUE",
        ),
    ];
    for (body, status, code) in cases {
        client.post(&keys, &body).await.assert_error(status, code);
    }
    assert_eq!(
        client.get(&keys).await.json["totalCount"],
        1,
        "nothing was created"
    );
    client
        .get(&format!("{keys}/0123456789abcdef01234567"))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    client
        .get(&format!("{keys}/not-an-id"))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");

    let member = app.client_with(&[OrgRole::Member]).await;
    member
        .assert_reads_but_cannot_create(
            &keys,
            &json!({"desc": "x", "roles": ["ORG_OWNER"]}),
            "NOT_ORG_OWNER",
        )
        .await;
    let (_, other_owner) = app.other_org().await;
    app.client(&other_owner)
        .get(&keys)
        .await
        .assert_error(401, "USER_CANNOT_ACCESS_ORG");
}

async fn an_access_list_limits_where_a_key_may_be_used_from(backend: Backend) {
    let app = spawn_app(backend).await;
    let keys = app.api_keys_path();
    let created = create_key(&app, "restricted", &["ORG_OWNER"]).await.json;
    let access_list = format!("{keys}/{}/accessList", created["id"].as_str().unwrap());
    let restricted = app.client(&Credentials::of_api_key(&created));
    assert_eq!(
        restricted.get(&app.invites_path()).await.status,
        200,
        "an empty list allows everyone"
    );

    // A bad page query is refused before anything is written, not after.
    app.owner()
        .post(
            &format!("{access_list}?pageNum=x"),
            &json!([{"ipAddress": "10.9.9.9"}]),
        )
        .await
        .assert_error(400, "INVALID_QUERY_PARAMETER");
    assert_eq!(app.owner().get(&access_list).await.json["totalCount"], 0);
    assert_eq!(restricted.get(&app.invites_path()).await.status, 200);

    let added = app
        .owner()
        .post(&access_list, &json!([{"ipAddress": "10.1.2.3"}, {"cidrBlock": "192.0.2.77/24"}, {"ipAddress": "10.1.2.3"}]))
        .await;
    assert_eq!(added.status, 200, "{}", added.text);
    assert_eq!(added.json["totalCount"], 2);
    let blocks = crate::harness::strings(&added.json["results"], "cidrBlock");
    assert!(
        blocks.contains(&"10.1.2.3/32") && blocks.contains(&"192.0.2.0/24"),
        "{blocks:?}"
    );

    // The tests connect from 127.0.0.1, which is not on the list.
    let refused = restricted.get(&app.invites_path()).await;
    refused.assert_error(403, "IP_ADDRESS_NOT_ON_WHITELIST");
    assert_eq!(refused.json["parameters"], json!(["127.0.0.1"]));
    assert!(refused.header("www-authenticate").is_none());
    // Bad credentials still get the plain challenge: the list is no oracle.
    let wrong = Credentials {
        private_key: "wrong".into(),
        ..Credentials::of_api_key(&created)
    };
    assert_eq!(
        app.client(&wrong).get(&app.invites_path()).await.status,
        401
    );

    let entry = format!("{access_list}/192.0.2.0%2F24");
    let fetched = app.owner().get(&entry).await;
    assert_eq!(fetched.status, 200, "{}", fetched.text);
    assert_eq!(fetched.json["cidrBlock"], "192.0.2.0/24");
    let single = app.owner().get(&format!("{access_list}/10.1.2.3")).await;
    assert_eq!(single.json["ipAddress"], "10.1.2.3");

    app.owner()
        .post(&access_list, &json!([{"ipAddress": "127.0.0.1"}]))
        .await;
    assert_eq!(restricted.get(&app.invites_path()).await.status, 200);

    assert_eq!(app.owner().delete(&entry).await.status, 204);
    app.owner().assert_gone(&entry, "RESOURCE_NOT_FOUND").await;
    app.owner()
        .get(&format!("{access_list}/not-an-ip"))
        .await
        .assert_error(400, "INVALID_IP_ADDRESS_OR_CIDR_NOTATION");

    let client = app.owner();
    client
        .post(&access_list, &json!([{"ipAddress": "999.1.1.1"}]))
        .await
        .assert_error(400, "INVALID_IP_ADDRESS_OR_CIDR_NOTATION");
    client
        .post(&access_list, &json!([{}]))
        .await
        .assert_error(400, "MISSING_ATTRIBUTE");
    client
        .post(
            &access_list,
            &json!([{"ipAddress": "10.0.0.1", "cidrBlock": "10.0.0.0/8"}]),
        )
        .await
        .assert_error(400, "VALIDATION_ERROR");
    client
        .post(&access_list, &json!({"ipAddress": "10.0.0.1"}))
        .await
        .assert_error(400, "INVALID_JSON");
    let listed = client
        .send(Method::GET, &access_list, Some(V2023), None)
        .await;
    assert_eq!(listed.json["totalCount"], 2);
}
