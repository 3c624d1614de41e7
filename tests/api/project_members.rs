//! Project access: teams and users with roles in a project, and projects by name.

use reqwest::Method;
use serde_json::json;

use crate::harness::spawn_app;
use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;

on_both_stores!(
    teams_get_roles_in_a_project_and_lose_them_with_the_team,
    project_users_are_members_with_a_role_there,
    projects_are_found_by_name_in_the_callers_organization,
    project_access_needs_project_roles,
);

async fn teams_get_roles_in_a_project_and_lose_them_with_the_team(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let platform = app.create_team("Platform").await;
    let data = app.create_team("Data").await;
    let owner = app.owner();
    let teams = format!("/api/atlas/v2/groups/{group}/teams");

    let assigned = owner
        .post(
            &teams,
            &json!([{"teamId": platform, "roleNames": ["GROUP_OWNER"]},
                    {"teamId": data, "roleNames": ["GROUP_READ_ONLY", "GROUP_DATA_ACCESS_READ_ONLY"]}]),
        )
        .await;
    assert_eq!(assigned.status, 200, "{}", assigned.text);
    assert_eq!(assigned.json["totalCount"], 2);
    assert_eq!(assigned.json["results"][0]["teamId"], platform);
    assert_eq!(
        assigned.json["results"][1]["roleNames"],
        json!(["GROUP_READ_ONLY", "GROUP_DATA_ACCESS_READ_ONLY"])
    );
    assert_eq!(
        assigned.json["results"][0]["links"][0]["href"],
        format!("{}{teams}/{platform}", app.base_url)
    );

    let updated = owner
        .patch(
            &format!("{teams}/{platform}"),
            &json!({"roleNames": ["GROUP_CLUSTER_MANAGER"]}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(
        updated.json["results"],
        json!([{"links": updated.json["results"][0]["links"], "roleNames": ["GROUP_CLUSTER_MANAGER"], "teamId": platform}])
    );

    for (body, status, code) in [
        (
            json!([{"teamId": platform, "roleNames": []}]),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!([{"teamId": platform, "roleNames": ["ORG_OWNER"]}]),
            400,
            "INVALID_ROLE_FOR_GROUP",
        ),
        (
            json!([{"roleNames": ["GROUP_OWNER"]}]),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!([{"teamId": "5f0000000000000000000001", "roleNames": ["GROUP_OWNER"]}]),
            404,
            "TEAM_NOT_FOUND",
        ),
        (json!({"teamId": platform}), 400, "INVALID_JSON"),
        (json!([]), 400, "MISSING_ATTRIBUTE"),
    ] {
        owner.post(&teams, &body).await.assert_error(status, code);
    }
    // A team of another organization cannot be given a role here.
    let (other_org, other_owner) = app.other_org().await;
    let foreign = app
        .client(&other_owner)
        .post(
            &format!("/api/atlas/v2/orgs/{other_org}/teams"),
            &json!({"name": "Foreign", "usernames": []}),
        )
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    owner
        .post(
            &teams,
            &json!([{"teamId": foreign, "roleNames": ["GROUP_OWNER"]}]),
        )
        .await
        .assert_error(404, "TEAM_NOT_IN_ORG");
    owner
        .patch(
            &format!("{teams}/{foreign}"),
            &json!({"roleNames": ["GROUP_OWNER"]}),
        )
        .await
        .assert_error(404, "TEAM_NOT_FOUND");

    let removed = owner.delete(&format!("{teams}/{data}")).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    owner
        .delete(&format!("{teams}/{data}"))
        .await
        .assert_error(404, "TEAM_NOT_FOUND");
    // Deleting a team drops its project roles.
    owner
        .delete(&format!(
            "/api/atlas/v2/orgs/{}/teams/{platform}",
            app.org_id
        ))
        .await;
    let listed = owner.get(&teams).await;
    assert_eq!(listed.json["totalCount"], 0);
    assert_eq!(listed.json["results"], json!([]));
}

async fn project_users_are_members_with_a_role_there(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let other_group = app.create_project("Ledger").await;
    let member = app
        .create_user(&json!({"username": "amy@example.com",
                              "roles": {"orgRoles": ["ORG_MEMBER"],
                                        "groupRoleAssignments": [{"groupId": group, "groupRoles": ["GROUP_OWNER"]}]}}))
        .await;
    app.answer(&member, "accept", None).await;
    app.member("bob@example.com", &["ORG_MEMBER"]).await;
    let pending = app
        .create_user(&json!({"username": "cy@example.com",
                              "roles": {"orgRoles": ["ORG_MEMBER"],
                                        "groupRoleAssignments": [{"groupId": group, "groupRoles": ["GROUP_OWNER"]}]}}))
        .await;
    let owner = app.owner();
    let users = format!("/api/atlas/v2/groups/{group}/users");

    let listed = owner.get(&users).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(
        listed.json["totalCount"], 1,
        "members with a role here, not invitees"
    );
    assert_eq!(listed.json["results"][0]["id"], member);
    assert_eq!(
        owner
            .get(&format!("/api/atlas/v2/groups/{other_group}/users"))
            .await
            .json["totalCount"],
        0
    );
    owner
        .delete(&format!("{users}/{pending}"))
        .await
        .assert_error(404, "USER_NOT_IN_GROUP");
    let removed = owner.delete(&format!("{users}/{member}")).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert_eq!(owner.get(&users).await.json["totalCount"], 0);
    // They stay in the organization, without the project role.
    let seen = owner
        .send(
            Method::GET,
            &format!("{}/{member}", app.users_path()),
            Some(crate::harness::V2025),
            None,
        )
        .await;
    assert_eq!(seen.json["orgMembershipStatus"], "ACTIVE");
    assert_eq!(seen.json["roles"]["groupRoleAssignments"], json!([]));
    owner
        .delete(&format!("{users}/nope"))
        .await
        .assert_error(404, "INVALID_USER_ID");
}

async fn projects_are_found_by_name_in_the_callers_organization(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let found = app
        .owner()
        .get("/api/atlas/v2/groups/byName/payments")
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.json["id"], group);
    assert_eq!(found.json["name"], "Payments");
    app.owner()
        .get("/api/atlas/v2/groups/byName/Ledger")
        .await
        .assert_error(404, "GROUP_NAME_NOT_FOUND");
    // Another organization's project of the same name is theirs, not ours.
    let (_, other_owner) = app.other_org().await;
    app.client(&other_owner)
        .get("/api/atlas/v2/groups/byName/Payments")
        .await
        .assert_error(404, "GROUP_NAME_NOT_FOUND");
}

async fn project_access_needs_project_roles(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let team = app.create_team("Platform").await;
    let member_key = app.key_with(&[OrgRole::Member]).await;
    let reader_key = app.key_with(&[OrgRole::ReadOnly]).await;
    let teams = format!("/api/atlas/v2/groups/{group}/teams");
    let body = json!([{"teamId": team, "roleNames": ["GROUP_OWNER"]}]);
    app.client(&member_key)
        .get(&teams)
        .await
        .assert_error(401, "USER_UNAUTHORIZED");
    let read = app.client(&reader_key).get(&teams).await;
    assert_eq!(read.status, 200, "{}", read.text);
    app.client(&reader_key)
        .post(&teams, &body)
        .await
        .assert_error(401, "USER_UNAUTHORIZED");
    let (_, other_owner) = app.other_org().await;
    app.client(&other_owner)
        .get(&format!("/api/atlas/v2/groups/{group}/users"))
        .await
        .assert_error(401, "USER_CANNOT_ACCESS_GROUP");
}
