//! The activity feeds: every change of access records its event, with who did it and to whom,
//! readable newest first through `/orgs/{orgId}/events` and `/groups/{groupId}/events`, filtered
//! and paged as Atlas's are, and the catalogue at `/eventTypes`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{TestApp, V2023, spawn_app};
use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;

on_both_stores!(
    the_invitation_lifecycle_is_recorded_with_actor_target_and_address,
    the_invitee_answering_on_the_page_is_the_actor,
    feeds_filter_by_type_and_date_and_page_newest_first,
    one_event_is_read_by_id_and_raw_on_request,
    members_read_the_org_feed_and_nobody_reads_another_orgs,
    the_catalogue_lists_every_type_with_atlas_descriptions,
    a_refused_change_records_nothing,
    teams_keys_accounts_and_projects_record_their_events,
);

/// The org feed's events, newest first, with `query` appended.
async fn org_events(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app
        .owner()
        .get(&format!("/api/atlas/v2/orgs/{}/events{query}", app.org_id))
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    response.json["results"].as_array().unwrap().clone()
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["eventTypeName"].as_str().unwrap())
        .collect()
}

async fn the_invitation_lifecycle_is_recorded_with_actor_target_and_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let invited = app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let id = invited.id();
    let client = app.owner();
    let changed = client
        .patch(
            &format!("{}/{id}", app.invites_path()),
            &json!({"roles": ["ORG_OWNER"]}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    app.invite("bob@example.com", &["ORG_MEMBER"]).await;
    let bob = app
        .owner()
        .get(&format!("{}?username=bob@example.com", app.invites_path()))
        .await
        .json[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = client
        .delete(&format!("{}/{bob}", app.invites_path()))
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let accepted = app.answer(&id, "accept", None).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);

    let everything = org_events(&app, "").await;
    // The organization and its owner key were made by the system when the server started.
    assert_eq!(types(&everything)[5..], ["API_KEY_CREATED", "ORG_CREATED"]);
    assert!(everything[6].get("publicKey").is_none() && everything[6].get("userId").is_none());
    assert_eq!(everything[5]["targetPublicKey"], app.owner.public_key);
    let events = &everything[..5];
    assert_eq!(
        types(events),
        [
            "JOINED_ORG",
            "ORG_INVITATION_DELETED",
            "INVITED_TO_ORG",
            "ORG_INVITATION_UPDATED",
            "INVITED_TO_ORG"
        ]
    );
    let first = &events[4];
    assert_eq!(first["targetUsername"], "ada@example.com");
    assert_eq!(first["publicKey"], app.owner.public_key);
    assert_eq!(first["remoteAddress"], "127.0.0.1");
    assert_eq!(first["orgId"], app.org_id);
    assert_eq!(first["created"], "2026-08-10T03:03:37Z");
    assert_eq!(first["isGlobalAdmin"], false);
    assert!(first["apiKeyId"].as_str().unwrap().len() == 24);
    assert!(first.get("userId").is_none() && first.get("raw").is_none());
    assert_eq!(events[1]["targetUsername"], "bob@example.com");
    let link = first["links"][0]["href"].as_str().unwrap();
    assert!(
        link.ends_with(&format!(
            "/api/atlas/v2/orgs/{}/events/{}",
            app.org_id,
            first["id"].as_str().unwrap()
        )),
        "{link}"
    );
}

async fn the_invitee_answering_on_the_page_is_the_actor(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let link = app.link_to("ada@example.com").await;
    let http = reqwest::Client::new();
    let page = http.get(&link).send().await.unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let csrf = &html[start..start + html[start..].find('"').unwrap()];
    let declined = http
        .post(&link)
        .header("cookie", cookie)
        .form(&[("csrf", csrf), ("action", "decline")])
        .send()
        .await
        .unwrap();
    assert_eq!(declined.status(), 200);
    let events = org_events(&app, "").await;
    assert_eq!(types(&events)[0], "ORG_INVITATION_DECLINED");
    let invitee = app.org_user_named("ada@example.com").await;
    assert_eq!(events[0]["username"], "ada@example.com");
    assert_eq!(events[0]["userId"], invitee["id"]);
    assert!(events[0].get("publicKey").is_none());
    assert_eq!(events[0]["remoteAddress"], "127.0.0.1");
}

async fn feeds_filter_by_type_and_date_and_page_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    for n in 0..3 {
        app.invite(&format!("p{n}@example.com"), &["ORG_MEMBER"])
            .await;
        app.clock.advance(time::Duration::hours(1));
    }
    let id = app.invite("p9@example.com", &["ORG_MEMBER"]).await.id();
    app.owner()
        .delete(&format!("{}/{id}", app.invites_path()))
        .await;

    let deleted = org_events(&app, "?eventType=ORG_INVITATION_DELETED").await;
    assert_eq!(types(&deleted), ["ORG_INVITATION_DELETED"]);
    let both = org_events(
        &app,
        "?eventType=ORG_INVITATION_DELETED&eventType=INVITED_TO_ORG",
    )
    .await;
    assert_eq!(both.len(), 5);
    let window = org_events(
        &app,
        "?minDate=2026-08-10T04:00:00Z&maxDate=2026-08-10T05:30:00Z",
    )
    .await;
    let targets: Vec<&str> = window
        .iter()
        .map(|event| event["targetUsername"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["p2@example.com", "p1@example.com"]);

    let page = app
        .owner()
        .get(&format!(
            "/api/atlas/v2/orgs/{}/events?itemsPerPage=2&pageNum=2&eventType=INVITED_TO_ORG\
             &eventType=ORG_INVITATION_DELETED",
            app.org_id
        ))
        .await;
    assert_eq!(page.json["totalCount"], 5);
    assert_eq!(page.json["results"][0]["targetUsername"], "p2@example.com");

    for (query, code) in [
        ("?eventType=not-a-type", "INVALID_ENUM_VALUE"),
        ("?minDate=yesterday", "INVALID_QUERY_PARAMETER"),
        ("?maxDate=2026-13-01T00:00:00Z", "INVALID_QUERY_PARAMETER"),
    ] {
        app.owner()
            .get(&format!("/api/atlas/v2/orgs/{}/events{query}", app.org_id))
            .await
            .assert_error(400, code);
    }
    // A name of Atlas's that orgdoor never records matches nothing.
    let none = org_events(&app, "?eventType=CLUSTER_CREATED").await;
    assert!(none.is_empty());
    let legacy = app
        .owner()
        .send(
            Method::GET,
            &format!(
                "/api/atlas/v1.0/orgs/{}/events?eventType=INVITED_TO_ORG",
                app.org_id
            ),
            Some("application/json"),
            None,
        )
        .await;
    assert_eq!(legacy.status, 200, "{}", legacy.text);
    assert_eq!(legacy.json["totalCount"], 4);
}

async fn one_event_is_read_by_id_and_raw_on_request(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let event = org_events(&app, "?eventType=INVITED_TO_ORG").await[0].clone();
    let id = event["id"].as_str().unwrap();
    let path = format!("/api/atlas/v2/orgs/{}/events/{id}", app.org_id);
    let one = app.owner().get(&path).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json, event);
    let raw = app.owner().get(&format!("{path}?includeRaw=true")).await;
    assert_eq!(raw.json["raw"]["_t"], "INVITED_TO_ORG");
    assert_eq!(raw.json["raw"]["id"], id);
    assert_eq!(raw.json["raw"]["orgId"], app.org_id);
    for missing in ["0123456789abcdef01234567", "not-an-id"] {
        app.owner()
            .get(&format!(
                "/api/atlas/v2/orgs/{}/events/{missing}",
                app.org_id
            ))
            .await
            .assert_error(404, "RESOURCE_NOT_FOUND");
    }
}

async fn members_read_the_org_feed_and_nobody_reads_another_orgs(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let path = format!(
        "/api/atlas/v2/orgs/{}/events?eventType=INVITED_TO_ORG",
        app.org_id
    );
    let member = app.key_with(&[OrgRole::Member]).await;
    let read = app.client(&member).get(&path).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json["totalCount"], 1);
    let (other_org, other_owner) = app.other_org().await;
    let foreign = app.client(&other_owner).get(&path).await;
    assert!(foreign.status == 401 || foreign.status == 403 || foreign.status == 404);
    let own = app
        .client(&other_owner)
        .get(&format!(
            "/api/atlas/v2/orgs/{other_org}/events?eventType=INVITED_TO_ORG"
        ))
        .await;
    assert_eq!(own.json["totalCount"], 0);
    let id = read.json["results"][0]["id"].as_str().unwrap();
    app.client(&other_owner)
        .get(&format!("/api/atlas/v2/orgs/{other_org}/events/{id}"))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

async fn the_catalogue_lists_every_type_with_atlas_descriptions(backend: Backend) {
    let app = spawn_app(backend).await;
    let catalogue = app
        .owner()
        .send(
            Method::GET,
            "/api/atlas/v2/eventTypes?itemsPerPage=500",
            Some(V2023),
            None,
        )
        .await;
    assert_eq!(catalogue.status, 200, "{}", catalogue.text);
    let entries = catalogue.json["results"].as_array().unwrap();
    assert_eq!(catalogue.json["totalCount"], entries.len());
    let joined = entries
        .iter()
        .find(|entry| entry["eventType"] == "JOINED_ORG")
        .unwrap();
    assert_eq!(joined["description"], "User joined the organization");
    assert_eq!(joined["alertable"], true);
    assert!(
        entries
            .iter()
            .any(|entry| entry["eventType"] == "API_KEY_ACCESS_LIST_ENTRY_ADDED")
    );
}

async fn a_refused_change_records_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let refused = app
        .owner()
        .post(
            &app.invites_path(),
            &json!({"username": "ada@example.com", "roles": ["ORG_MEMBER"],
                    "teamIds": ["0123456789abcdef01234567"]}),
        )
        .await;
    assert_eq!(refused.status, 404);
    assert!(
        org_events(&app, "?eventType=INVITED_TO_ORG")
            .await
            .is_empty()
    );
}

async fn teams_keys_accounts_and_projects_record_their_events(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.owner();
    let org = &app.org_id;
    // A team: created, renamed, deleted.
    let team = app.create_team("Blue").await;
    let team_path = format!("/api/atlas/v2/orgs/{org}/teams/{team}");
    assert_eq!(
        client
            .patch(&team_path, &json!({"name": "Green"}))
            .await
            .status,
        200
    );
    // An API key: created, changed, listed somewhere, delisted, deleted.
    let key = client
        .post(
            &app.api_keys_path(),
            &json!({"desc": "ci", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    assert_eq!(key.status, 200, "{}", key.text);
    let key_id = key.id();
    let public_key = key.json["publicKey"].as_str().unwrap().to_owned();
    let key_path = format!("{}/{key_id}", app.api_keys_path());
    assert_eq!(
        client.patch(&key_path, &json!({"desc": "cd"})).await.status,
        200
    );
    // The same settings again change nothing, and record nothing.
    let same = json!({"desc": "cd", "roles": ["ORG_MEMBER"]});
    assert_eq!(client.patch(&key_path, &same).await.status, 200);
    // A member joins the team and leaves it again.
    let member = app.member("ada@example.com", &["ORG_MEMBER"]).await;
    let joined = client
        .post(&format!("{team_path}/users"), &json!([{"id": member}]))
        .await;
    assert!(joined.status < 300, "{}", joined.text);
    let left = client.delete(&format!("{team_path}/users/{member}")).await;
    assert!(left.status < 300, "{}", left.text);
    let listed = client
        .post(
            &format!("{key_path}/accessList"),
            &json!([{"cidrBlock": "10.0.0.0/8"}]),
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let delisted = client
        .delete(&format!("{key_path}/accessList/10.0.0.0%2F8"))
        .await;
    assert_eq!(delisted.status, 204, "{}", delisted.text);
    // A project with the team in it.
    let project = app.create_project("Apollo").await;
    let assigned = client
        .post(
            &format!("/api/atlas/v2/groups/{project}/teams"),
            &json!([{"teamId": team, "roleNames": ["GROUP_READ_ONLY"]}]),
        )
        .await;
    assert!(assigned.status < 300, "{}", assigned.text);
    assert_eq!(client.delete(&key_path).await.status, 204);
    assert_eq!(client.delete(&team_path).await.status, 204);
    // A service account: created, then deleted.
    let account = client
        .send(
            Method::POST,
            &format!("/api/atlas/v2/orgs/{org}/serviceAccounts"),
            Some("application/vnd.atlas.2024-08-05+json"),
            Some(
                &json!({"name": "robot", "description": "ci", "roles": ["ORG_MEMBER"],
                         "secretExpiresAfterHours": 8}),
            ),
        )
        .await;
    assert_eq!(account.status, 201, "{}", account.text);
    let client_id = account.json["clientId"].as_str().unwrap().to_owned();
    let gone = client
        .send(
            Method::DELETE,
            &format!("/api/atlas/v2/orgs/{org}/serviceAccounts/{client_id}"),
            Some("application/vnd.atlas.2024-08-05+json"),
            None,
        )
        .await;
    assert_eq!(gone.status, 204, "{}", gone.text);

    let events = org_events(&app, "?itemsPerPage=100").await;
    let mut seen = types(&events);
    seen.reverse();
    let expected = [
        "ORG_CREATED",
        "API_KEY_CREATED",
        "TEAM_CREATED",
        "TEAM_NAME_CHANGED",
        "API_KEY_CREATED",
        "API_KEY_DESCRIPTION_CHANGED",
        "INVITED_TO_ORG",
        "JOINED_ORG",
        "JOINED_TEAM",
        "REMOVED_FROM_TEAM",
        "API_KEY_ACCESS_LIST_ENTRY_ADDED",
        "API_KEY_ACCESS_LIST_ENTRY_DELETED",
    ];
    assert_eq!(seen[..expected.len()], expected, "{seen:?}");
    for later in [
        "GROUP_CREATED",
        "TEAM_ADDED_TO_GROUP",
        "API_KEY_DELETED",
        "TEAM_DELETED",
        "SERVICE_ACCOUNT_CREATED",
        "SERVICE_ACCOUNT_DELETED",
    ] {
        assert!(seen.contains(&later), "no {later} in {seen:?}");
    }
    let by_type = |name: &str| {
        events
            .iter()
            .find(|event| event["eventTypeName"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_type("TEAM_NAME_CHANGED")["teamId"], json!(team));
    for membership in ["JOINED_TEAM", "REMOVED_FROM_TEAM"] {
        let event = by_type(membership);
        assert_eq!(event["targetUsername"], "ada@example.com");
        assert_eq!(event["teamId"], json!(team));
    }
    let listed = by_type("API_KEY_ACCESS_LIST_ENTRY_ADDED");
    assert_eq!(listed["targetPublicKey"], public_key);
    assert_eq!(listed["whitelistEntry"], "10.0.0.0/8");
    let added = by_type("TEAM_ADDED_TO_GROUP");
    assert_eq!(added["groupId"], json!(project));
    assert_eq!(
        by_type("SERVICE_ACCOUNT_CREATED")["targetPublicKey"],
        client_id
    );

    // The project's feed has its own events, and only them.
    let project_feed = client
        .get(&format!("/api/atlas/v2/groups/{project}/events"))
        .await;
    assert_eq!(project_feed.status, 200, "{}", project_feed.text);
    let project_types = types(project_feed.json["results"].as_array().unwrap());
    assert_eq!(project_types, ["TEAM_ADDED_TO_GROUP", "GROUP_CREATED"]);
}
