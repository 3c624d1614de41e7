//! Org users (the invitation successor API), team membership, the user look-ups and orgdoor's
//! accept/decline hook: one state, seen through the invitations and the users APIs.

use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

use crate::harness::{Credentials, TestApp, V2023, V2025, spawn_app, string_pairs};
use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;

on_both_stores!(
    an_invitation_from_the_invites_api_is_a_pending_user,
    a_user_created_through_the_users_api_is_an_invitation,
    creating_a_user_validates_and_conflicts_only_with_pending_or_active,
    accepting_makes_an_active_member_with_the_invited_grants,
    declined_and_expired_users_show_only_when_asked_for_and_can_be_invited_again,
    lists_filter_by_status_and_username_and_page_with_absolute_links,
    roles_are_added_and_removed_one_at_a_time,
    the_deprecated_versions_show_and_remove_members_only,
    teams_take_members_and_list_members_and_invitees,
    people_are_looked_up_by_id_and_by_name,
    the_hook_needs_an_owner_and_a_pending_invitation,
    users_of_another_organization_are_out_of_reach,
    a_member_named_as_owner_of_a_new_organization_owns_it,
    add_user_and_remove_user_take_members_and_invitees,
);

async fn get(app: &TestApp, path: &str, accept: &str) -> crate::harness::TestResponse {
    app.owner()
        .send(Method::GET, path, Some(accept), None)
        .await
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    accept: &str,
    body: &Value,
) -> crate::harness::TestResponse {
    app.owner()
        .send(method, path, Some(accept), Some(body))
        .await
}

fn user_path(app: &TestApp, id: &str) -> String {
    format!("{}/{id}", app.users_path())
}

/// The organization's users, listed through the 2025 operation with `query`.
async fn users_query(app: &TestApp, query: &str) -> crate::harness::TestResponse {
    get(app, &format!("{}?{query}", app.users_path()), V2025).await
}

/// Posts `{"orgRole": role}` to a user's custom method at `path` (`…:addRole`, `…:removeRole`).
async fn post_org_role(app: &TestApp, path: &str, role: &str) -> crate::harness::TestResponse {
    send(app, Method::POST, path, V2025, &json!({"orgRole": role})).await
}

/// Updates the user `id` through the 2025 operation.
async fn patch_user(app: &TestApp, id: &str, body: &Value) -> crate::harness::TestResponse {
    send(app, Method::PATCH, &user_path(app, id), V2025, body).await
}

/// Replaces a member's org roles through the deprecated 2023 operation.
async fn put_org_roles(app: &TestApp, member: &str, body: &Value) -> crate::harness::TestResponse {
    let path = format!("{}/roles", user_path(app, member));
    send(app, Method::PUT, &path, V2023, body).await
}

async fn an_invitation_from_the_invites_api_is_a_pending_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let team = app.create_team("Platform").await;
    let group = app.create_project("Payments").await;
    let invitation = app
        .owner()
        .post(
            &app.invites_path(),
            &json!({"username": "ada@example.com", "roles": ["ORG_MEMBER"], "teamIds": [team],
                    "groupRoleAssignments": [{"groupId": group, "roles": ["GROUP_OWNER", "GROUP_READ_ONLY"]}]}),
        )
        .await
        .json;

    let users = get(&app, &app.users_path(), V2025).await;
    assert_eq!(users.status, 200, "{}", users.text);
    assert_eq!(
        users.header("content-type"),
        Some("application/vnd.atlas.2025-02-19+json;charset=utf-8")
    );
    assert_eq!(users.json["totalCount"], 1);
    let user = &users.json["results"][0];
    assert_eq!(user["orgMembershipStatus"], "PENDING");
    assert_eq!(user["username"], "ada@example.com");
    assert_ne!(
        user["id"], invitation["id"],
        "the user and the invitation have their own ids"
    );
    assert_eq!(user["invitationCreatedAt"], invitation["createdAt"]);
    assert_eq!(user["invitationExpiresAt"], invitation["expiresAt"]);
    assert_eq!(user["inviterUsername"], invitation["inviterUsername"]);
    assert_eq!(user["teamIds"], json!([team]));
    assert_eq!(
        user["roles"],
        json!({"groupRoleAssignments": [{"groupId": group, "groupRoles": ["GROUP_OWNER", "GROUP_READ_ONLY"]}],
               "orgRoles": ["ORG_MEMBER"]})
    );
    assert!(user.get("links").is_none());

    // Updating the user updates the invitation, and deleting the user cancels it.
    let id = user["id"].as_str().unwrap();
    let updated = patch_user(
        &app,
        id,
        &json!({"roles": {"orgRoles": ["ORG_OWNER"]}, "teamIds": []}),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let invitation_path = format!(
        "{}/{}",
        app.invites_path(),
        invitation["id"].as_str().unwrap()
    );
    let seen = app.owner().get(&invitation_path).await;
    assert_eq!(seen.json["roles"], json!(["ORG_OWNER"]));
    assert_eq!(seen.json["teamIds"], json!([]));
    assert_eq!(
        seen.json["groupRoleAssignments"].as_array().unwrap().len(),
        2,
        "project roles were not sent, so they stay"
    );
    let removed = app
        .owner()
        .send(Method::DELETE, &user_path(&app, id), Some(V2025), None)
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let gone = app.owner().get(&invitation_path).await;
    gone.assert_error(404, "RESOURCE_NOT_FOUND");
}

async fn a_user_created_through_the_users_api_is_an_invitation(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let created = app
        .owner()
        .send(
            Method::POST,
            &app.users_path(),
            Some(V2025),
            Some(&json!({"username": "Grace@Example.com",
                          "roles": {"orgRoles": ["ORG_READ_ONLY"],
                                    "groupRoleAssignments": [{"groupId": group, "groupRoles": ["GROUP_READ_ONLY"]}]}})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["orgMembershipStatus"], "PENDING");
    assert_eq!(created.json["invitationCreatedAt"], "2026-08-10T03:03:37Z");
    assert_eq!(created.json["invitationExpiresAt"], "2026-09-09T03:03:37Z");
    assert_eq!(created.json["inviterUsername"], app.owner.public_key);

    let invites = app.owner().get(&app.invites_path()).await;
    assert_eq!(invites.json.as_array().unwrap().len(), 1);
    let invitation = &invites.json[0];
    assert_eq!(invitation["username"], "Grace@Example.com");
    assert_eq!(invitation["roles"], json!(["ORG_READ_ONLY"]));
    assert_eq!(
        invitation["groupRoleAssignments"],
        json!([{"groupId": group, "groupRole": "GROUP_READ_ONLY"}])
    );
    // Cancelling the invitation removes the pending user.
    let cancelled = app
        .owner()
        .delete(&format!(
            "{}/{}",
            app.invites_path(),
            invitation["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(cancelled.status, 204);
    let id = created.json["id"].as_str().unwrap();
    get(&app, &user_path(&app, id), V2025)
        .await
        .assert_error(404, "USER_NOT_IN_ORG");
}

async fn creating_a_user_validates_and_conflicts_only_with_pending_or_active(backend: Backend) {
    let app = spawn_app(backend).await;
    let post = |body: Value| {
        let app = &app;
        async move { send(app, Method::POST, &app.users_path(), V2025, &body).await }
    };
    for (body, status, code) in [
        (
            json!({"roles": {"orgRoles": ["ORG_MEMBER"]}}),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!({"username": "a@example.com"}),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!({"username": "a@example.com", "roles": {"orgRoles": []}}),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!({"username": "not-an-address", "roles": {"orgRoles": ["ORG_MEMBER"]}}),
            400,
            "INVALID_EMAIL_ADDRESS",
        ),
        (
            json!({"username": "a@example.com", "roles": {"orgRoles": ["GROUP_OWNER"]}}),
            400,
            "INVALID_ROLE_FOR_ORG",
        ),
        (
            json!({"username": "a@example.com", "roles": {"orgRoles": ["ORG_KING"]}}),
            400,
            "INVALID_ENUM_VALUE",
        ),
        (
            json!({"username": "a@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}, "teamIds": ["5f0000000000000000000001"]}),
            404,
            "TEAM_NOT_FOUND",
        ),
        (
            json!({"username": "a@example.com", "roles": {"orgRoles": ["ORG_MEMBER"], "groupRoleAssignments": [{"groupId": "5f0000000000000000000001", "groupRoles": ["GROUP_OWNER"]}]}}),
            404,
            "GROUP_NOT_FOUND",
        ),
    ] {
        post(body.clone()).await.assert_error(status, code);
    }
    // Nothing of the refused requests was kept.
    assert_eq!(
        get(&app, &app.users_path(), V2025).await.json["totalCount"],
        0
    );

    let body = json!({"username": "a@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}});
    assert_eq!(post(body.clone()).await.status, 201);
    post(json!({"username": "A@EXAMPLE.COM", "roles": {"orgRoles": ["ORG_OWNER"]}}))
        .await
        .assert_error(409, "USER_ALREADY_EXISTS");
    app.member("b@example.com", &["ORG_MEMBER"]).await;
    post(json!({"username": "b@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}}))
        .await
        .assert_error(409, "USER_ALREADY_EXISTS");
    // The legacy invitations API refuses a member as well.
    app.invite("b@example.com", &["ORG_MEMBER"])
        .await
        .assert_error(409, "USER_ALREADY_EXISTS");
    // Only 2025-02-19 exists for creating users.
    let old = send(&app, Method::POST, &app.users_path(), V2023, &body).await;
    old.assert_error(406, "INVALID_VERSION_DATE");
}

async fn accepting_makes_an_active_member_with_the_invited_grants(backend: Backend) {
    let app = spawn_app(backend).await;
    let team = app.create_team("Platform").await;
    let group = app.create_project("Payments").await;
    let id = app
        .create_user(&json!({"username": "ada@example.com", "teamIds": [team],
                              "roles": {"orgRoles": ["ORG_MEMBER", "ORG_GROUP_CREATOR"],
                                        "groupRoleAssignments": [{"groupId": group, "groupRoles": ["GROUP_OWNER"]}]}}))
        .await;
    let accepted = app
        .answer(
            "ada@example.com",
            "accept",
            Some(&json!({"firstName": "Ada", "lastName": "Lovelace", "country": "GB", "mobileNumber": "+1 212 555 0199"})),
        )
        .await;
    accepted.assert_legacy(200);

    let user = get(&app, &user_path(&app, &id), V2025).await;
    assert_eq!(user.status, 200, "{}", user.text);
    let user = user.json;
    assert_eq!(user["id"], id, "the pending user's id is the member's");
    assert_eq!(user["orgMembershipStatus"], "ACTIVE");
    assert_eq!(user["firstName"], "Ada");
    assert_eq!(user["lastName"], "Lovelace");
    assert_eq!(user["country"], "GB");
    assert_eq!(user["createdAt"], "2026-08-10T03:03:37Z");
    assert_eq!(user["teamIds"], json!([team]));
    assert_eq!(
        user["roles"],
        json!({"groupRoleAssignments": [{"groupId": group, "groupRoles": ["GROUP_OWNER"]}],
               "orgRoles": ["ORG_MEMBER", "ORG_GROUP_CREATOR"]})
    );
    assert!(user.get("invitationCreatedAt").is_none());
    // The invitation is gone from the invitations API.
    assert_eq!(app.owner().get(&app.invites_path()).await.json, json!([]));
    // A member's grants are updated like an invitee's.
    let updated = patch_user(
        &app,
        &id,
        &json!({"teamIds": [], "roles": {"orgRoles": ["ORG_OWNER"], "groupRoleAssignments": []}}),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json["teamIds"], json!([]));
    assert_eq!(
        updated.json["roles"],
        json!({"groupRoleAssignments": [], "orgRoles": ["ORG_OWNER"]})
    );
    let untouched = patch_user(&app, &id, &json!({})).await;
    assert_eq!(untouched.json["roles"], updated.json["roles"]);
}

async fn declined_and_expired_users_show_only_when_asked_for_and_can_be_invited_again(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let declined = app.pending_user("no@example.com", &["ORG_MEMBER"]).await;
    let answer = app.answer(&declined, "decline", None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["orgMembershipStatus"], "INVITATION_REJECTED");
    assert_eq!(answer.json["invitationExpiresAt"], Value::Null);

    let expiring = app.pending_user("late@example.com", &["ORG_MEMBER"]).await;
    app.clock.advance(Duration::days(30));

    assert_eq!(
        get(&app, &app.users_path(), V2025).await.json["totalCount"],
        0
    );
    get(&app, &user_path(&app, &declined), V2025)
        .await
        .assert_error(404, "USER_NOT_IN_ORG");
    let rejected = get(
        &app,
        &format!(
            "{}?orgMembershipStatuses=INVITATION_REJECTED",
            user_path(&app, &declined)
        ),
        V2025,
    )
    .await;
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    let expired = users_query(
        &app,
        "orgMembershipStatuses=INVITATION_EXPIRED&orgMembershipStatuses=INVITATION_REJECTED",
    )
    .await;
    let statuses = string_pairs(&expired.json["results"], "username", "orgMembershipStatus");
    assert_eq!(
        statuses,
        vec![
            ("late@example.com", "INVITATION_EXPIRED"),
            ("no@example.com", "INVITATION_REJECTED")
        ]
    );
    // An expired invitation cannot be accepted; a new one replaces either, for the same person.
    app.answer(&expiring, "accept", None)
        .await
        .assert_error(400, "ALREADY_EXPIRED");
    for (address, id) in [
        ("no@example.com", &declined),
        ("late@example.com", &expiring),
    ] {
        let again = app
            .create_user(&json!({"username": address, "roles": {"orgRoles": ["ORG_MEMBER"]}}))
            .await;
        assert_eq!(&again, id);
    }
    assert_eq!(
        get(&app, &app.users_path(), V2025).await.json["totalCount"],
        2
    );
}

async fn lists_filter_by_status_and_username_and_page_with_absolute_links(backend: Backend) {
    let app = spawn_app(backend).await;
    app.member("zed@example.com", &["ORG_MEMBER"]).await;
    for address in ["amy@example.com", "bob@example.com"] {
        app.create_user(&json!({"username": address, "roles": {"orgRoles": ["ORG_MEMBER"]}}))
            .await;
    }
    let page = users_query(&app, "itemsPerPage=1&pageNum=2").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.json["totalCount"], 3);
    assert_eq!(page.json["results"][0]["username"], "amy@example.com");
    let links = string_pairs(&page.json["links"], "rel", "href");
    let base = format!("{}{}", app.base_url, app.users_path());
    assert_eq!(
        links,
        vec![
            (
                "self",
                format!("{base}?includeCount=true&pageNum=2&itemsPerPage=1").as_str()
            ),
            (
                "next",
                format!("{base}?includeCount=true&itemsPerPage=1&pageNum=3").as_str()
            ),
            (
                "previous",
                format!("{base}?includeCount=true&itemsPerPage=1&pageNum=1").as_str()
            ),
        ]
    );
    let active = users_query(&app, "orgMembershipStatus=ACTIVE").await;
    assert_eq!(active.json["totalCount"], 1);
    assert_eq!(active.json["results"][0]["username"], "zed@example.com");
    let one = users_query(&app, "username=BOB@example.com&includeCount=false").await;
    assert!(one.json.get("totalCount").is_none());
    assert_eq!(one.json["results"][0]["username"], "bob@example.com");
    for (query, code) in [
        (
            "orgMembershipStatus=ACTIVE&orgMembershipStatuses=PENDING",
            "MUTUALLY_EXCLUSIVE_QUERY_PARAMETERS",
        ),
        ("orgMembershipStatuses=SLEEPING", "INVALID_QUERY_PARAMETER"),
        (
            "orgMembershipStatuses=ACTIVE&orgMembershipStatuses=ACTIVE&orgMembershipStatuses=ACTIVE&orgMembershipStatuses=ACTIVE&orgMembershipStatuses=ACTIVE",
            "INVALID_QUERY_PARAMETER",
        ),
        ("username=nobody", "INVALID_QUERY_PARAMETER"),
        ("itemsPerPage=many", "INVALID_QUERY_PARAMETER"),
    ] {
        users_query(&app, query).await.assert_error(400, code);
    }
}

async fn roles_are_added_and_removed_one_at_a_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let member = app.member("amy@example.com", &["ORG_MEMBER"]).await;
    let pending = app.pending_user("bob@example.com", &["ORG_MEMBER"]).await;
    for id in [&member, &pending] {
        let action = |name: &str| format!("{}:{name}", user_path(&app, id));
        let added = post_org_role(&app, &action("addRole"), "ORG_OWNER").await;
        assert_eq!(added.status, 200, "{}", added.text);
        assert_eq!(
            added.json["roles"]["orgRoles"],
            json!(["ORG_MEMBER", "ORG_OWNER"])
        );
        let again = post_org_role(&app, &action("addRole"), "ORG_OWNER").await;
        assert_eq!(
            again.json["roles"]["orgRoles"],
            json!(["ORG_MEMBER", "ORG_OWNER"])
        );
        let removed = post_org_role(&app, &action("removeRole"), "ORG_MEMBER").await;
        assert_eq!(removed.json["roles"]["orgRoles"], json!(["ORG_OWNER"]));
        for (name, body, status, code) in [
            (
                "removeRole",
                json!({"orgRole": "ORG_OWNER"}),
                403,
                "CANNOT_REMOVE_ALL_USER_ROLES",
            ),
            (
                "addRole",
                json!({"orgRole": "ORG_KING"}),
                400,
                "INVALID_ENUM_VALUE",
            ),
            ("addRole", json!({}), 400, "MISSING_ATTRIBUTE"),
        ] {
            send(&app, Method::POST, &action(name), V2025, &body)
                .await
                .assert_error(status, code);
        }
    }
    // Unknown and malformed users, and an unknown custom method, which is no operation of
    // the user resource.
    for (user, name, status, code) in [
        (
            "5f0000000000000000000001",
            "addRole",
            404,
            "USER_NOT_IN_ORG",
        ),
        ("nope", "addRole", 404, "INVALID_USER_ID"),
        (member.as_str(), "promote", 405, "METHOD_NOT_ALLOWED"),
    ] {
        let path = format!("{}:{name}", user_path(&app, user));
        post_org_role(&app, &path, "ORG_OWNER")
            .await
            .assert_error(status, code);
    }
    let trailing = format!("{}:addRole/", user_path(&app, &member));
    let added = post_org_role(&app, &trailing, "ORG_READ_ONLY").await;
    assert_eq!(added.status, 200, "{}", added.text);

    // The deprecated PUT replaces the org roles and echoes them.
    let replaced = put_org_roles(
        &app,
        &member,
        &json!({"orgRoles": ["ORG_BILLING_ADMIN", "ORG_READ_ONLY"]}),
    )
    .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(
        replaced.json,
        json!({"orgRoles": ["ORG_BILLING_ADMIN", "ORG_READ_ONLY"]})
    );
    assert_eq!(
        replaced.header("sunset"),
        Some("Thu, 1 Jul 2027 00:00:00 GMT")
    );
    let seen = get(&app, &user_path(&app, &member), V2025).await;
    assert_eq!(
        seen.json["roles"]["orgRoles"],
        json!(["ORG_BILLING_ADMIN", "ORG_READ_ONLY"])
    );
    put_org_roles(&app, &member, &json!({"orgRoles": []}))
        .await
        .assert_error(400, "MISSING_ATTRIBUTE");
}

async fn the_deprecated_versions_show_and_remove_members_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let member = app.member("amy@example.com", &["ORG_MEMBER"]).await;
    let pending = app.pending_user("bob@example.com", &["ORG_MEMBER"]).await;
    let list = get(&app, &app.users_path(), V2023).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(
        list.header("deprecation"),
        Some("Wed, 19 Feb 2025 00:00:00 GMT")
    );
    assert_eq!(list.json["totalCount"], 1);
    let user = &list.json["results"][0];
    assert_eq!(user["id"], member);
    assert_eq!(user["emailAddress"], "amy@example.com");
    assert_eq!(user["firstName"], "amy");
    assert_eq!(
        user["roles"],
        json!([{"orgId": app.org_id, "roleName": "ORG_MEMBER"}])
    );
    assert!(user.get("password").is_none());
    app.owner()
        .send(
            Method::DELETE,
            &user_path(&app, &pending),
            Some(V2023),
            None,
        )
        .await
        .assert_error(404, "USER_NOT_IN_ORG");
    let removed = app
        .owner()
        .send(Method::DELETE, &user_path(&app, &member), Some(V2023), None)
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert_eq!(
        get(&app, &app.users_path(), V2023).await.json["totalCount"],
        0
    );
    // The person's account stays; only the membership went.
    let found = get(&app, "/api/atlas/v2/users/byName/amy@example.com", V2023).await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.json["roles"], json!([]));
}

async fn teams_take_members_and_list_members_and_invitees(backend: Backend) {
    let app = spawn_app(backend).await;
    let member = app.member("amy@example.com", &["ORG_MEMBER"]).await;
    let other = app.member("cy@example.com", &["ORG_MEMBER"]).await;
    let pending = app.pending_user("bob@example.com", &["ORG_MEMBER"]).await;
    let teams = format!("/api/atlas/v2/orgs/{}/teams", app.org_id);

    let created = app
        .owner()
        .post(
            &teams,
            &json!({"name": "Platform", "usernames": ["AMY@example.com"]}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.json["usernames"], json!(["AMY@example.com"]));
    let team = created.id();
    app.owner()
        .post(
            &teams,
            &json!({"name": "Pending", "usernames": ["bob@example.com"]}),
        )
        .await
        .assert_error(404, "CANNOT_ADD_PENDING_USER");
    app.owner()
        .post(
            &teams,
            &json!({"name": "Strangers", "usernames": ["who@example.com"]}),
        )
        .await
        .assert_error(404, "USER_NOT_IN_ORG");

    // Invitees join teams through their invitation.
    patch_user(&app, &pending, &json!({"teamIds": [team]})).await;

    let users = format!("{teams}/{team}/users");
    let current = get(&app, &users, V2025).await;
    assert_eq!(current.status, 200, "{}", current.text);
    let names = crate::harness::strings(&current.json["results"], "username");
    assert_eq!(names, vec!["amy@example.com", "bob@example.com"]);
    let only_bob = get(&app, &format!("{users}?userId={pending}"), V2025).await;
    assert_eq!(only_bob.json["results"].as_array().unwrap().len(), 1);
    let legacy = get(&app, &users, V2023).await;
    assert_eq!(
        legacy.json["totalCount"], 1,
        "2023-01-01 shows members only"
    );

    let added = send(&app, Method::POST, &users, V2023, &json!([{"id": other}])).await;
    assert_eq!(added.status, 200, "{}", added.text);
    assert_eq!(added.json["totalCount"], 2);
    send(&app, Method::POST, &users, V2023, &json!([{"id": other}]))
        .await
        .assert_error(409, "USER_ALREADY_IN_TEAM");
    send(&app, Method::POST, &users, V2023, &json!([{"id": pending}]))
        .await
        .assert_error(404, "CANNOT_ADD_PENDING_USER");
    send(&app, Method::POST, &users, V2023, &json!({"id": other}))
        .await
        .assert_error(400, "INVALID_JSON");
    send(
        &app,
        Method::POST,
        &format!("{teams}/5f0000000000000000000001/users"),
        V2023,
        &json!([{"id": other}]),
    )
    .await
    .assert_error(404, "TEAM_NOT_FOUND");

    let owner = app.owner();
    let other_in_team = format!("{users}/{other}");
    let removed = owner
        .send(Method::DELETE, &other_in_team, Some(V2023), None)
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    owner
        .send(Method::DELETE, &other_in_team, Some(V2023), None)
        .await
        .assert_error(404, "USER_NOT_IN_ORG");
    let seen = get(&app, &user_path(&app, &member), V2025).await;
    assert_eq!(seen.json["teamIds"], json!([team]));
    // Deleting the team takes it off everyone.
    app.owner().delete(&format!("{teams}/{team}")).await;
    let seen = get(&app, &user_path(&app, &member), V2025).await;
    assert_eq!(seen.json["teamIds"], json!([]));
}

async fn people_are_looked_up_by_id_and_by_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let member = app
        .project_member("amy@example.com", &group, &["GROUP_READ_ONLY"])
        .await;
    app.pending_user("bob@example.com", &["ORG_MEMBER"]).await;

    let by_name = get(&app, "/api/atlas/v2/users/byName/amy@example.com", V2023).await;
    assert_eq!(by_name.status, 200, "{}", by_name.text);
    assert_eq!(by_name.json["id"], member);
    assert_eq!(
        by_name.json["roles"],
        json!([{"orgId": app.org_id, "roleName": "ORG_MEMBER"},
               {"groupId": group, "roleName": "GROUP_READ_ONLY"}])
    );
    let by_id = get(&app, &format!("/api/atlas/v2/users/{member}"), V2023).await;
    assert_eq!(by_id.json, by_name.json);
    get(&app, "/api/atlas/v2/users/byName/bob@example.com", V2023)
        .await
        .assert_error(404, "USERNAME_NOT_FOUND");
    get(&app, "/api/atlas/v2/users/5f0000000000000000000001", V2023)
        .await
        .assert_error(404, "USER_NOT_FOUND");
    get(&app, "/api/atlas/v2/users/nope", V2023)
        .await
        .assert_error(404, "INVALID_USER_ID");
    // Another organization's owner sees the person, not their roles here.
    let (_, other_owner) = app.other_org().await;
    let elsewhere = app
        .client(&other_owner)
        .send(
            Method::GET,
            "/api/atlas/v2/users/byName/amy@example.com",
            Some(V2023),
            None,
        )
        .await;
    assert_eq!(elsewhere.status, 200);
    assert_eq!(elsewhere.json["roles"], json!([]));
}

async fn the_hook_needs_an_owner_and_a_pending_invitation(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.pending_user("amy@example.com", &["ORG_MEMBER"]).await;
    let hook = format!(
        "/api/orgdoor/v1/orgs/{}/invitations/{id}:accept",
        app.org_id
    );
    let member_key = app.key_with(&[OrgRole::Member]).await;
    app.client(&member_key)
        .send(Method::POST, &hook, None, None)
        .await
        .assert_error(401, "NOT_ORG_OWNER");
    let anonymous = reqwest::Client::new()
        .post(format!("{}{hook}", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().get("www-authenticate").is_some());

    app.answer(&id, "accept", Some(&json!({"country": "usa"})))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    app.answer(&id, "accept", Some(&json!({"nickname": "x"})))
        .await
        .assert_error(400, "INVALID_ATTRIBUTE");
    app.answer(&id, "shrug", None)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    app.answer("5f0000000000000000000001", "accept", None)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    let accepted = app.answer(&id, "accept", None).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.json["orgMembershipStatus"], "ACTIVE");
    app.answer(&id, "decline", None)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

async fn users_of_another_organization_are_out_of_reach(backend: Backend) {
    let app = spawn_app(backend).await;
    let member = app.member("amy@example.com", &["ORG_MEMBER"]).await;
    let (other_org, other_owner) = app.other_org().await;
    let other = app.client(&other_owner);
    // Their own organization does not have her.
    for method in [Method::GET, Method::DELETE] {
        other
            .send(
                method,
                &format!("/api/atlas/v2/orgs/{other_org}/users/{member}"),
                Some(V2025),
                None,
            )
            .await
            .assert_error(404, "USER_NOT_IN_ORG");
    }
    // And ours is not theirs to read.
    other
        .send(Method::GET, &user_path(&app, &member), Some(V2025), None)
        .await
        .assert_error(401, "USER_CANNOT_ACCESS_ORG");
    // Inviting her there gives the same person id.
    let invited = other
        .send(
            Method::POST,
            &format!("/api/atlas/v2/orgs/{other_org}/users"),
            Some(V2025),
            Some(&json!({"username": "amy@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}})),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.text);
    assert_eq!(invited.json["id"], member);
}

/// Creates an organization with `orgOwnerId` and its own key; returns that key's view of the
/// new organization's users.
async fn users_of_new_org(app: &TestApp, name: &str, owner: &str) -> Value {
    let created = app
        .owner()
        .post(
            "/api/atlas/v2/orgs",
            &json!({"name": name, "orgOwnerId": owner,
                    "apiKey": {"desc": "new org key", "roles": ["ORG_OWNER"]}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["orgOwnerId"], owner);
    let org = created.json["organization"]["id"].as_str().unwrap();
    let key = Credentials::of_api_key(&created.json["apiKey"]);
    let users = app
        .client(&key)
        .send(
            Method::GET,
            &format!("/api/atlas/v2/orgs/{org}/users"),
            Some(V2025),
            None,
        )
        .await;
    assert_eq!(users.status, 200, "{}", users.text);
    users.json
}

async fn a_member_named_as_owner_of_a_new_organization_owns_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let member = app.member("amy@example.com", &["ORG_MEMBER"]).await;
    let users = users_of_new_org(&app, "Spin-off", &member).await;
    assert_eq!(users["totalCount"], 1);
    assert_eq!(users["results"][0]["id"], member);
    assert_eq!(
        users["results"][0]["roles"]["orgRoles"],
        json!(["ORG_OWNER"])
    );
    // An id that names no member here is echoed, and the new organization starts empty.
    let users = users_of_new_org(&app, "Empty", "5f0000000000000000000001").await;
    assert_eq!(users["totalCount"], 0);
}

async fn add_user_and_remove_user_take_members_and_invitees(backend: Backend) {
    let app = spawn_app(backend).await;
    let team = app.create_team("Platform").await;
    let member = app.member("amy@example.com", &["ORG_MEMBER"]).await;
    let pending = app.pending_user("bob@example.com", &["ORG_MEMBER"]).await;
    let teams = format!("/api/atlas/v2/orgs/{}/teams", app.org_id);
    let add = format!("{teams}/{team}:addUser");
    let remove = format!("{teams}/{team}:removeUser");
    for id in [&member, &pending] {
        let added = send(&app, Method::POST, &add, V2025, &json!({"id": id})).await;
        assert_eq!(added.status, 200, "{}", added.text);
        assert_eq!(added.json["teamIds"], json!([team]));
        // A second add changes nothing and answers the user as they are (no 409 documented).
        let again = send(&app, Method::POST, &add, V2025, &json!({"id": id})).await;
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(again.json["teamIds"], json!([team]));
        assert_eq!(again.json["id"], added.json["id"]);
    }
    // The invitee's team arrives with acceptance.
    let accepted = app.answer(&pending, "accept", None).await;
    assert_eq!(accepted.json["teamIds"], json!([team]));
    let listed = get(&app, &format!("{teams}/{team}/users"), V2025).await;
    assert_eq!(listed.json["totalCount"], 2);

    let removed = send(&app, Method::POST, &remove, V2025, &json!({"id": member})).await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert_eq!(removed.json["teamIds"], json!([]));
    send(&app, Method::POST, &remove, V2025, &json!({"id": member}))
        .await
        .assert_error(404, "USER_NOT_IN_ORG");
    send(
        &app,
        Method::POST,
        &add,
        V2025,
        &json!({"id": "5f0000000000000000000001"}),
    )
    .await
    .assert_error(404, "USER_NOT_IN_ORG");
    send(&app, Method::POST, &add, V2025, &json!({}))
        .await
        .assert_error(400, "MISSING_ATTRIBUTE");
    send(
        &app,
        Method::POST,
        &format!("{teams}/5f0000000000000000000001:addUser"),
        V2025,
        &json!({"id": member}),
    )
    .await
    .assert_error(404, "TEAM_NOT_FOUND");
    // Only 2025-02-19 has them.
    send(&app, Method::POST, &add, V2023, &json!({"id": member}))
        .await
        .assert_error(406, "INVALID_VERSION_DATE");
}
