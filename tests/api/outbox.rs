//! The outbox: every invitation made through the API composes a message with a link to the
//! invitee's page, written with the invitation and readable by Organization Owners at
//! `GET /api/orgdoor/v1/orgs/{orgId}/outbox` (without SMTP, messages stay there).

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{TestApp, spawn_app};
use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;

on_both_stores!(
    an_invitation_composes_a_message_with_a_link_to_the_invitees_page,
    every_way_of_inviting_writes_a_message_and_renewing_writes_another,
    the_outbox_is_paged_newest_first_and_filtered_by_address,
    a_refused_invitation_writes_no_message,
    only_owners_of_the_organization_read_its_outbox,
    the_link_is_stored_only_hashed_and_the_message_sealed,
);

/// The messages of the outbox, newest first.
async fn messages(app: &TestApp, query: &str) -> Vec<Value> {
    app.outbox(query).await.json["results"]
        .as_array()
        .expect("results")
        .clone()
}

/// The token at the end of a message's link.
fn token_of(message: &Value) -> String {
    let url = message["acceptUrl"].as_str().expect("a link");
    url.rsplit('/').next().expect("a token").to_owned()
}

async fn an_invitation_composes_a_message_with_a_link_to_the_invitees_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let invited = app.invite("ada@example.com", &["ORG_GROUP_CREATOR"]).await;
    assert_eq!(invited.status, 200, "{}", invited.text);

    let outbox = app.outbox("").await;
    assert_eq!(outbox.json["totalCount"], 1);
    let message = &outbox.json["results"][0];
    assert_eq!(message["to"], "ada@example.com");
    assert_eq!(message["invitationId"], invited.json["id"]);
    assert_eq!(message["status"], "PENDING");
    assert_eq!(message["attempts"], 0);
    assert_eq!(message["createdAt"], "2026-08-10T03:03:37Z");
    assert!(message.get("deliveredAt").is_none());
    assert!(message.get("lastError").is_none());
    assert_eq!(
        message["subject"],
        "Invitation to join the organization Test-Org"
    );

    // The link leads to this server's invitee page and carries 256 random bits.
    let url = message["acceptUrl"].as_str().unwrap();
    let token = token_of(message);
    assert_eq!(url, format!("{}/invitations/{token}", app.base_url));
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));

    // Both parts say who invited, into what, with which roles, until when, and where to go.
    for part in ["text", "html"] {
        let body = message[part].as_str().unwrap();
        for expected in [
            app.owner.public_key.as_str(),
            "Test-Org",
            "ORG_GROUP_CREATOR in the organization",
            "2026-09-09 03:03 UTC",
            url,
        ] {
            assert!(body.contains(expected), "{part} lacks {expected:?}: {body}");
        }
    }
    let html = message["html"].as_str().unwrap();
    assert!(html.contains(&format!("<a href=\"{url}\">")), "{html}");
    assert!(html.starts_with("<!DOCTYPE html>"));
}

async fn every_way_of_inviting_writes_a_message_and_renewing_writes_another(backend: Backend) {
    let app = spawn_app(backend).await;
    let project = app.create_project("Apollo").await;
    let client = app.owner();
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    app.pending_user("bob@example.com", &["ORG_MEMBER"]).await;
    let invited = client
        .post(
            &format!("/api/atlas/v2/groups/{project}/invites"),
            &json!({"username": "cy@example.com", "roles": ["GROUP_READ_ONLY"]}),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.text);

    let to = |address: &str| format!("?to={address}");
    assert_eq!(messages(&app, &to("ada@example.com")).await.len(), 1);
    assert_eq!(messages(&app, &to("bob@example.com")).await.len(), 1);
    let to_cy = messages(&app, &to("cy@example.com")).await;
    assert_eq!(to_cy.len(), 1);
    assert_eq!(to_cy[0]["subject"], "Invitation to join the project Apollo");
    let text = to_cy[0]["text"].as_str().unwrap();
    assert!(
        text.contains("GROUP_READ_ONLY in the project Apollo"),
        "{text}"
    );

    // Inviting a pending address again renews the invitation and sends a new link; the old one
    // is no longer the invitation's.
    let first = token_of(&messages(&app, &to("ada@example.com")).await[0]);
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let to_ada = messages(&app, &to("ada@example.com")).await;
    assert_eq!(to_ada.len(), 2);
    let second = token_of(&to_ada[0]);
    assert_ne!(first, second);
    let stored: Vec<Option<String>> = app
        .stored_column(
            "SELECT link_token_hash FROM invitations WHERE username_key = 'ada@example.com'",
        )
        .await;
    assert_eq!(stored, [Some(sha256_hex(&second))]);

    // Changing an invitation's roles sends nothing.
    let id = to_ada[0]["invitationId"].as_str().unwrap();
    let changed = client
        .patch(
            &format!("{}/{id}", app.invites_path()),
            &json!({"roles": ["ORG_OWNER"]}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(app.outbox("").await.json["totalCount"], 4);
}

async fn the_outbox_is_paged_newest_first_and_filtered_by_address(backend: Backend) {
    let app = spawn_app(backend).await;
    for n in 0..3 {
        app.invite(&format!("p{n}@example.com"), &["ORG_MEMBER"])
            .await;
        app.clock.advance(time::Duration::seconds(1));
    }
    let all = messages(&app, "").await;
    let recipients: Vec<&str> = all.iter().map(|m| m["to"].as_str().unwrap()).collect();
    assert_eq!(
        recipients,
        ["p2@example.com", "p1@example.com", "p0@example.com"]
    );
    let page = app.outbox("?itemsPerPage=1&pageNum=2").await;
    assert_eq!(page.json["totalCount"], 3);
    assert_eq!(page.json["results"][0]["to"], "p1@example.com");
    let rels: Vec<&str> = page.json["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|link| link["rel"].as_str().unwrap())
        .collect();
    assert_eq!(rels, ["self", "next", "previous"]);
    let next = page.json["links"][1]["href"].as_str().unwrap();
    assert!(
        next.starts_with(&format!(
            "{}/api/orgdoor/v1/orgs/{}/outbox?",
            app.base_url, app.org_id
        )),
        "{next}"
    );
    let filtered = app.outbox("?to=P1@Example.COM&includeCount=false").await;
    assert!(filtered.json.get("totalCount").is_none());
    assert_eq!(filtered.json["results"].as_array().unwrap().len(), 1);
    assert_eq!(filtered.json["results"][0]["to"], "p1@example.com");

    let bad = app
        .owner()
        .send(
            Method::GET,
            &format!(
                "/api/orgdoor/v1/orgs/{}/outbox?to=not-an-address",
                app.org_id
            ),
            None,
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
}

async fn a_refused_invitation_writes_no_message(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.owner();
    let refused = client
        .post(
            &app.invites_path(),
            &json!({"username": "ada@example.com", "roles": ["ORG_MEMBER"],
                    "teamIds": ["0123456789abcdef01234567"]}),
        )
        .await;
    assert_eq!(refused.status, 404, "{}", refused.text);
    app.pending_user("bob@example.com", &["ORG_MEMBER"]).await;
    let again = client
        .send(
            Method::POST,
            &app.users_path(),
            Some(crate::harness::V2025),
            Some(&json!({"username": "bob@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}})),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    let left = messages(&app, "").await;
    assert_eq!(left.len(), 1, "only bob's first invitation: {left:?}");
    assert_eq!(left[0]["to"], "bob@example.com");
}

async fn only_owners_of_the_organization_read_its_outbox(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let path = format!("/api/orgdoor/v1/orgs/{}/outbox", app.org_id);
    let member = app.key_with(&[OrgRole::Member]).await;
    app.client(&member)
        .send(Method::GET, &path, None, None)
        .await
        .assert_error(401, "NOT_ORG_OWNER");
    let (other_org, other_owner) = app.other_org().await;
    let foreign = app
        .client(&other_owner)
        .send(Method::GET, &path, None, None)
        .await;
    assert!(
        matches!(foreign.status, 401 | 403 | 404),
        "{}",
        foreign.text
    );
    assert!(!foreign.text.contains("ada@example.com"));
    let own = app
        .client(&other_owner)
        .send(
            Method::GET,
            &format!("/api/orgdoor/v1/orgs/{other_org}/outbox"),
            None,
            None,
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(own.json["totalCount"], 0);
    let anonymous = reqwest::get(format!("{}{path}", app.base_url))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

async fn the_link_is_stored_only_hashed_and_the_message_sealed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let token = token_of(&messages(&app, "").await[0]);
    let hashes: Vec<Option<String>> = app
        .stored_column("SELECT link_token_hash FROM invitations")
        .await;
    assert_eq!(hashes, [Some(sha256_hex(&token))]);
    let bodies: Vec<Vec<u8>> = app.stored_column("SELECT sealed_body FROM outbox").await;
    assert_eq!(bodies.len(), 1);
    let needle = token.as_bytes();
    assert!(
        !bodies[0]
            .windows(needle.len())
            .any(|window| window == needle),
        "the token is not readable in the stored message"
    );
    assert!(
        !bodies[0].windows(5).any(|window| window == b"Hello"),
        "the text is not readable in the stored message"
    );
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
