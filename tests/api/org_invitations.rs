//! The six organization invitation operations, in v2 and v1.0.

use reqwest::Method;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::harness::{V2023, assert_invitation_expired, spawn_app};
use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;

on_both_stores!(
    creating_an_invitation_returns_every_field_and_expires_in_thirty_days,
    the_list_is_a_bare_array_of_pending_invitations_filtered_by_username,
    an_invitation_is_read_by_its_id,
    updating_by_id_replaces_given_fields_and_keeps_the_dates,
    updating_by_username_finds_the_pending_invitation,
    deleting_cancels_the_invitation_once,
    a_second_invitation_to_a_pending_address_renews_it,
    an_expired_invitation_is_no_longer_pending_and_can_be_replaced,
    teams_and_project_roles_are_checked_and_reported_per_role,
    references_to_missing_or_foreign_teams_and_projects_are_refused,
    bad_bodies_get_the_documented_errors_and_write_nothing,
    the_legacy_v1_api_serves_the_same_invitations_as_json,
    only_organization_owners_of_this_organization_may_touch_invitations,
    unknown_and_malformed_organizations_are_not_found,
    versions_are_negotiated_by_the_accept_header,
    envelope_and_pretty_reshape_any_response,
    trailing_slashes_are_the_same_resource,
);

async fn creating_an_invitation_returns_every_field_and_expires_in_thirty_days(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.invite("wyatt.smith@example.com", &["ORG_MEMBER"]).await;

    assert_eq!(response.status, 200, "{}", response.text);
    let invitation = &response.json;
    assert_eq!(invitation["username"], "wyatt.smith@example.com");
    assert_eq!(invitation["roles"], json!(["ORG_MEMBER"]));
    assert_eq!(invitation["orgId"], app.org_id);
    assert_eq!(invitation["orgName"], "Test-Org");
    assert_eq!(invitation["inviterUsername"], app.owner.public_key);
    assert_eq!(invitation["teamIds"], json!([]));
    assert_eq!(invitation["groupRoleAssignments"], json!([]));
    assert_eq!(invitation["createdAt"], "2026-08-10T03:03:37Z");
    assert_eq!(invitation["expiresAt"], "2026-09-09T03:03:37Z");
    assert!(invitation.get("links").is_none());
    let keys: Vec<&String> = invitation.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 10);
    assert_eq!(
        response.header("content-type"),
        Some("application/vnd.atlas.2023-01-01+json;charset=utf-8")
    );
    assert_eq!(
        response.header("deprecation"),
        Some("Wed, 19 Feb 2025 00:00:00 GMT")
    );
    assert_eq!(
        response.header("sunset"),
        Some("Thu, 1 Jul 2027 00:00:00 GMT")
    );
    // Atlas writes keys alphabetically.
    assert!(
        response.text.starts_with(r#"{"createdAt":"#),
        "{}",
        response.text
    );
}

async fn the_list_is_a_bare_array_of_pending_invitations_filtered_by_username(backend: Backend) {
    let app = spawn_app(backend).await;
    for name in ["a@example.com", "b@example.com", "c@example.com"] {
        assert_eq!(app.invite(name, &["ORG_MEMBER"]).await.status, 200);
    }
    let client = app.owner();
    let all = client.get(&app.invites_path()).await;
    assert_eq!(all.status, 200);
    let usernames: Vec<&str> = all
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        usernames,
        ["a@example.com", "b@example.com", "c@example.com"]
    );

    let one = client
        .get(&format!("{}?username=B@Example.com", app.invites_path()))
        .await;
    assert_eq!(one.json.as_array().unwrap().len(), 1);
    assert_eq!(one.json[0]["username"], "b@example.com");

    let none = client
        .get(&format!(
            "{}?username=nobody@example.com",
            app.invites_path()
        ))
        .await;
    assert_eq!(none.json, json!([]));
    client
        .get(&format!("{}?username=not-an-address", app.invites_path()))
        .await
        .assert_error(400, "INVALID_QUERY_PARAMETER");
}

async fn an_invitation_is_read_by_its_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .invite("ada@example.com", &["ORG_OWNER", "ORG_MEMBER"])
        .await
        .json;
    let client = app.owner();
    let path = format!("{}/{}", app.invites_path(), created["id"].as_str().unwrap());
    let fetched = client.get(&path).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json, created);

    client
        .get(&format!(
            "{}/{}",
            app.invites_path(),
            "0123456789abcdef01234567"
        ))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    client
        .get(&format!("{}/{}", app.invites_path(), "not-an-id"))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

async fn updating_by_id_replaces_given_fields_and_keeps_the_dates(backend: Backend) {
    let app = spawn_app(backend).await;
    let team = app.create_team("Platform").await;
    let created = app.invite("ada@example.com", &["ORG_MEMBER"]).await.json;
    let path = format!("{}/{}", app.invites_path(), created["id"].as_str().unwrap());
    app.clock.advance(Duration::days(2));

    let updated = app
        .owner()
        .patch(
            &path,
            &json!({"roles": ["ORG_READ_ONLY"], "teamIds": [team]}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json["roles"], json!(["ORG_READ_ONLY"]));
    assert_eq!(updated.json["teamIds"], json!([team]));
    assert_eq!(updated.json["createdAt"], created["createdAt"]);
    assert_eq!(updated.json["expiresAt"], created["expiresAt"]);

    // Omitted fields stay as they are.
    let again = app
        .owner()
        .patch(&path, &json!({"groupRoleAssignments": []}))
        .await;
    assert_eq!(again.json["roles"], json!(["ORG_READ_ONLY"]));
    assert_eq!(again.json["teamIds"], json!([team]));

    let unknown = format!("{}/{}", app.invites_path(), "0123456789abcdef01234567");
    app.owner()
        .patch(&unknown, &json!({"roles": ["ORG_MEMBER"]}))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    app.owner()
        .patch(&path, &json!({"username": "x@example.com"}))
        .await
        .assert_error(400, "ATTRIBUTE_READ_ONLY");
}

async fn updating_by_username_finds_the_pending_invitation(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app.invite("ada@example.com", &["ORG_MEMBER"]).await.json;
    let client = app.owner();
    let updated = client
        .patch(
            &app.invites_path(),
            &json!({"username": "ADA@example.com", "roles": ["ORG_OWNER"]}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json["id"], created["id"]);
    assert_eq!(updated.json["roles"], json!(["ORG_OWNER"]));
    assert_eq!(updated.json["username"], "ada@example.com");

    client
        .patch(&app.invites_path(), &json!({"roles": ["ORG_OWNER"]}))
        .await
        .assert_error(400, "MISSING_ATTRIBUTE");
    client
        .patch(
            &app.invites_path(),
            &json!({"username": "nobody@example.com", "roles": ["ORG_OWNER"]}),
        )
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

async fn deleting_cancels_the_invitation_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app.invite("ada@example.com", &["ORG_MEMBER"]).await.json;
    let path = format!("{}/{}", app.invites_path(), created["id"].as_str().unwrap());
    let client = app.owner();

    let deleted = client.delete(&path).await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.text.is_empty());
    assert_eq!(
        deleted.header("content-type"),
        Some("application/vnd.atlas.2023-01-01+json;charset=utf-8")
    );

    client
        .get(&path)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    client
        .delete(&path)
        .await
        .assert_error(400, "INVALID_INVITATION_ID");
    client
        .delete(&format!("{}/whatever", app.invites_path()))
        .await
        .assert_error(400, "INVALID_INVITATION_ID");
    assert_eq!(client.get(&app.invites_path()).await.json, json!([]));
}

async fn a_second_invitation_to_a_pending_address_renews_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let team = app.create_team("Platform").await;
    let first = app.invite("ada@example.com", &["ORG_MEMBER"]).await.json;
    app.clock.advance(Duration::days(2));
    let other_owner = app.key_with(&[OrgRole::Owner]).await;
    let again = app
        .client(&other_owner)
        .post(
            &app.invites_path(),
            &json!({"username": "Ada@Example.com", "roles": ["ORG_OWNER"], "teamIds": [team]}),
        )
        .await;
    // The spec documents no 409 for this operation: the pending invitation is sent again with the
    // new terms, as a fresh invitation with the same id.
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json["id"], first["id"]);
    assert_eq!(again.json["roles"], json!(["ORG_OWNER"]));
    assert_eq!(again.json["teamIds"], json!([team]));
    assert_eq!(again.json["username"], "Ada@Example.com");
    assert_eq!(again.json["inviterUsername"], other_owner.public_key);
    assert_eq!(again.json["createdAt"], "2026-08-12T03:03:37Z");
    assert_eq!(again.json["expiresAt"], "2026-09-11T03:03:37Z");
    let listed = app.owner().get(&app.invites_path()).await;
    assert_eq!(listed.json, json!([again.json]));

    // Renewed once more without teams, it keeps none of the old ones (on PostgreSQL an
    // invitation without teams is written in one statement, which must remove them).
    let third = app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    assert_eq!(third.json["id"], first["id"]);
    assert_eq!(third.json["teamIds"], json!([]));
    let listed = app.owner().get(&app.invites_path()).await;
    assert_eq!(listed.json, json!([third.json]));
}

async fn an_expired_invitation_is_no_longer_pending_and_can_be_replaced(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app.invite("ada@example.com", &["ORG_MEMBER"]).await.json;
    let path = format!("{}/{}", app.invites_path(), created["id"].as_str().unwrap());
    let client = app.owner();

    app.clock.advance(Duration::days(30) - Duration::seconds(1));
    assert_eq!(client.get(&path).await.status, 200);
    app.clock.advance(Duration::seconds(1));

    let update = json!({"roles": ["ORG_OWNER"]});
    assert_invitation_expired(&client, &app.invites_path(), &path, &update).await;
    client
        .patch(
            &app.invites_path(),
            &json!({"username": "ada@example.com", "roles": ["ORG_OWNER"]}),
        )
        .await
        .assert_error(400, "ALREADY_EXPIRED");
    client
        .delete(&path)
        .await
        .assert_error(400, "INVALID_INVITATION_ID");

    let renewed = app.invite("ada@example.com", &["ORG_OWNER"]).await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    assert_ne!(renewed.json["id"], created["id"]);
    let created_at =
        OffsetDateTime::parse(renewed.json["createdAt"].as_str().unwrap(), &Rfc3339).unwrap();
    let expires_at =
        OffsetDateTime::parse(renewed.json["expiresAt"].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(expires_at - created_at, Duration::days(30));
}

async fn teams_and_project_roles_are_checked_and_reported_per_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let team = app.create_team("Platform").await;
    let project = app.create_project("Billing-Service").await;
    let response = app
        .owner()
        .post(
            &app.invites_path(),
            &json!({
                "username": "ada@example.com",
                "roles": ["ORG_MEMBER"],
                "teamIds": [team, team],
                "groupRoleAssignments": [{"groupId": project, "roles": ["GROUP_OWNER", "GROUP_READ_ONLY"]}]
            }),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.json["teamIds"], json!([team]));
    assert_eq!(
        response.json["groupRoleAssignments"],
        json!([{"groupId": project, "groupRole": "GROUP_OWNER"}, {"groupId": project, "groupRole": "GROUP_READ_ONLY"}])
    );

    // Deleting the team and the project takes them out of the invitation.
    let client = app.owner();
    assert_eq!(
        client
            .delete(&format!("/api/atlas/v2/orgs/{}/teams/{team}", app.org_id))
            .await
            .status,
        204
    );
    assert_eq!(
        client
            .delete(&format!("/api/atlas/v2/groups/{project}"))
            .await
            .status,
        204
    );
    let fetched = client
        .get(&format!(
            "{}/{}",
            app.invites_path(),
            response.json["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(fetched.json["teamIds"], json!([]));
    assert_eq!(fetched.json["groupRoleAssignments"], json!([]));
}

async fn references_to_missing_or_foreign_teams_and_projects_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (other_org, other_owner) = app.other_org().await;
    let other = app.client(&other_owner);
    let foreign_team = other
        .post(
            &format!("/api/atlas/v2/orgs/{other_org}/teams"),
            &json!({"name": "Theirs", "usernames": []}),
        )
        .await
        .id();
    let foreign_project = other
        .post(
            "/api/atlas/v2/groups",
            &json!({"name": "Theirs", "orgId": other_org}),
        )
        .await
        .id();
    let missing = "0123456789abcdef01234567";
    let client = app.owner();
    let invite = |extra: serde_json::Value| {
        let mut body = json!({"username": "ada@example.com", "roles": ["ORG_MEMBER"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let cases = [
        (json!({"teamIds": [missing]}), 404, "TEAM_NOT_FOUND"),
        (json!({"teamIds": [foreign_team]}), 404, "TEAM_NOT_IN_ORG"),
        (json!({"teamIds": ["nope"]}), 404, "INVALID_TEAM_ID"),
        (
            json!({"groupRoleAssignments": [{"groupId": missing, "roles": ["GROUP_OWNER"]}]}),
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            json!({"groupRoleAssignments": [{"groupId": foreign_project, "roles": ["GROUP_OWNER"]}]}),
            404,
            "GROUP_NOT_FOUND",
        ),
        (
            json!({"groupRoleAssignments": [{"groupId": "nope", "roles": ["GROUP_OWNER"]}]}),
            404,
            "INVALID_GROUP_ID",
        ),
        (
            json!({"groupRoleAssignments": [{"groupId": foreign_project, "roles": ["ORG_OWNER"]}]}),
            400,
            "INVALID_ROLE_FOR_GROUP",
        ),
        (
            json!({"groupRoleAssignments": [{"groupId": foreign_project, "roles": ["GROUP_WIZARD"]}]}),
            400,
            "INVALID_ENUM_VALUE",
        ),
        (
            json!({"groupRoleAssignments": [{"groupId": foreign_project, "roles": []}]}),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!({"groupRoleAssignments": [{"roles": ["GROUP_OWNER"]}]}),
            400,
            "MISSING_ATTRIBUTE",
        ),
    ];
    for (extra, status, code) in cases {
        client
            .post(&app.invites_path(), &invite(extra))
            .await
            .assert_error(status, code);
    }
    // Nothing was half-written by any of them.
    assert_eq!(client.get(&app.invites_path()).await.json, json!([]));
}

async fn bad_bodies_get_the_documented_errors_and_write_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.owner();
    let path = app.invites_path();
    let cases = [
        (json!({"roles": ["ORG_MEMBER"]}), 400, "MISSING_ATTRIBUTE"),
        (
            json!({"username": "", "roles": ["ORG_MEMBER"]}),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!({"username": "ada@example.com"}),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!({"username": "ada@example.com", "roles": []}),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!({"username": "not an address", "roles": ["ORG_MEMBER"]}),
            400,
            "INVALID_EMAIL_ADDRESS",
        ),
        (
            json!({"username": "ada@example.com", "roles": ["ORG_EMPEROR"]}),
            400,
            "INVALID_ENUM_VALUE",
        ),
        (
            json!({"username": "ada@example.com", "roles": ["GROUP_OWNER"]}),
            400,
            "INVALID_ROLE_FOR_ORG",
        ),
        (
            json!({"username": "ada@example.com", "roles": "ORG_MEMBER"}),
            400,
            "INVALID_JSON_ATTRIBUTE",
        ),
        (
            json!({"username": "ada@example.com", "roles": ["ORG_MEMBER"], "colour": "red"}),
            400,
            "INVALID_ATTRIBUTE",
        ),
        (
            json!([{"username": "ada@example.com"}]),
            400,
            "INVALID_JSON",
        ),
    ];
    for (body, status, code) in cases {
        let response = client.post(&path, &body).await;
        response.assert_error(status, code);
        assert!(
            response.json["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    for raw in ["{\"username\": ", "", "not json"] {
        client
            .send_raw(Method::POST, &path, Some(V2023), Some(raw))
            .await
            .assert_error(400, "MALFORMED_JSON");
    }
    let role_error = client
        .post(
            &path,
            &json!({"username": "ada@example.com", "roles": ["GROUP_OWNER"]}),
        )
        .await;
    assert_eq!(
        role_error.json["parameters"],
        json!(["GROUP_OWNER", app.org_id])
    );
    assert_eq!(client.get(&path).await.json, json!([]));
}

async fn the_legacy_v1_api_serves_the_same_invitations_as_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.owner();
    let legacy = app.legacy_invites_path();

    let created = client
        .legacy_post(
            &legacy,
            json!({"username": "ada@example.com", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    created.assert_legacy(200);

    // What v1.0 created, v2 sees, and the other way round.
    let v2 = client.get(&app.invites_path()).await;
    assert_eq!(v2.json, json!([created.json.clone()]));
    app.invite("bob@example.com", &["ORG_OWNER"]).await;
    let listed = client.send(Method::GET, &legacy, Some("*/*"), None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json.as_array().unwrap().len(), 2);
    let no_accept = client
        .send(
            Method::GET,
            &format!("{legacy}?username=bob@example.com"),
            None,
            None,
        )
        .await;
    assert_eq!(no_accept.json[0]["username"], "bob@example.com");

    let item = format!("{legacy}/{}", created.json["id"].as_str().unwrap());
    let fetched = client.legacy_get(&item).await;
    assert_eq!(fetched.json, created.json);
    let patched = client
        .legacy_patch(&item, json!({"roles": ["ORG_OWNER"]}))
        .await;
    assert_eq!(patched.json["roles"], json!(["ORG_OWNER"]));
    let by_name = client
        .legacy_patch(
            &legacy,
            json!({"username": "bob@example.com", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    assert_eq!(by_name.json["roles"], json!(["ORG_MEMBER"]));
    let deleted = client.legacy_delete(&item).await;
    assert_eq!(deleted.status, 204);
    client
        .legacy_get(&item)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

async fn only_organization_owners_of_this_organization_may_touch_invitations(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app.invite("ada@example.com", &["ORG_MEMBER"]).await.json;
    let item = format!("{}/{}", app.invites_path(), created["id"].as_str().unwrap());
    let (_, other_owner) = app.other_org().await;
    let callers = [
        (app.key_with(&[OrgRole::Member]).await, "NOT_ORG_OWNER"),
        (
            app.key_with(&[
                OrgRole::ReadOnly,
                OrgRole::GroupCreator,
                OrgRole::BillingAdmin,
            ])
            .await,
            "NOT_ORG_OWNER",
        ),
        (other_owner, "USER_CANNOT_ACCESS_ORG"),
    ];
    let body = json!({"username": "zed@example.com", "roles": ["ORG_MEMBER"]});
    for (credentials, code) in callers {
        let client = app.client(&credentials);
        client
            .get(&app.invites_path())
            .await
            .assert_error(401, code);
        client
            .post(&app.invites_path(), &body)
            .await
            .assert_error(401, code);
        client
            .patch(&app.invites_path(), &body)
            .await
            .assert_error(401, code);
        client.get(&item).await.assert_error(401, code);
        client
            .patch(&item, &json!({"roles": ["ORG_OWNER"]}))
            .await
            .assert_error(401, code);
        // The role is checked before the body is read (BEHAVIOR §0).
        client
            .send_raw(
                Method::POST,
                &app.invites_path(),
                Some(V2023),
                Some("{not json"),
            )
            .await
            .assert_error(401, code);
        let refused = client.delete(&item).await;
        refused.assert_error(401, code);
        assert!(
            refused.header("www-authenticate").is_none(),
            "an authorization failure is no challenge"
        );
    }
    // Nothing changed.
    let listed = app.owner().get(&app.invites_path()).await;
    assert_eq!(listed.json, json!([created]));
}

async fn unknown_and_malformed_organizations_are_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.owner();
    client
        .get("/api/atlas/v2/orgs/0123456789abcdef01234567/invites")
        .await
        .assert_error(404, "ORG_NOT_FOUND");
    let malformed = client.get("/api/atlas/v2/orgs/my-org/invites").await;
    malformed.assert_error(404, "INVALID_ORG_ID");
    assert_eq!(malformed.json["parameters"], json!(["my-org"]));
}

async fn versions_are_negotiated_by_the_accept_header(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.owner();
    let path = app.invites_path();
    let later = client
        .send(
            Method::GET,
            &path,
            Some("application/vnd.atlas.2025-03-12+json"),
            None,
        )
        .await;
    assert_eq!(later.status, 200);
    assert_eq!(
        later.header("content-type"),
        Some("application/vnd.atlas.2023-01-01+json;charset=utf-8")
    );
    for accept in [
        None,
        Some("application/json"),
        Some("*/*"),
        Some("application/vnd.atlas.2022-12-31+json"),
    ] {
        let refused = client.send(Method::GET, &path, accept, None).await;
        refused.assert_error(406, "INVALID_VERSION_DATE");
        assert_eq!(
            refused.json["detail"],
            "Invalid accept header or version date."
        );
    }
    // Nothing is created by a POST in a version that does not exist.
    let body = json!({"username": "ada@example.com", "roles": ["ORG_MEMBER"]});
    client
        .send(Method::POST, &path, Some("application/json"), Some(&body))
        .await
        .assert_error(406, "INVALID_VERSION_DATE");
    assert_eq!(client.get(&path).await.json, json!([]));

    app.clock.advance(time::Duration::days(365));
    client.get(&path).await.assert_error(410, "VERSION_GONE");
}

async fn envelope_and_pretty_reshape_any_response(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.owner();
    let created = app.invite("ada@example.com", &["ORG_MEMBER"]).await.json;
    let item = format!("{}/{}", app.invites_path(), created["id"].as_str().unwrap());

    let listed = client
        .get(&format!("{}?envelope=true", app.invites_path()))
        .await;
    assert_eq!(
        listed.json,
        json!({"content": [created.clone()], "status": 200})
    );

    let missing = client
        .get(&format!(
            "{}/0123456789abcdef01234567?envelope=TRUE",
            app.invites_path()
        ))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json["status"], 404);
    assert_eq!(missing.json["content"]["errorCode"], "RESOURCE_NOT_FOUND");

    let pretty = client.get(&format!("{item}?pretty=True")).await;
    assert!(
        pretty
            .text
            .starts_with("{\n  \"createdAt\" : \"2026-08-10T03:03:37Z\",\n"),
        "{}",
        pretty.text
    );
    assert!(pretty.text.contains("\"groupRoleAssignments\" : [ ],"));
    assert!(pretty.text.contains("\"roles\" : [ \"ORG_MEMBER\" ],"));
    assert_eq!(pretty.json, created);

    let deleted = client.delete(&format!("{item}?envelope=true")).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json, json!({"content": {}, "status": 204}));

    // Any value but `true` is false, as Java's `Boolean.valueOf` reads it.
    let compact = client
        .get(&format!("{}?pretty=yes&envelope=null", app.invites_path()))
        .await;
    assert_eq!(compact.status, 200, "{}", compact.text);
    assert!(!compact.text.contains('\n'));
    assert!(compact.json.is_array());
}

async fn trailing_slashes_are_the_same_resource(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let listed = app.owner().get(&format!("{}/", app.invites_path())).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json.as_array().unwrap().len(), 1);
}
