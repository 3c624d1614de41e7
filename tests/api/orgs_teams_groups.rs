//! What invitations refer to: organizations, teams and projects.

use serde_json::json;

use crate::harness::spawn_app;
use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;

on_both_stores!(
    a_key_lists_reads_and_renames_its_organization,
    organization_roles_govern_organization_operations,
    teams_are_created_listed_renamed_and_deleted,
    teams_are_found_by_name_in_their_own_organization_only,
    a_project_team_is_read_by_its_id,
    projects_are_created_read_updated_and_deleted,
    a_suite_creates_its_own_organization_with_a_key_and_deletes_it,
    organization_creation_and_deletion_refuse_what_atlas_refuses,
);

async fn a_key_lists_reads_and_renames_its_organization(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.owner();
    let listed = client.get("/api/atlas/v2/orgs").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json["totalCount"], 1);
    assert_eq!(listed.json["results"][0]["id"], app.org_id);
    assert_eq!(listed.json["links"][0]["rel"], "self");
    let self_href = listed.json["links"][0]["href"].as_str().unwrap();
    assert!(
        self_href.starts_with(&format!("{}/api/atlas/v2/orgs?", app.base_url)),
        "{self_href}"
    );
    assert!(self_href.contains("pageNum=1"));

    let filtered = client.get("/api/atlas/v2/orgs?name=test").await;
    assert_eq!(filtered.json["totalCount"], 1);
    let other_name = client.get("/api/atlas/v2/orgs?name=zzz").await;
    assert_eq!(other_name.json["results"], json!([]));

    let path = format!("/api/atlas/v2/orgs/{}", app.org_id);
    let fetched = client.get(&path).await;
    assert_eq!(fetched.json["name"], "Test-Org");
    assert_eq!(fetched.json["isDeleted"], false);

    let renamed = client
        .patch(&path, &json!({"name": "Café-1", "id": app.org_id}))
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.json["name"], "Café-1");
    let invitation = app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    assert_eq!(invitation.json["orgName"], "Café-1");

    client
        .patch(&path, &json!({"name": "bad/name"}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    client
        .patch(&path, &json!({}))
        .await
        .assert_error(400, "MISSING_ATTRIBUTE");
    client
        .get("/api/atlas/v2/orgs/0123456789abcdef01234567")
        .await
        .assert_error(404, "ORG_NOT_FOUND");
}

async fn organization_roles_govern_organization_operations(backend: Backend) {
    let app = spawn_app(backend).await;
    let path = format!("/api/atlas/v2/orgs/{}", app.org_id);
    let member = app.client_with(&[OrgRole::Member]).await;
    assert_eq!(member.get(&path).await.status, 200);
    member
        .patch(&path, &json!({"name": "Mine"}))
        .await
        .assert_error(401, "NOT_ORG_OWNER");
    let (other_org, other_owner) = app.other_org().await;
    let other = app.client(&other_owner);
    other
        .get(&path)
        .await
        .assert_error(401, "USER_CANNOT_ACCESS_ORG");
    let their_list = other.get("/api/atlas/v2/orgs").await;
    assert_eq!(their_list.json["results"][0]["id"], other_org);
    assert_eq!(their_list.json["totalCount"], 1);
}

async fn teams_are_created_listed_renamed_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.owner();
    let teams = format!("/api/atlas/v2/orgs/{}/teams", app.org_id);
    let created = client
        .post(&teams, &json!({"name": "Platform", "usernames": []}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.json["usernames"], json!([]));
    let id = created.id();
    client
        .post(&teams, &json!({"name": "platform", "usernames": []}))
        .await
        .assert_error(409, "DUPLICATE_TEAM_NAME");
    client
        .post(&teams, &json!({"name": "Data"}))
        .await
        .assert_error(400, "MISSING_ATTRIBUTE");
    client
        .post(&teams, &json!({"name": "Data", "usernames": ["x"]}))
        .await
        .assert_error(400, "INVALID_EMAIL_ADDRESS");
    client
        .post(
            &teams,
            &json!({"name": "Data", "usernames": ["stranger@example.com"]}),
        )
        .await
        .assert_error(404, "USER_NOT_IN_ORG");

    for name in ["Data", "Security"] {
        assert_eq!(
            client
                .post(&teams, &json!({"name": name, "usernames": []}))
                .await
                .status,
            200
        );
    }
    let page = client
        .get(&format!("{teams}?itemsPerPage=2&pageNum=1"))
        .await;
    assert_eq!(page.json["totalCount"], 3);
    assert_eq!(page.json["results"].as_array().unwrap().len(), 2);
    let rels = crate::harness::strings(&page.json["links"], "rel");
    assert_eq!(rels, ["self", "next"]);
    let last = client
        .get(&format!(
            "{teams}?itemsPerPage=2&pageNum=2&includeCount=false"
        ))
        .await;
    assert!(last.json.get("totalCount").is_none());
    let rels = crate::harness::strings(&last.json["links"], "rel");
    assert_eq!(rels, ["self", "previous"]);
    client
        .get(&format!("{teams}?itemsPerPage=-1"))
        .await
        .assert_error(400, "INVALID_QUERY_PARAMETER");

    let team = format!("{teams}/{id}");
    assert_eq!(client.get(&team).await.json["name"], "Platform");
    let renamed = client.patch(&team, &json!({"name": "Infra"})).await;
    assert_eq!(renamed.json["name"], "Infra");
    assert_eq!(client.delete(&team).await.status, 204);
    client.assert_gone(&team, "TEAM_NOT_FOUND").await;
    client
        .patch(&team, &json!({"name": "Gone"}))
        .await
        .assert_error(404, "TEAM_NOT_FOUND");
    client
        .get(&format!("{teams}/nope"))
        .await
        .assert_error(404, "INVALID_TEAM_ID");

    let member = app.client_with(&[OrgRole::Member]).await;
    member
        .assert_reads_but_cannot_create(
            &teams,
            &json!({"name": "Mine", "usernames": []}),
            "NOT_ORG_OWNER",
        )
        .await;
}

/// Terraform's `mongodbatlas_team` data source reads a team by name: the name compares
/// without regard to letter case, arrives percent-encoded, and finds nothing in another
/// organization.
async fn teams_are_found_by_name_in_their_own_organization_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_team("Platform Team").await;
    let member = app.client_with(&[OrgRole::Member]).await;
    for version in ["v2", "v1.0"] {
        let by_name = |name: &str| {
            format!(
                "/api/atlas/{version}/orgs/{}/teams/byName/{name}",
                app.org_id
            )
        };
        let found = member.get(&by_name("platform%20TEAM")).await;
        assert_eq!(found.status, 200, "{version}: {}", found.text);
        assert_eq!(found.json["id"], id.as_str());
        assert_eq!(found.json["name"], "Platform Team");
        let missing = member.get(&by_name("Platform")).await;
        missing.assert_error(404, "TEAM_NAME_NOT_FOUND");
        assert_eq!(missing.json["parameters"], json!(["Platform"]));
        // Not a name any team can have: still simply not found.
        member
            .get(&by_name("bad%00name"))
            .await
            .assert_error(404, "TEAM_NAME_NOT_FOUND");
    }
    let (other_org, other_owner) = app.other_org().await;
    let other = app.client(&other_owner);
    other
        .get(&format!(
            "/api/atlas/v2/orgs/{other_org}/teams/byName/Platform%20Team"
        ))
        .await
        .assert_error(404, "TEAM_NAME_NOT_FOUND");
    other
        .get(&format!(
            "/api/atlas/v2/orgs/{}/teams/byName/Platform%20Team",
            app.org_id
        ))
        .await
        .assert_error(401, "USER_CANNOT_ACCESS_ORG");
}

async fn projects_are_created_read_updated_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.owner();
    let created = client
        .post("/api/atlas/v2/groups", &json!({"name": "Billing", "orgId": app.org_id, "tags": [{"key": "env", "value": "prod"}]}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.json["clusterCount"], 0);
    assert_eq!(created.json["orgId"], app.org_id);
    assert_eq!(
        created.json["tags"],
        json!([{"key": "env", "value": "prod"}])
    );
    let id = created.id();
    let path = format!("/api/atlas/v2/groups/{id}");

    client
        .post(
            "/api/atlas/v2/groups",
            &json!({"name": "billing", "orgId": app.org_id}),
        )
        .await
        .assert_error(409, "GROUP_ALREADY_EXISTS");
    client
        .post("/api/atlas/v2/groups", &json!({"name": "X"}))
        .await
        .assert_error(400, "MISSING_ATTRIBUTE");
    client
        .post(
            "/api/atlas/v2/groups",
            &json!({"name": "a b", "orgId": app.org_id}),
        )
        .await
        .assert_error(400, "VALIDATION_ERROR");
    client
        .post(
            "/api/atlas/v2/groups",
            &json!({"name": "X", "orgId": "0123456789abcdef01234567"}),
        )
        .await
        .assert_error(404, "ORG_NOT_FOUND");

    assert_eq!(client.get(&path).await.json, created.json);
    let listed = client.get("/api/atlas/v2/groups").await;
    assert_eq!(listed.json["totalCount"], 1);
    let by_org = client
        .get(&format!("/api/atlas/v2/orgs/{}/groups", app.org_id))
        .await;
    assert_eq!(by_org.json["results"][0]["id"], id);

    let updated = client
        .patch(&path, &json!({"name": "Billing-2", "tags": []}))
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json["name"], "Billing-2");
    assert_eq!(updated.json["tags"], json!([]));

    let read_only = app.client_with(&[OrgRole::ReadOnly]).await;
    assert_eq!(read_only.get(&path).await.status, 200);
    read_only
        .patch(&path, &json!({"name": "Mine"}))
        .await
        .assert_error(401, "USER_UNAUTHORIZED");
    let member = app.client_with(&[OrgRole::Member]).await;
    member
        .get(&path)
        .await
        .assert_error(401, "USER_UNAUTHORIZED");
    member
        .post(
            "/api/atlas/v2/groups",
            &json!({"name": "Mine", "orgId": app.org_id}),
        )
        .await
        .assert_error(401, "NOT_ORG_GROUP_CREATOR");
    let creator = app.client_with(&[OrgRole::GroupCreator]).await;
    assert_eq!(
        creator
            .post(
                "/api/atlas/v2/groups",
                &json!({"name": "Theirs", "orgId": app.org_id})
            )
            .await
            .status,
        200
    );
    let (_, other_owner) = app.other_org().await;
    app.client(&other_owner)
        .get(&path)
        .await
        .assert_error(401, "USER_CANNOT_ACCESS_GROUP");
    app.client(&other_owner)
        .delete(&path)
        .await
        .assert_error(401, "USER_CANNOT_ACCESS_GROUP");

    assert_eq!(client.delete(&path).await.status, 204);
    client.get(&path).await.assert_error(404, "GROUP_NOT_FOUND");
    client
        .get("/api/atlas/v2/groups/nope")
        .await
        .assert_error(404, "INVALID_GROUP_ID");
}

async fn a_suite_creates_its_own_organization_with_a_key_and_deletes_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .owner()
        .post(
            "/api/atlas/v2/orgs",
            &json!({
                "name": "Suite-42",
                "orgOwnerId": "0123456789abcdef01234567",
                "apiKey": {"desc": "suite key", "roles": ["ORG_OWNER"]}
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["organization"]["name"], "Suite-42");
    assert_eq!(created.json["orgOwnerId"], "0123456789abcdef01234567");
    assert_eq!(created.json["skipDefaultAlertsSettings"], false);
    let org = created.json["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(org, app.org_id);
    assert_eq!(
        created.json["apiKey"]["roles"],
        json!([{"orgId": org, "roleName": "ORG_OWNER"}])
    );
    let key = crate::harness::Credentials::of_api_key(&created.json["apiKey"]);
    let suite = app.client(&key);
    assert_eq!(
        suite.get(&format!("/api/atlas/v2/orgs/{org}")).await.json["name"],
        "Suite-42"
    );
    let invited = suite
        .post(
            &format!("/api/atlas/v2/orgs/{org}/invites"),
            &json!({"username": "ada@example.com", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    assert_eq!(invited.status, 200);
    // The creating key stays in its own organization.
    app.owner()
        .get(&format!("/api/atlas/v2/orgs/{org}"))
        .await
        .assert_error(401, "USER_CANNOT_ACCESS_ORG");

    let project = suite
        .post("/api/atlas/v2/groups", &json!({"name": "P", "orgId": org}))
        .await
        .id();
    suite
        .delete(&format!("/api/atlas/v2/orgs/{org}"))
        .await
        .assert_error(409, "CANNOT_DELETE_ORG_ACTIVE_GROUPS");
    assert_eq!(
        suite
            .delete(&format!("/api/atlas/v2/groups/{project}"))
            .await
            .status,
        204
    );
    let deleted = suite.delete(&format!("/api/atlas/v2/orgs/{org}")).await;
    assert_eq!(deleted.status, 204);
    // Its keys went with it.
    assert_eq!(
        suite.get(&format!("/api/atlas/v2/orgs/{org}")).await.status,
        401
    );
    app.owner()
        .get(&format!("/api/atlas/v2/orgs/{org}"))
        .await
        .assert_error(404, "ORG_NOT_FOUND");
}

async fn organization_creation_and_deletion_refuse_what_atlas_refuses(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.owner();
    let owner = "0123456789abcdef01234567";
    let cases = [
        (json!({"orgOwnerId": owner}), 400, "MISSING_ATTRIBUTE"),
        (json!({"name": "X"}), 400, "MISSING_ATTRIBUTE"),
        (
            json!({"name": "X", "orgOwnerId": "me"}),
            404,
            "INVALID_USER_ID",
        ),
        (
            json!({"name": "bad/name", "orgOwnerId": owner}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({"name": "X", "orgOwnerId": owner, "apiKey": {"roles": ["ORG_OWNER"]}}),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!({"name": "X", "orgOwnerId": owner, "apiKey": {"desc": "k", "roles": ["GROUP_OWNER"]}}),
            400,
            "INVALID_ROLE_FOR_ORG",
        ),
    ];
    for (body, status, code) in cases {
        client
            .post("/api/atlas/v2/orgs", &body)
            .await
            .assert_error(status, code);
    }
    assert_eq!(client.get("/api/atlas/v2/orgs").await.json["totalCount"], 1);
    let member = app.client_with(&[OrgRole::Member]).await;
    member
        .post(
            "/api/atlas/v2/orgs",
            &json!({"name": "Mine", "orgOwnerId": owner}),
        )
        .await
        .assert_error(401, "NOT_ORG_OWNER");
    member
        .delete(&format!("/api/atlas/v2/orgs/{}", app.org_id))
        .await
        .assert_error(401, "NOT_ORG_OWNER");
    let (other_org, _) = app.other_org().await;
    client
        .delete(&format!("/api/atlas/v2/orgs/{other_org}"))
        .await
        .assert_error(401, "USER_CANNOT_ACCESS_ORG");
    client
        .delete("/api/atlas/v2/orgs/0123456789abcdef01234567")
        .await
        .assert_error(404, "ORG_NOT_FOUND");
}

/// `getGroupTeam`: one team's roles in a project; a team without any there is not found.
async fn a_project_team_is_read_by_its_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let team = app.create_team("Platform").await;
    let elsewhere = app.create_team("Data").await;
    let owner = app.owner();
    owner.assign_team(&group, &team, &["GROUP_READ_ONLY"]).await;
    let reader = app.client_with(&[OrgRole::ReadOnly]).await;
    for version in ["v2", "v1.0"] {
        let one = reader
            .get(&format!("/api/atlas/{version}/groups/{group}/teams/{team}"))
            .await;
        assert_eq!(one.status, 200, "{version}: {}", one.text);
        assert_eq!(one.json["teamId"], team.as_str());
        assert_eq!(one.json["roleNames"], json!(["GROUP_READ_ONLY"]));
    }
    reader
        .get(&format!("/api/atlas/v2/groups/{group}/teams/{elsewhere}"))
        .await
        .assert_error(404, "TEAM_NOT_FOUND");
    reader
        .get(&format!("/api/atlas/v2/groups/{group}/teams/nope"))
        .await
        .assert_error(404, "INVALID_TEAM_ID");
    let (_, other_owner) = app.other_org().await;
    app.client(&other_owner)
        .get(&format!("/api/atlas/v2/groups/{group}/teams/{team}"))
        .await
        .assert_error(401, "USER_CANNOT_ACCESS_GROUP");
}
