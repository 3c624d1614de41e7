//! Organization API keys with roles in projects (`/groups/{groupId}/apiKeys`), and those roles
//! enforced: a key that is `GROUP_OWNER` of one project manages that project and nothing else.

use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;
use serde_json::{Value, json};

use crate::harness::{Credentials, spawn_app};

on_both_stores!(
    a_project_key_manages_its_project_and_nothing_else,
    existing_keys_are_given_changed_and_denied_project_roles,
    a_key_that_creates_a_project_owns_it,
    project_keys_refuse_what_atlas_refuses,
);

/// The `(groupId or orgId, roleName)` pairs of a key's `roles`, sorted.
fn role_pairs(key: &Value) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = key["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|role| {
            let scope = role["groupId"]
                .as_str()
                .or_else(|| role["orgId"].as_str())
                .unwrap();
            (
                scope.to_owned(),
                role["roleName"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

async fn a_project_key_manages_its_project_and_nothing_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let payments = app.create_project("Payments").await;
    let ledger = app.create_project("Ledger").await;
    let team = app.create_team("Platform").await;
    let owner = app.owner();
    let created = owner
        .post(
            &format!("/api/atlas/v2/groups/{payments}/apiKeys"),
            &json!({"desc": "payments automation", "roles": ["GROUP_OWNER"]}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert!(
        created.json["privateKey"]
            .as_str()
            .is_some_and(|key| !key.contains('*')),
        "the private key is shown once, on create"
    );
    let mut expected = vec![
        (payments.clone(), "GROUP_OWNER".to_owned()),
        (app.org_id.clone(), "ORG_MEMBER".to_owned()),
    ];
    expected.sort();
    assert_eq!(role_pairs(&created.json), expected);
    let key_id = created.id();
    let project_key = app.client(&Credentials::of_api_key(&created.json));

    // Listed with the project (beside the owner key that created the project, which owns it),
    // and among the organization's keys with its project role.
    let listed_ids = |response: &crate::harness::TestResponse| -> Vec<String> {
        response.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let listed = owner
        .get(&format!("/api/atlas/v2/groups/{payments}/apiKeys"))
        .await;
    assert_eq!(listed.json["totalCount"], 2, "{}", listed.text);
    assert!(listed_ids(&listed).contains(&key_id));
    assert!(
        listed.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|key| key["privateKey"].as_str().unwrap().starts_with("****"))
    );
    let in_org = owner
        .get(&format!("{}/{key_id}", app.api_keys_path()))
        .await;
    assert_eq!(role_pairs(&in_org.json), role_pairs(&created.json));
    let other_project = owner
        .get(&format!("/api/atlas/v2/groups/{ledger}/apiKeys"))
        .await;
    assert!(!listed_ids(&other_project).contains(&key_id));

    // Its project: invitations, teams, users, the project itself.
    let invited = project_key
        .post(
            &format!("/api/atlas/v2/groups/{payments}/invites"),
            &json!({"username": "ada@example.com", "roles": ["GROUP_READ_ONLY"]}),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.text);
    project_key
        .assign_team(&payments, &team, &["GROUP_READ_ONLY"])
        .await;
    let users = project_key
        .get(&format!("/api/atlas/v2/groups/{payments}/users"))
        .await;
    assert_eq!(users.status, 200, "{}", users.text);
    let renamed = project_key
        .patch(
            &format!("/api/atlas/v2/groups/{payments}"),
            &json!({"name": "Payments-2"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let mine = project_key.get("/api/atlas/v2/groups").await;
    assert_eq!(mine.json["totalCount"], 1, "{}", mine.text);
    assert_eq!(mine.json["results"][0]["id"], payments.as_str());

    // Nothing else: another project, the organization's owner operations.
    let ledger_invites = format!("/api/atlas/v2/groups/{ledger}/invites");
    project_key
        .get(&ledger_invites)
        .await
        .assert_error(401, "USER_UNAUTHORIZED");
    for (path, body, code) in [
        (
            ledger_invites.clone(),
            json!({"username": "eve@example.com", "roles": ["GROUP_OWNER"]}),
            "USER_UNAUTHORIZED",
        ),
        (
            app.invites_path(),
            json!({"username": "eve@example.com", "roles": ["ORG_OWNER"]}),
            "NOT_ORG_OWNER",
        ),
        (
            app.api_keys_path(),
            json!({"desc": "escalate", "roles": ["ORG_OWNER"]}),
            "NOT_ORG_OWNER",
        ),
        (
            format!("/api/atlas/v2/groups/{ledger}/apiKeys"),
            json!({"desc": "escalate", "roles": ["GROUP_OWNER"]}),
            "USER_UNAUTHORIZED",
        ),
    ] {
        project_key.post(&path, &body).await.assert_error(401, code);
    }

    // The v1.0 twin lists the same keys.
    let legacy = owner
        .legacy_get(&format!("/api/atlas/v1.0/groups/{payments}/apiKeys"))
        .await;
    assert_eq!(legacy.status, 200, "{}", legacy.text);
    assert!(listed_ids(&legacy).contains(&key_id));

    // Taken off the project, the key loses it at once.
    let removed = owner
        .delete(&format!("/api/atlas/v2/groups/{payments}/apiKeys/{key_id}"))
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    project_key
        .get(&format!("/api/atlas/v2/groups/{payments}/invites"))
        .await
        .assert_error(401, "USER_UNAUTHORIZED");
    assert_eq!(
        project_key.get("/api/atlas/v2/groups").await.json["totalCount"],
        0
    );
}

async fn existing_keys_are_given_changed_and_denied_project_roles(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let member_credentials = app.key_with(&[OrgRole::Member]).await;
    let member = app.client(&member_credentials);
    let owner = app.owner();
    let keys = owner.get(&app.api_keys_path()).await;
    let key_id = keys.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["publicKey"] == member_credentials.public_key.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let invites = format!("/api/atlas/v2/groups/{group}/invites");
    let project = format!("/api/atlas/v2/groups/{group}");
    member
        .get(&project)
        .await
        .assert_error(401, "USER_UNAUTHORIZED");

    // `addGroupApiKey`, with the `userId` a generated client sends back.
    let key_path = format!("/api/atlas/v2/groups/{group}/apiKeys/{key_id}");
    let assigned = owner
        .post(
            &key_path,
            &json!([{"roles": ["GROUP_READ_ONLY"], "userId": key_id}]),
        )
        .await;
    assert_eq!(assigned.status, 204, "{}", assigned.text);
    // Project Read Only: reads the project, but may not invite (Project Owner).
    assert_eq!(member.get(&project).await.status, 200);
    member
        .post(
            &invites,
            &json!({"username": "ada@example.com", "roles": ["GROUP_READ_ONLY"]}),
        )
        .await
        .assert_error(401, "USER_UNAUTHORIZED");

    // `updateApiKeyRoles` replaces the roles (and may change the description).
    let updated = owner
        .patch(
            &key_path,
            &json!({"desc": "now an owner", "roles": ["GROUP_OWNER", "GROUP_DATA_ACCESS_ADMIN"]}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json["desc"], "now an owner");
    let mut expected = vec![
        (group.clone(), "GROUP_DATA_ACCESS_ADMIN".to_owned()),
        (group.clone(), "GROUP_OWNER".to_owned()),
        (app.org_id.clone(), "ORG_MEMBER".to_owned()),
    ];
    expected.sort();
    assert_eq!(role_pairs(&updated.json), expected);
    let invited = member
        .post(
            &invites,
            &json!({"username": "ada@example.com", "roles": ["GROUP_READ_ONLY"]}),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.text);

    // Deleting the project takes the roles with it; the key stays.
    assert_eq!(
        owner
            .delete(&format!(
                "/api/atlas/v2/groups/{group}/invites/{}",
                invited.json["id"].as_str().unwrap()
            ))
            .await
            .status,
        204
    );
    assert_eq!(
        owner
            .delete(&format!("/api/atlas/v2/groups/{group}"))
            .await
            .status,
        204
    );
    let after = owner
        .get(&format!("{}/{key_id}", app.api_keys_path()))
        .await;
    assert_eq!(
        role_pairs(&after.json),
        vec![(app.org_id.clone(), "ORG_MEMBER".to_owned())]
    );
}

async fn a_key_that_creates_a_project_owns_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let creator = app.client_with(&[OrgRole::GroupCreator]).await;
    assert_eq!(
        creator.get("/api/atlas/v2/groups").await.json["totalCount"],
        0
    );
    let created = creator
        .post(
            "/api/atlas/v2/groups",
            &json!({"name": "Mine", "orgId": app.org_id}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let group = created.id();
    let mine = creator.get("/api/atlas/v2/groups").await;
    assert_eq!(mine.json["totalCount"], 1, "{}", mine.text);
    assert_eq!(mine.json["results"][0]["id"], group.as_str());
    let invited = creator
        .post(
            &format!("/api/atlas/v2/groups/{group}/invites"),
            &json!({"username": "ada@example.com", "roles": ["GROUP_OWNER"]}),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.text);
    let keys = app
        .owner()
        .get(&format!("/api/atlas/v2/groups/{group}/apiKeys"))
        .await;
    assert_eq!(keys.json["totalCount"], 1, "only its creator");
    assert!(
        role_pairs(&keys.json["results"][0]).contains(&(group.clone(), "GROUP_OWNER".to_owned()))
    );
}

async fn project_keys_refuse_what_atlas_refuses(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let owner = app.owner();
    let keys = format!("/api/atlas/v2/groups/{group}/apiKeys");
    let cases = [
        (
            json!({"desc": "x", "roles": ["ORG_OWNER"]}),
            400,
            "INVALID_ROLE_FOR_GROUP",
        ),
        (
            json!({"desc": "x", "roles": ["GROUP_KING"]}),
            400,
            "INVALID_ENUM_VALUE",
        ),
        (json!({"desc": "x", "roles": []}), 400, "MISSING_ATTRIBUTE"),
        (json!({"desc": "x"}), 400, "MISSING_ATTRIBUTE"),
        (json!({"roles": ["GROUP_OWNER"]}), 400, "MISSING_ATTRIBUTE"),
        (
            json!({"desc": "", "roles": ["GROUP_OWNER"]}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({"desc": "x", "roles": ["GROUP_OWNER"], "colour": 1}),
            400,
            "INVALID_ATTRIBUTE",
        ),
    ];
    for (body, status, code) in cases {
        let response = owner.post(&keys, &body).await;
        assert_eq!(
            (response.status, response.json["errorCode"].as_str()),
            (status, Some(code)),
            "{body}: {}",
            response.text
        );
    }
    // Only the key that created the project has roles in it: nothing was made.
    assert_eq!(
        owner.get(&keys).await.json["totalCount"],
        1,
        "nothing was made"
    );

    // Keys that are not the organization's, or not keys at all.
    let (other_org, other_owner) = app.other_org().await;
    let other_keys = app
        .client(&other_owner)
        .get(&format!("/api/atlas/v2/orgs/{other_org}/apiKeys"))
        .await;
    let foreign = other_keys.json["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (raw, code) in [
        (foreign.as_str(), "RESOURCE_NOT_FOUND"),
        ("0123456789abcdef01234567", "RESOURCE_NOT_FOUND"),
        ("not-a-key", "RESOURCE_NOT_FOUND"),
    ] {
        owner
            .post(
                &format!("{keys}/{raw}"),
                &json!([{"roles": ["GROUP_OWNER"]}]),
            )
            .await
            .assert_error(404, code);
        owner
            .patch(&format!("{keys}/{raw}"), &json!({"roles": ["GROUP_OWNER"]}))
            .await
            .assert_error(404, code);
        owner
            .delete(&format!("{keys}/{raw}"))
            .await
            .assert_error(404, code);
    }
    // A key without roles in the project is not the project's to describe.
    let outsider = owner
        .post(
            &app.api_keys_path(),
            &json!({"desc": "org only", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    let outsider = outsider.id();
    owner
        .patch(&format!("{keys}/{outsider}"), &json!({"desc": "renamed"}))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    let unchanged = owner
        .get(&format!("{}/{outsider}", app.api_keys_path()))
        .await;
    assert_eq!(unchanged.json["desc"], "org only");
    // Another organization's owner reaches nothing of this project.
    app.client(&other_owner)
        .get(&keys)
        .await
        .assert_error(401, "USER_CANNOT_ACCESS_GROUP");
    app.client(&other_owner)
        .post(&keys, &json!({"desc": "x", "roles": ["GROUP_OWNER"]}))
        .await
        .assert_error(401, "USER_CANNOT_ACCESS_GROUP");
    // A read-only key of the organization reads but does not grant.
    let reader = app.client_with(&[OrgRole::ReadOnly]).await;
    reader
        .assert_reads_but_cannot_create(
            &keys,
            &json!({"desc": "x", "roles": ["GROUP_OWNER"]}),
            "USER_UNAUTHORIZED",
        )
        .await;
}
