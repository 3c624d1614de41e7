//! Project access: teams and users with roles in a project, and projects by name.

use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

use crate::harness::{
    DigestClient, TestApp, TestResponse, V2025, bad_project_invitee_bodies, spawn_app,
};
use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;

on_both_stores!(
    teams_get_roles_in_a_project_and_lose_them_with_the_team,
    project_users_are_members_with_a_role_there,
    projects_are_found_by_name_in_the_callers_organization,
    project_access_needs_project_roles,
    project_users_are_one_state_with_the_invitations,
    adding_someone_to_a_project_depends_on_where_they_stand_in_the_organization,
    pending_users_expire_decline_and_are_invited_again,
    the_deprecated_put_replaces_a_project_users_roles,
    project_user_requests_get_atlas_errors,
    project_users_need_project_roles,
    project_user_lists_reach_through_teams_and_org_roles_when_asked,
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
        .id();
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
        .project_member("amy@example.com", &group, &["GROUP_OWNER"])
        .await;
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

/// `/api/atlas/v2/groups/{group}/users`.
fn users_path(group: &str) -> String {
    format!("/api/atlas/v2/groups/{group}/users")
}

async fn send_2025(
    client: &DigestClient,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> TestResponse {
    client.send(method, path, Some(V2025), body).await
}

async fn get_2025(client: &DigestClient, path: &str) -> TestResponse {
    send_2025(client, Method::GET, path, None).await
}

async fn delete_2025(client: &DigestClient, path: &str) -> TestResponse {
    send_2025(client, Method::DELETE, path, None).await
}

/// A server with a project, Payments, and ada@example.com added to it as its owner (a pending
/// user); returns the project's id, its users path and ada's id.
async fn payments_with_ada(backend: Backend) -> (TestApp, String, String, String) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let users = users_path(&group);
    let ada = add_user(&app.owner(), &users, "ada@example.com", &["GROUP_OWNER"])
        .await
        .id();
    (app, group, users, ada)
}

/// Adds `username` to the project whose users are at `users`, with `roles`, as `client`.
async fn add_user(
    client: &DigestClient,
    users: &str,
    username: &str,
    roles: &[&str],
) -> TestResponse {
    let body = json!({"username": username, "roles": roles});
    send_2025(client, Method::POST, users, Some(&body)).await
}

/// The organization's user `id`, through the 2025 operation, as the owner.
async fn org_user_of(app: &TestApp, id: &str) -> TestResponse {
    let path = format!("{}/{id}", app.users_path());
    send_2025(&app.owner(), Method::GET, &path, None).await
}

/// `POST /groups/{groupId}/access` (2023-02-01 only) for `username` with one project `role`.
async fn grant_access(
    owner: &DigestClient,
    access: &str,
    username: &str,
    role: &str,
) -> TestResponse {
    owner
        .send(
            Method::POST,
            access,
            Some("application/vnd.atlas.2023-02-01+json"),
            Some(&json!({"username": username, "roles": [role]})),
        )
        .await
}

/// `POST {user}:{action}` (`addRole` or `removeRole`) with `{"groupRole": role}`, as `client`.
async fn change_role(client: &DigestClient, user: &str, action: &str, role: &str) -> TestResponse {
    let body = json!({"groupRole": role});
    send_2025(
        client,
        Method::POST,
        &format!("{user}:{action}"),
        Some(&body),
    )
    .await
}

/// What the three views show of a project's users: the 2025 users list (address, status,
/// roles), the project invitations (address, roles) and the organization's invitations
/// (address, org roles, project roles offered in `group`).
async fn views(app: &TestApp, group: &str) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let owner = app.owner();
    let users = get_2025(&owner, &users_path(group)).await;
    assert_eq!(users.status, 200, "{}", users.text);
    assert_eq!(
        users.json["totalCount"],
        users.json["results"].as_array().unwrap().len()
    );
    let users = users.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| json!([user["username"], user["orgMembershipStatus"], user["roles"]]))
        .collect();
    let invites = owner
        .get(&format!("/api/atlas/v2/groups/{group}/invites"))
        .await
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|invite| json!([invite["username"], invite["roles"]]))
        .collect();
    let org_invites = owner
        .get(&app.invites_path())
        .await
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|invite| {
            let roles: Vec<Value> = invite["groupRoleAssignments"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|assignment| assignment["groupId"] == group)
                .map(|assignment| assignment["groupRole"].clone())
                .collect();
            json!([invite["username"], invite["roles"], roles])
        })
        .collect();
    (users, invites, org_invites)
}

async fn project_users_are_one_state_with_the_invitations(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let owner = app.owner();
    let users = users_path(&group);

    // A stranger added to the project is invited into the organization and the project.
    let ada = add_user(&owner, &users, "ada@example.com", &["GROUP_READ_ONLY"]).await;
    assert_eq!(ada.status, 201, "{}", ada.text);
    assert_eq!(
        ada.header("content-type"),
        Some("application/vnd.atlas.2025-02-19+json;charset=utf-8")
    );
    assert_eq!(ada.json["orgMembershipStatus"], "PENDING");
    assert_eq!(ada.json["roles"], json!(["GROUP_READ_ONLY"]));
    assert_eq!(ada.json["username"], "ada@example.com");
    assert_eq!(ada.json["inviterUsername"], app.owner.public_key);
    assert_eq!(ada.json["invitationCreatedAt"], "2026-08-10T03:03:37Z");
    assert_eq!(ada.json["invitationExpiresAt"], "2026-09-09T03:03:37Z");
    let ada_id = ada.id();
    assert_eq!(
        views(&app, &group).await,
        (
            vec![json!(["ada@example.com", "PENDING", ["GROUP_READ_ONLY"]])],
            vec![json!(["ada@example.com", ["GROUP_READ_ONLY"]])],
            vec![json!([
                "ada@example.com",
                ["ORG_MEMBER"],
                ["GROUP_READ_ONLY"]
            ])],
        )
    );
    // The project invitation is the organization's invitation, and the pending org user.
    let project_invite = owner
        .get(&format!("/api/atlas/v2/groups/{group}/invites"))
        .await
        .json[0]
        .clone();
    let org_invite = owner.get(&app.invites_path()).await.json[0].clone();
    assert_eq!(project_invite["id"], org_invite["id"]);
    let org_user = org_user_of(&app, &ada_id).await;
    assert_eq!(org_user.json["orgMembershipStatus"], "PENDING");
    assert_eq!(
        org_user.json["roles"]["groupRoleAssignments"],
        json!([{"groupId": group, "groupRoles": ["GROUP_READ_ONLY"]}])
    );
    add_user(&owner, &users, "ADA@example.com", &["GROUP_OWNER"])
        .await
        .assert_error(409, "USER_ALREADY_EXISTS");

    // An invitation through the deprecated project invitations is a pending user as well.
    let bob_invite = owner
        .post(
            &format!("/api/atlas/v2/groups/{group}/invites"),
            &json!({"username": "bob@example.com", "roles": ["GROUP_OWNER"]}),
        )
        .await;
    assert_eq!(bob_invite.status, 200, "{}", bob_invite.text);
    let (listed, invites, org_invites) = views(&app, &group).await;
    assert_eq!(
        listed,
        vec![
            json!(["ada@example.com", "PENDING", ["GROUP_READ_ONLY"]]),
            json!(["bob@example.com", "PENDING", ["GROUP_OWNER"]]),
        ]
    );
    assert_eq!(invites.len(), 2);
    assert_eq!(
        org_invites[1],
        json!(["bob@example.com", ["ORG_MEMBER"], ["GROUP_OWNER"]])
    );
    let bob_id = get_2025(&owner, &format!("{users}?username=bob@example.com"))
        .await
        .json["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Roles change one at a time; adding a held role or removing one not held changes nothing.
    let ada_path = format!("{users}/{ada_id}");
    for _ in 0..2 {
        let added = change_role(&owner, &ada_path, "addRole", "GROUP_OWNER").await;
        assert_eq!(added.status, 200, "{}", added.text);
        assert_eq!(
            added.json["roles"],
            json!(["GROUP_READ_ONLY", "GROUP_OWNER"])
        );
    }
    let removed = change_role(&owner, &ada_path, "removeRole", "GROUP_READ_ONLY").await;
    assert_eq!(removed.json["roles"], json!(["GROUP_OWNER"]));
    let unchanged = change_role(&owner, &ada_path, "removeRole", "GROUP_BACKUP_MANAGER").await;
    assert_eq!(unchanged.json["roles"], json!(["GROUP_OWNER"]));
    change_role(&owner, &ada_path, "removeRole", "GROUP_OWNER")
        .await
        .assert_error(403, "CANNOT_REMOVE_ALL_USER_ROLES");
    let (listed, invites, org_invites) = views(&app, &group).await;
    assert_eq!(
        listed[0],
        json!(["ada@example.com", "PENDING", ["GROUP_OWNER"]])
    );
    assert_eq!(invites[0], json!(["ada@example.com", ["GROUP_OWNER"]]));
    assert_eq!(
        org_invites[0],
        json!(["ada@example.com", ["ORG_MEMBER"], ["GROUP_OWNER"]])
    );

    // A change through the project invitation shows in the user.
    let patched = owner
        .patch(
            &format!(
                "/api/atlas/v2/groups/{group}/invites/{}",
                project_invite["id"].as_str().unwrap()
            ),
            &json!({"roles": ["GROUP_CLUSTER_MANAGER"]}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let seen = get_2025(&owner, &ada_path).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert_eq!(seen.json["roles"], json!(["GROUP_CLUSTER_MANAGER"]));
    assert_eq!(
        seen.json["invitationCreatedAt"],
        ada.json["invitationCreatedAt"]
    );

    // Accepting makes Ada an active user of the project with the roles; the invitation ends.
    let accepted = app.answer(&ada_id, "accept", None).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    let (listed, invites, org_invites) = views(&app, &group).await;
    assert_eq!(
        listed,
        vec![
            json!(["ada@example.com", "ACTIVE", ["GROUP_CLUSTER_MANAGER"]]),
            json!(["bob@example.com", "PENDING", ["GROUP_OWNER"]]),
        ]
    );
    assert_eq!(invites, vec![json!(["bob@example.com", ["GROUP_OWNER"]])]);
    assert_eq!(
        org_invites,
        vec![json!(["bob@example.com", ["ORG_MEMBER"], ["GROUP_OWNER"]])]
    );
    let active = get_2025(&owner, &ada_path).await;
    assert_eq!(
        active.json["id"], ada_id,
        "the same id from invitation to membership"
    );
    assert_eq!(active.json["firstName"], "ada");
    assert!(active.json.get("invitationCreatedAt").is_none());
    assert!(active.json.get("teamIds").is_none());

    // Removing a pending user cancels the invitation that only brought them into the project.
    let bob_path = format!("{users}/{bob_id}");
    let gone = delete_2025(&owner, &bob_path).await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    assert_eq!(
        views(&app, &group).await,
        (
            vec![json!([
                "ada@example.com",
                "ACTIVE",
                ["GROUP_CLUSTER_MANAGER"]
            ])],
            vec![],
            vec![],
        )
    );
    get_2025(&owner, &bob_path)
        .await
        .assert_error(404, "USER_NOT_IN_GROUP");
    delete_2025(&owner, &bob_path)
        .await
        .assert_error(404, "USER_NOT_IN_GROUP");
    org_user_of(&app, &bob_id)
        .await
        .assert_error(404, "USER_NOT_IN_ORG");

    // Removing an active user takes the project's roles; they stay in the organization.
    assert_eq!(delete_2025(&owner, &ada_path).await.status, 204);
    assert_eq!(views(&app, &group).await, (vec![], vec![], vec![]));
    let member = org_user_of(&app, &ada_id).await;
    assert_eq!(member.json["orgMembershipStatus"], "ACTIVE");
    assert_eq!(member.json["roles"]["groupRoleAssignments"], json!([]));
}

async fn adding_someone_to_a_project_depends_on_where_they_stand_in_the_organization(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let other_group = app.create_project("Ledger").await;
    let owner = app.owner();
    let users = users_path(&group);

    // A member gets the roles at once and is an active user of the project.
    let cy = app.member("cy@example.com", &["ORG_MEMBER"]).await;
    let added = add_user(
        &owner,
        &users,
        "cy@example.com",
        &["GROUP_READ_ONLY", "GROUP_READ_ONLY"],
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(added.json["id"], cy);
    assert_eq!(added.json["orgMembershipStatus"], "ACTIVE");
    assert_eq!(added.json["roles"], json!(["GROUP_READ_ONLY"]));

    // An invitee of the organization: their invitation takes the project, keeping the rest.
    let dee = app
        .create_user(&json!({"username": "dee@example.com",
                              "roles": {"orgRoles": ["ORG_OWNER"],
                                        "groupRoleAssignments": [{"groupId": other_group, "groupRoles": ["GROUP_OWNER"]}]}}))
        .await;
    let added = add_user(&owner, &users, "dee@example.com", &["GROUP_OWNER"]).await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(added.json["id"], dee);
    assert_eq!(added.json["orgMembershipStatus"], "PENDING");
    let (_, _, org_invites) = views(&app, &group).await;
    assert_eq!(
        org_invites,
        vec![json!(["dee@example.com", ["ORG_OWNER"], ["GROUP_OWNER"]])]
    );
    // Taken out of the project, Dee is still invited to the organization as before.
    assert_eq!(
        delete_2025(&owner, &format!("{users}/{dee}")).await.status,
        204
    );
    let still = org_user_of(&app, &dee).await;
    assert_eq!(still.json["orgMembershipStatus"], "PENDING");
    assert_eq!(still.json["roles"]["orgRoles"], json!(["ORG_OWNER"]));
    assert_eq!(
        still.json["roles"]["groupRoleAssignments"],
        json!([{"groupId": other_group, "groupRoles": ["GROUP_OWNER"]}])
    );

    // The older `POST /groups/{groupId}/access` (2023-02-01): the organization's invitation
    // for someone who has yet to accept one, nothing for a member, who is added at once.
    let access = format!("/api/atlas/v2/groups/{group}/access");
    let eve = grant_access(
        &owner,
        &access,
        "eve@example.com",
        "GROUP_DATA_ACCESS_READ_ONLY",
    )
    .await;
    assert_eq!(eve.status, 200, "{}", eve.text);
    assert_eq!(
        eve.header("content-type"),
        Some("application/vnd.atlas.2023-02-01+json;charset=utf-8")
    );
    assert_eq!(eve.header("sunset"), Some("Thu, 1 Jul 2027 00:00:00 GMT"));
    assert_eq!(eve.json["username"], "eve@example.com");
    assert_eq!(eve.json["orgName"], "Test-Org");
    assert_eq!(eve.json["roles"], json!(["ORG_MEMBER"]));
    assert_eq!(
        eve.json["groupRoleAssignments"],
        json!([{"groupId": group, "groupRole": "GROUP_DATA_ACCESS_READ_ONLY"}])
    );
    assert_eq!(
        owner
            .get(&app.invites_path())
            .await
            .json
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["id"] == eve.json["id"])
            .count(),
        1
    );
    // Again, with other roles: the same invitation, no conflict.
    let again = grant_access(&owner, &access, "eve@example.com", "GROUP_OWNER").await;
    assert_eq!(again.json["id"], eve.json["id"]);
    assert_eq!(
        again.json["groupRoleAssignments"][0]["groupRole"],
        "GROUP_OWNER"
    );
    let member = grant_access(&owner, &access, "cy@example.com", "GROUP_OWNER").await;
    assert_eq!(member.status, 204, "{}", member.text);
    assert_eq!(member.text, "");
    let cy_now = get_2025(&owner, &format!("{users}/{cy}")).await;
    assert_eq!(cy_now.json["roles"], json!(["GROUP_OWNER"]));
    // The 2023-01-01 version of the operation does not exist.
    owner
        .post(
            &access,
            &json!({"username": "x@example.com", "roles": ["GROUP_OWNER"]}),
        )
        .await
        .assert_error(406, "INVALID_VERSION_DATE");

    // A member cannot be sent a project invitation: they are added instead.
    owner
        .post(
            &format!("/api/atlas/v2/groups/{group}/invites"),
            &json!({"username": "cy@example.com", "roles": ["GROUP_OWNER"]}),
        )
        .await
        .assert_error(409, "USER_ALREADY_EXISTS");
    // Someone with an account in another organization is invited here like anyone else, and
    // keeps their id.
    let (other_org, other_owner) = app.other_org().await;
    let outsider = app
        .client(&other_owner)
        .send(
            Method::POST,
            &format!("/api/atlas/v2/orgs/{other_org}/users"),
            Some(V2025),
            Some(&json!({"username": "out@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}})),
        )
        .await;
    let outsider_id = outsider.id();
    let accepted = app
        .client(&other_owner)
        .send(
            Method::POST,
            &format!("/api/orgdoor/v1/orgs/{other_org}/invitations/{outsider_id}:accept"),
            None,
            None,
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    get_2025(&owner, &format!("{users}/{outsider_id}"))
        .await
        .assert_error(404, "USER_NOT_IN_GROUP");
    let invited = add_user(&owner, &users, "out@example.com", &["GROUP_OWNER"]).await;
    assert_eq!(invited.json["id"], outsider_id);
    assert_eq!(invited.json["orgMembershipStatus"], "PENDING");
}

async fn pending_users_expire_decline_and_are_invited_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let owner = app.owner();
    let users = users_path(&group);
    let add = |username: &'static str| {
        let owner = app.owner();
        let users = users.clone();
        async move {
            send_2025(
                &owner,
                Method::POST,
                &users,
                Some(&json!({"username": username, "roles": ["GROUP_OWNER"]})),
            )
            .await
        }
    };
    let ada = add("ada@example.com").await.json;
    let bob = add("bob@example.com").await.json;
    let bob_id = bob["id"].as_str().unwrap();
    let declined = app.answer(bob_id, "decline", None).await;
    assert_eq!(declined.status, 200, "{}", declined.text);
    app.clock.advance(Duration::days(30));
    // By default a list shows active and pending users only.
    let listed = get_2025(&owner, &users).await;
    assert_eq!(listed.json["totalCount"], 0, "{}", listed.text);
    let all = send_2025(
        &owner,
        Method::GET,
        &format!(
            "{users}?orgMembershipStatuses=INVITATION_EXPIRED&orgMembershipStatuses=INVITATION_REJECTED"
        ),
        None,
    )
    .await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(
        all.json["results"][0]["orgMembershipStatus"],
        "INVITATION_EXPIRED"
    );
    assert_eq!(
        all.json["results"][0]["invitationExpiresAt"],
        ada["invitationExpiresAt"]
    );
    assert_eq!(
        all.json["results"][1]["orgMembershipStatus"],
        "INVITATION_REJECTED"
    );
    assert_eq!(all.json["results"][1]["invitationExpiresAt"], Value::Null);
    get_2025(&owner, &format!("{users}/{bob_id}"))
        .await
        .assert_error(404, "USER_NOT_IN_GROUP");
    let rejected = get_2025(
        &owner,
        &format!("{users}/{bob_id}?orgMembershipStatuses=INVITATION_REJECTED"),
    )
    .await;
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    // Roles cannot change on an invitation that is over.
    change_role(
        &owner,
        &format!("{users}/{bob_id}"),
        "addRole",
        "GROUP_READ_ONLY",
    )
    .await
    .assert_error(404, "USER_NOT_IN_GROUP");
    // Adding them again invites them again, as the same person.
    let again = add("ada@example.com").await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.json["id"], ada["id"]);
    assert_eq!(again.json["orgMembershipStatus"], "PENDING");
    assert_eq!(again.json["invitationCreatedAt"], "2026-09-09T03:03:37Z");
    // A declined user can be removed from the project too.
    assert_eq!(
        delete_2025(&owner, &format!("{users}/{bob_id}"))
            .await
            .status,
        204
    );
    let left = get_2025(
        &owner,
        &format!("{users}?orgMembershipStatuses=INVITATION_REJECTED"),
    )
    .await;
    assert_eq!(left.json["totalCount"], 0);
}

async fn the_deprecated_put_replaces_a_project_users_roles(backend: Backend) {
    let (app, _, users, ada) = payments_with_ada(backend).await;
    let owner = app.owner();
    let cy = app.member("cy@example.com", &["ORG_MEMBER"]).await;
    let roles = format!("{users}/{ada}/roles");
    let put = |path: String, body: Value| {
        let owner = app.owner();
        async move {
            owner
                .send(Method::PUT, &path, Some(crate::harness::V2023), Some(&body))
                .await
        }
    };
    let replaced = put(
        roles.clone(),
        json!({"groupRoles": ["GROUP_READ_ONLY", "GROUP_CLUSTER_MANAGER"], "links": []}),
    )
    .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(
        replaced.json,
        json!({"groupRoles": ["GROUP_READ_ONLY", "GROUP_CLUSTER_MANAGER"]})
    );
    assert_eq!(
        replaced.header("deprecation"),
        Some("Wed, 19 Feb 2025 00:00:00 GMT")
    );
    let seen = get_2025(&owner, &format!("{users}/{ada}")).await;
    assert_eq!(
        seen.json["roles"],
        json!(["GROUP_READ_ONLY", "GROUP_CLUSTER_MANAGER"])
    );
    put(roles.clone(), json!({"groupRoles": []}))
        .await
        .assert_error(400, "MISSING_ATTRIBUTE");
    put(roles.clone(), json!({"groupRoles": ["ORG_OWNER"]}))
        .await
        .assert_error(400, "INVALID_ROLE_FOR_GROUP");
    put(
        format!("{users}/{cy}/roles"),
        json!({"groupRoles": ["GROUP_OWNER"]}),
    )
    .await
    .assert_error(404, "USER_NOT_IN_GROUP");
    put(
        format!("{users}/nope/roles"),
        json!({"groupRoles": ["GROUP_OWNER"]}),
    )
    .await
    .assert_error(404, "INVALID_USER_ID");
}

async fn project_user_requests_get_atlas_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let owner = app.owner();
    let users = users_path(&group);
    let bodies = bad_project_invitee_bodies().into_iter().chain([
        (
            json!({"username": "ada@example.com", "roles": "GROUP_OWNER"}),
            "INVALID_JSON_ATTRIBUTE",
        ),
        (
            json!({"username": "ada@example.com", "roles": ["GROUP_OWNER"], "colour": 1}),
            "INVALID_ATTRIBUTE",
        ),
    ]);
    for (body, code) in bodies {
        send_2025(&owner, Method::POST, &users, Some(&body))
            .await
            .assert_error(400, code);
    }
    assert_eq!(get_2025(&owner, &users).await.json["totalCount"], 0);
    send_2025(
        &owner,
        Method::POST,
        "/api/atlas/v2/groups/0123456789abcdef01234567/users",
        Some(&json!({"username": "ada@example.com", "roles": ["GROUP_OWNER"]})),
    )
    .await
    .assert_error(404, "GROUP_NOT_FOUND");

    let ada = add_user(&owner, &users, "ada@example.com", &["GROUP_OWNER"])
        .await
        .id();
    for (body, code) in [
        (json!({}), "MISSING_ATTRIBUTE"),
        (json!({"groupRole": "ORG_OWNER"}), "INVALID_ROLE_FOR_GROUP"),
        (json!({"groupRole": "GROUP_WIZARD"}), "INVALID_ENUM_VALUE"),
        (
            json!({"groupRole": ["GROUP_OWNER"]}),
            "INVALID_JSON_ATTRIBUTE",
        ),
    ] {
        send_2025(
            &owner,
            Method::POST,
            &format!("{users}/{ada}:addRole"),
            Some(&body),
        )
        .await
        .assert_error(400, code);
    }
    // Unknown users, members without a role here, and malformed ids.
    let member = app.member("cy@example.com", &["ORG_MEMBER"]).await;
    for (user, code) in [
        ("0123456789abcdef01234567", "USER_NOT_IN_GROUP"),
        (member.as_str(), "USER_NOT_IN_GROUP"),
        ("nope", "INVALID_USER_ID"),
    ] {
        let path = format!("{users}/{user}");
        get_2025(&owner, &path).await.assert_error(404, code);
        delete_2025(&owner, &path).await.assert_error(404, code);
        for action in ["addRole", "removeRole"] {
            change_role(&owner, &path, action, "GROUP_OWNER")
                .await
                .assert_error(404, code);
        }
    }
    // 2025-02-19 operations have no older version; statuses are checked.
    owner
        .get(&format!("{users}/{ada}"))
        .await
        .assert_error(406, "INVALID_VERSION_DATE");
    for (query, code) in [
        ("orgMembershipStatuses=GONE", "INVALID_QUERY_PARAMETER"),
        ("username=nope", "INVALID_QUERY_PARAMETER"),
        (
            "orgMembershipStatus=ACTIVE&orgMembershipStatuses=PENDING",
            "MUTUALLY_EXCLUSIVE_QUERY_PARAMETERS",
        ),
    ] {
        get_2025(&owner, &format!("{users}?{query}"))
            .await
            .assert_error(400, code);
    }
}

async fn project_users_need_project_roles(backend: Backend) {
    let (app, group, users, ada) = payments_with_ada(backend).await;
    let user = format!("{users}/{ada}");
    let add = json!({"username": "bob@example.com", "roles": ["GROUP_OWNER"]});
    let reader = app.client_with(&[OrgRole::ReadOnly]).await;
    let member = app.client_with(&[OrgRole::Member]).await;
    let (_, other_owner) = app.other_org().await;
    let stranger = app.client(&other_owner);
    // Reads need Project Read Only.
    for (client, code) in [
        (&member, "USER_UNAUTHORIZED"),
        (&stranger, "USER_CANNOT_ACCESS_GROUP"),
    ] {
        get_2025(client, &users).await.assert_error(401, code);
        get_2025(client, &user).await.assert_error(401, code);
    }
    assert_eq!(get_2025(&reader, &users).await.status, 200);
    assert_eq!(get_2025(&reader, &user).await.status, 200);
    // Writes need Project Owner.
    for (client, code) in [
        (&reader, "USER_UNAUTHORIZED"),
        (&member, "USER_UNAUTHORIZED"),
        (&stranger, "USER_CANNOT_ACCESS_GROUP"),
    ] {
        send_2025(client, Method::POST, &users, Some(&add))
            .await
            .assert_error(401, code);
        for action in ["addRole", "removeRole"] {
            change_role(client, &user, action, "GROUP_READ_ONLY")
                .await
                .assert_error(401, code);
        }
        delete_2025(client, &user).await.assert_error(401, code);
        client
            .send(
                Method::PUT,
                &format!("{user}/roles"),
                Some(crate::harness::V2023),
                Some(&json!({"groupRoles": ["GROUP_OWNER"]})),
            )
            .await
            .assert_error(401, code);
        client
            .send(
                Method::POST,
                &format!("/api/atlas/v2/groups/{group}/access"),
                Some("application/vnd.atlas.2023-02-01+json"),
                Some(&add),
            )
            .await
            .assert_error(401, code);
    }
    // Nothing changed.
    let (listed, _, _) = views(&app, &group).await;
    assert_eq!(
        listed,
        vec![json!(["ada@example.com", "PENDING", ["GROUP_OWNER"]])]
    );
}

async fn project_user_lists_reach_through_teams_and_org_roles_when_asked(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let owner = app.owner();
    let users = users_path(&group);
    let ada = app.member("ada@example.com", &["ORG_MEMBER"]).await;
    let bob = app.member("bob@example.com", &["ORG_MEMBER"]).await;
    app.member("cy@example.com", &["ORG_READ_ONLY"]).await;
    app.member("dee@example.com", &["ORG_MEMBER"]).await;
    add_user(&owner, &users, "ada@example.com", &["GROUP_READ_ONLY"]).await;
    let team = app.create_team("Platform").await;
    owner
        .post(
            &format!("/api/atlas/v2/orgs/{}/teams/{team}/users", app.org_id),
            &json!([{"id": ada}, {"id": bob}]),
        )
        .await;
    owner
        .post(
            &format!("/api/atlas/v2/groups/{group}/teams"),
            &json!([{"teamId": team, "roleNames": ["GROUP_OWNER"]}]),
        )
        .await;
    let names = |response: &TestResponse| -> Vec<Value> {
        response.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|user| json!([user["username"], user["roles"]]))
            .collect()
    };
    let plain = get_2025(&owner, &users).await;
    assert_eq!(
        names(&plain),
        vec![json!(["ada@example.com", ["GROUP_READ_ONLY"]])]
    );
    for (query, expected) in [
        (
            "flattenTeams=true",
            vec![
                json!(["ada@example.com", ["GROUP_READ_ONLY", "GROUP_OWNER"]]),
                json!(["bob@example.com", ["GROUP_OWNER"]]),
            ],
        ),
        (
            "includeOrgUsers=TRUE",
            vec![
                json!(["ada@example.com", ["GROUP_READ_ONLY"]]),
                json!(["cy@example.com", []]),
            ],
        ),
        (
            "flattenTeams=true&username=BOB@example.com",
            vec![json!(["bob@example.com", ["GROUP_OWNER"]])],
        ),
    ] {
        let listed = get_2025(&owner, &format!("{users}?{query}")).await;
        assert_eq!(names(&listed), expected, "{query}");
    }
    // Pages, and the 2023-01-01 list with the same flags.
    let paged = get_2025(
        &owner,
        &format!("{users}?flattenTeams=true&itemsPerPage=1&pageNum=2"),
    )
    .await;
    assert_eq!(paged.json["totalCount"], 2);
    assert_eq!(
        names(&paged),
        vec![json!(["bob@example.com", ["GROUP_OWNER"]])]
    );
    let old = owner.get(&format!("{users}?flattenTeams=true")).await;
    assert_eq!(old.json["totalCount"], 2);
    assert_eq!(old.json["results"][1]["emailAddress"], "bob@example.com");
}
