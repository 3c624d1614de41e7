//! Invitation lists held in memory: a write made through an instance shows in its lists before
//! it is answered, one made elsewhere within a poll of the store's changes, an instance whose
//! readings of the changes come late reads them before it serves a list, and a held list never
//! outlives the invitations in it. Org-users pages are held alike, each for the server second it was read in.

use std::sync::Arc;
use std::time::Duration;

use orgdoor::freshness::FRESH_FOR;
use orgdoor::held_views::HeldViews;
use orgdoor_test_db::Backend;
use serde_json::{Value, json};

use crate::harness::{DigestClient, DigestStyle, TestApp, V2025, eventually, spawn_app};
use reqwest::Method;

on_both_stores!(
    a_write_shows_in_the_lists_of_its_instance_before_it_is_answered,
    a_write_through_another_instance_reaches_the_list_within_a_poll,
    an_instance_whose_readings_are_late_reads_the_changes_before_it_serves_a_list,
    a_held_list_never_outlives_its_invitations_or_predates_them,
    held_users_pages_follow_writes_the_clock_and_their_own_query,
);

/// A second instance on the app's store, adjusted by `adjust`, with an owner client that reuses
/// nonces, and the lists it holds.
async fn second_instance(
    app: &TestApp,
    adjust: impl FnOnce(orgdoor::Application) -> orgdoor::Application,
) -> (DigestClient, Arc<HeldViews>) {
    let mut lists = None;
    let url = app
        .spawn_instance_with(|instance| {
            let instance = adjust(instance);
            lists = Some(instance.held_views());
            instance
        })
        .await;
    let client = DigestClient::new(&url, app.owner.clone(), DigestStyle::ReuseNonce);
    (client, lists.expect("the instance was built"))
}

/// The usernames `client` lists, in order.
async fn usernames(client: &DigestClient, invites: &str) -> Vec<String> {
    let listed = client.get(invites).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    listed
        .json
        .as_array()
        .expect("a bare array")
        .iter()
        .map(|invitation| invitation["username"].as_str().unwrap().to_owned())
        .collect()
}

/// Lists until the instance holds the organization's list (the first reading of the store's
/// changes may not have been made when it started).
async fn until_held(client: &DigestClient, lists: &HeldViews, invites: &str) {
    eventually("the list is held", || async {
        usernames(client, invites).await;
        lists.size().0 == 1
    })
    .await;
}

fn invitation(username: &str) -> Value {
    json!({"username": username, "roles": ["ORG_MEMBER"]})
}

async fn a_write_shows_in_the_lists_of_its_instance_before_it_is_answered(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, lists) = second_instance(&app, |instance| instance).await;
    let invites = app.invites_path();
    until_held(&owner, &lists, &invites).await;
    assert_eq!(usernames(&owner, &invites).await, Vec::<String>::new());

    let created = owner.post(&invites, &invitation("first@example.com")).await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(usernames(&owner, &invites).await, ["first@example.com"]);
    assert_eq!(lists.size().0, 1, "held again");

    let id = created.json["id"].as_str().unwrap();
    let item = format!("{invites}/{id}");
    let changed = owner
        .patch(&item, &json!({"roles": ["ORG_BILLING_ADMIN"]}))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let listed = owner.get(&invites).await;
    assert_eq!(listed.json[0]["roles"], json!(["ORG_BILLING_ADMIN"]));

    assert_eq!(owner.delete(&item).await.status, 204);
    assert_eq!(usernames(&owner, &invites).await, Vec::<String>::new());
}

async fn a_write_through_another_instance_reaches_the_list_within_a_poll(backend: Backend) {
    let app = spawn_app(backend).await;
    let (second, lists) = second_instance(&app, |instance| instance).await;
    let invites = app.invites_path();
    until_held(&second, &lists, &invites).await;

    let created = app
        .owner()
        .post(&invites, &invitation("elsewhere@example.com"))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let took = eventually("the other instance lists the new invitation", || async {
        usernames(&second, &invites).await == ["elsewhere@example.com"]
    })
    .await;
    // The bound is a poll (10 ms) plus a reading; this only catches an instance that never
    // hears.
    assert!(took < Duration::from_secs(1), "{took:?}");

    let org = format!("/api/atlas/v2/orgs/{}", app.org_id);
    let renamed = app
        .owner()
        .patch(&org, &json!({"name": "renamed-org"}))
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    eventually("the other instance lists the new name", || async {
        second.get(&invites).await.json[0]["orgName"] == "renamed-org"
    })
    .await;

    let id = created.json["id"].as_str().unwrap();
    let deleted = app.owner().delete(&format!("{invites}/{id}")).await;
    assert_eq!(deleted.status, 204);
    eventually(
        "the other instance drops the cancelled invitation",
        || async { usernames(&second, &invites).await.is_empty() },
    )
    .await;
}

async fn an_instance_whose_readings_are_late_reads_the_changes_before_it_serves_a_list(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    // Polls once an hour: the only readings it makes are those its requests ask for, as if
    // every poll came late (a busy core, a slow store). It holds no credentials, whose own
    // look would ask for a reading first.
    let (late, lists) = second_instance(&app, |instance| {
        instance
            .with_credential_poll(Duration::from_secs(3600))
            .with_credential_cache(0)
    })
    .await;
    let invites = app.invites_path();
    until_held(&late, &lists, &invites).await;

    // Each time the last reading is too old, a reading confirms the list: it is not read again.
    let kept = lists.kept();
    for _ in 0..3 {
        tokio::time::sleep(FRESH_FOR + Duration::from_millis(20)).await;
        assert_eq!(usernames(&late, &invites).await, Vec::<String>::new());
    }
    assert_eq!(lists.kept(), kept, "read from the store again");

    // A write elsewhere, unheard until a request asks: the first list after it shows it, since
    // the reading it waits for began after it was asked.
    tokio::time::sleep(FRESH_FOR + Duration::from_millis(20)).await;
    let created = app
        .owner()
        .post(&invites, &invitation("unheard@example.com"))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(usernames(&late, &invites).await, ["unheard@example.com"]);
    assert_eq!(lists.kept(), kept + 1);
}

async fn a_held_list_never_outlives_its_invitations_or_predates_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let (second, lists) = second_instance(&app, |instance| instance).await;
    let invites = app.invites_path();
    let created = app
        .owner()
        .post(&invites, &invitation("expiring@example.com"))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    until_held(&second, &lists, &invites).await;
    assert_eq!(usernames(&second, &invites).await, ["expiring@example.com"]);

    // Invitations expire after 30 days; no write tells the instance.
    app.clock.advance(time::Duration::days(31));
    assert_eq!(usernames(&second, &invites).await, Vec::<String>::new());
    // The empty list read then does not hold for an earlier time (the control API can move
    // the server clock back).
    assert_eq!(lists.size().0, 1);
    app.clock.advance(time::Duration::days(-30));
    assert_eq!(usernames(&second, &invites).await, ["expiring@example.com"]);
}

/// The usernames on a page of the organization's users (2025 operation) asked with `query`.
async fn page_of_users(client: &DigestClient, app: &TestApp, query: &str) -> Vec<String> {
    let path = format!("{}?{query}", app.users_path());
    let page = client.send(Method::GET, &path, Some(V2025), None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    page.json["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|user| user["username"].as_str().unwrap().to_owned())
        .collect()
}

async fn held_users_pages_follow_writes_the_clock_and_their_own_query(backend: Backend) {
    let app = spawn_app(backend).await;
    let (second, views) = second_instance(&app, |instance| instance).await;
    let invites = app.invites_path();
    for username in ["a@example.com", "b@example.com"] {
        let created = app.owner().post(&invites, &invitation(username)).await;
        assert_eq!(created.status, 200, "{}", created.text);
    }
    let first_page = "itemsPerPage=1&pageNum=1";
    let second_page = "itemsPerPage=1&pageNum=2";
    eventually("both pages are held", || async {
        page_of_users(&second, &app, first_page).await;
        page_of_users(&second, &app, second_page).await;
        views.size().0 == 2
    })
    .await;
    // Held apart: each answers its own query.
    assert_eq!(
        page_of_users(&second, &app, first_page).await,
        ["a@example.com"]
    );
    assert_eq!(
        page_of_users(&second, &app, second_page).await,
        ["b@example.com"]
    );
    // The same parameters in another split are another query, not the same page.
    assert_eq!(
        page_of_users(&second, &app, "itemsPerPage=1&pageNum=2&pageNum=1").await,
        ["b@example.com"]
    );

    // A write through the instance shows before it is answered; one elsewhere within a poll.
    let created = second.post(&invites, &invitation("0@example.com")).await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(
        page_of_users(&second, &app, first_page).await,
        ["0@example.com"]
    );
    let removed = app
        .owner()
        .delete(&format!(
            "{invites}/{}",
            created.json["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(removed.status, 204);
    eventually(
        "the other instance's page loses the cancelled invitee",
        || async { page_of_users(&second, &app, first_page).await == ["a@example.com"] },
    )
    .await;

    // Pending invitees leave the default list (active and pending) as they expire, with no
    // write to say so; the page read a second earlier is not used.
    app.clock.advance(time::Duration::days(31));
    assert_eq!(
        page_of_users(&second, &app, first_page).await,
        Vec::<String>::new()
    );
    app.clock.advance(time::Duration::days(-31));
    assert_eq!(
        page_of_users(&second, &app, first_page).await,
        ["a@example.com"]
    );
}
