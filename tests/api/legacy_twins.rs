//! The `/api/atlas/v1.0` twins the public client libraries call: organizations, org users,
//! org projects, projects (by id and name), project teams and project users. Same state and
//! rules as v2, plain `application/json`, the same paginated shape with v1.0 links.

use reqwest::Method;
use serde_json::json;

use crate::harness::spawn_app;
use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;

on_both_stores!(
    v1_reads_see_what_v2_writes,
    v1_writes_are_seen_by_v2,
    v1_follows_the_same_rules,
    v1_teams_work_as_the_legacy_go_client_calls_them,
);

const V1: &str = "/api/atlas/v1.0";

async fn v1_reads_see_what_v2_writes(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let team = app.create_team("Platform").await;
    let member = app
        .create_user(&json!({"username": "amy@example.com",
                              "roles": {"orgRoles": ["ORG_MEMBER"],
                                        "groupRoleAssignments": [{"groupId": group, "groupRoles": ["GROUP_READ_ONLY"]}]}}))
        .await;
    app.answer(&member, "accept", None).await;
    app.create_user(&json!({"username": "bob@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}}))
        .await;
    app.owner()
        .post(
            &format!("/api/atlas/v2/groups/{group}/teams"),
            &json!([{"teamId": team, "roleNames": ["GROUP_OWNER"]}]),
        )
        .await;
    let owner = app.owner();
    let org = &app.org_id;

    let orgs = owner.get(&format!("{V1}/orgs")).await;
    assert_eq!(orgs.status, 200, "{}", orgs.text);
    assert_eq!(orgs.header("content-type"), Some("application/json"));
    assert!(orgs.header("deprecation").is_none());
    assert_eq!(orgs.json["results"][0]["id"], *org);
    assert_eq!(
        orgs.json["links"][0]["href"],
        format!(
            "{}{V1}/orgs?includeCount=true&pageNum=1&itemsPerPage=100",
            app.base_url
        )
    );
    assert_eq!(
        owner.get(&format!("{V1}/orgs/{org}")).await.json["name"],
        "Test-Org"
    );

    let users = owner.get(&format!("{V1}/orgs/{org}/users")).await;
    assert_eq!(users.status, 200, "{}", users.text);
    assert_eq!(users.json["totalCount"], 1, "members only, as in v1.0");
    assert_eq!(users.json["results"][0]["emailAddress"], "amy@example.com");
    assert_eq!(
        users.json["results"][0]["links"][0]["href"],
        format!("{}{V1}/users/{member}", app.base_url)
    );
    // The link leads somewhere, as does the look-up by name.
    let user = owner.get(&format!("{V1}/users/{member}")).await;
    assert_eq!(user.status, 200, "{}", user.text);
    assert_eq!(
        owner
            .get(&format!("{V1}/users/byName/amy@example.com"))
            .await
            .json["id"],
        member
    );

    let projects = owner.get(&format!("{V1}/orgs/{org}/groups")).await;
    assert_eq!(projects.json["results"][0]["id"], group);
    assert_eq!(
        owner.get(&format!("{V1}/groups")).await.json["totalCount"],
        1
    );
    let by_id = owner.get(&format!("{V1}/groups/{group}")).await;
    assert_eq!(by_id.json["name"], "Payments");
    assert_eq!(
        by_id.json["links"][0]["href"],
        format!("{}{V1}/groups/{group}", app.base_url)
    );
    let by_name = owner.get(&format!("{V1}/groups/byName/Payments")).await;
    assert_eq!(by_name.json["id"], group);

    let teams = owner.get(&format!("{V1}/groups/{group}/teams")).await;
    assert_eq!(teams.status, 200, "{}", teams.text);
    assert_eq!(teams.json["results"][0]["teamId"], team);
    let project_users = owner.get(&format!("{V1}/groups/{group}/users")).await;
    assert_eq!(project_users.json["results"][0]["id"], member);
}

async fn v1_writes_are_seen_by_v2(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.owner();
    let created = owner
        .post(
            &format!("{V1}/groups"),
            &json!({"name": "Ledger", "orgId": app.org_id}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let group = created.json["id"].as_str().unwrap().to_owned();
    let team = app.create_team("Platform").await;
    let assigned = owner
        .post(
            &format!("{V1}/groups/{group}/teams"),
            &json!([{"teamId": team, "roleNames": ["GROUP_READ_ONLY"]}]),
        )
        .await;
    assert_eq!(assigned.status, 200, "{}", assigned.text);
    let renamed = owner
        .patch(
            &format!("{V1}/orgs/{}", app.org_id),
            &json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);

    let seen = owner
        .get(&format!("/api/atlas/v2/groups/{group}/teams"))
        .await;
    assert_eq!(
        seen.json["results"][0]["roleNames"],
        json!(["GROUP_READ_ONLY"])
    );
    assert_eq!(
        owner
            .get(&format!("/api/atlas/v2/orgs/{}", app.org_id))
            .await
            .json["name"],
        "Renamed"
    );
    let removed = owner
        .delete(&format!("{V1}/groups/{group}/teams/{team}"))
        .await;
    assert_eq!(removed.status, 204);
    let deleted = owner.delete(&format!("{V1}/groups/{group}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    owner
        .get(&format!("/api/atlas/v2/groups/{group}"))
        .await
        .assert_error(404, "GROUP_NOT_FOUND");
}

async fn v1_follows_the_same_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let member_key = app.key_with(&[OrgRole::Member]).await;
    let member = app.client(&member_key);
    member
        .patch(
            &format!("{V1}/orgs/{}", app.org_id),
            &json!({"name": "Mine"}),
        )
        .await
        .assert_error(401, "NOT_ORG_OWNER");
    member
        .get(&format!("{V1}/groups/{group}/teams"))
        .await
        .assert_error(401, "USER_UNAUTHORIZED");
    app.owner()
        .get(&format!("{V1}/groups/5f0000000000000000000001"))
        .await
        .assert_error(404, "GROUP_NOT_FOUND");
    app.owner()
        .get(&format!("{V1}/orgs/nope/users"))
        .await
        .assert_error(404, "INVALID_ORG_ID");
    // v1.0 has no version negotiation: any Accept is served as JSON.
    let any = app
        .owner()
        .send(
            reqwest::Method::GET,
            &format!("{V1}/orgs/{}/groups", app.org_id),
            Some("application/vnd.atlas.2099-01-01+json"),
            None,
        )
        .await;
    assert_eq!(any.status, 200, "{}", any.text);
    assert_eq!(any.header("content-type"), Some("application/json"));
}

/// `go.mongodb.org/atlas` `TeamsService`: create, list, get, by name, rename, members (added as
/// `[{"id": …}]`, listed, removed) and delete, all under `/api/atlas/v1.0` with plain JSON, and
/// what it does is what v2 sees.
async fn v1_teams_work_as_the_legacy_go_client_calls_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let amy = app
        .create_user(&json!({"username": "amy@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}}))
        .await;
    app.answer(&amy, "accept", None).await;
    let bob = app
        .create_user(&json!({"username": "bob@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}}))
        .await;
    app.answer(&bob, "accept", None).await;
    let owner = app.owner();
    let json_call = |method: Method, path: String, body: Option<serde_json::Value>| {
        let owner = &owner;
        async move {
            owner
                .send(method, &path, Some("application/json"), body.as_ref())
                .await
        }
    };
    let teams = format!("{V1}/orgs/{}/teams", app.org_id);
    let created = json_call(
        Method::POST,
        teams.clone(),
        Some(json!({"name": "Platform", "usernames": ["amy@example.com"]})),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.header("content-type"), Some("application/json"));
    assert_eq!(created.json["usernames"], json!(["amy@example.com"]));
    let team = created.json["id"].as_str().unwrap().to_owned();

    let listed = json_call(Method::GET, teams.clone(), None).await;
    assert_eq!(listed.json["totalCount"], 1);
    assert_eq!(listed.json["results"][0]["id"], team.as_str());
    assert_eq!(
        listed.json["links"][0]["href"]
            .as_str()
            .unwrap()
            .split('?')
            .next(),
        Some(format!("{}{teams}", app.base_url).as_str())
    );
    let got = json_call(Method::GET, format!("{teams}/{team}"), None).await;
    assert_eq!(got.json["name"], "Platform");
    let by_name = json_call(Method::GET, format!("{teams}/byName/Platform"), None).await;
    assert_eq!(by_name.json["id"], team.as_str());
    let renamed = json_call(
        Method::PATCH,
        format!("{teams}/{team}"),
        Some(json!({"name": "Infra"})),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.json["name"], "Infra");

    let members = format!("{teams}/{team}/users");
    let added = json_call(Method::POST, members.clone(), Some(json!([{"id": bob}]))).await;
    assert_eq!(added.status, 200, "{}", added.text);
    let listed = json_call(Method::GET, members.clone(), None).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let mut addresses: Vec<&str> = listed.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["emailAddress"].as_str().unwrap())
        .collect();
    addresses.sort_unstable();
    assert_eq!(addresses, ["amy@example.com", "bob@example.com"]);
    let removed = json_call(Method::DELETE, format!("{members}/{amy}"), None).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let seen = owner
        .get(&format!(
            "/api/atlas/v2/orgs/{}/teams/{team}/users",
            app.org_id
        ))
        .await;
    assert_eq!(seen.json["totalCount"], 1, "{}", seen.text);
    assert_eq!(seen.json["results"][0]["id"], bob.as_str());

    // Only owners change teams, in v1.0 as in v2.
    let member = app.client(&app.key_with(&[OrgRole::Member]).await);
    member
        .send(
            Method::PATCH,
            &format!("{teams}/{team}"),
            Some("application/json"),
            Some(&json!({"name": "Mine"})),
        )
        .await
        .assert_error(401, "NOT_ORG_OWNER");

    let deleted = json_call(Method::DELETE, format!("{teams}/{team}"), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    json_call(Method::GET, format!("{teams}/{team}"), None)
        .await
        .assert_error(404, "TEAM_NOT_FOUND");
}
