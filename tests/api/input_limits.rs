//! Lists past their bounds are refused before any per-item work, and a list at its bound is
//! served, on both stores alike.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{DigestClient, DigestStyle, TestApp, TestResponse, V2023, V2025, spawn_app};
use orgdoor_test_db::Backend;

on_both_stores!(
    sixty_thousand_team_usernames_are_refused_at_once_and_250_are_served,
    every_request_list_is_bounded_and_a_list_at_its_bound_is_served,
);

pub const V2024: &str = "application/vnd.atlas.2024-08-05+json";

/// A client that reuses its nonce, so that a long table of requests costs one round trip each.
pub fn client(app: &TestApp) -> DigestClient {
    DigestClient::new(&app.base_url, app.owner.clone(), DigestStyle::ReuseNonce)
}

#[track_caller]
fn assert_too_many(response: &TestResponse, attribute: &str) {
    response.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        response.json["parameters"],
        json!([attribute]),
        "{}",
        response.text
    );
}

async fn sixty_thousand_team_usernames_are_refused_at_once_and_250_are_served(backend: Backend) {
    let app = spawn_app(backend).await;
    app.member("ada@example.com", &["ORG_MEMBER"]).await;
    app.member("bob@example.com", &["ORG_MEMBER"]).await;
    let client = client(&app);
    let teams = format!("/api/atlas/v2/orgs/{}/teams", app.org_id);

    // 60,000 distinct, well-formed addresses (about 1.3 MB): quadratic de-duplication of these
    // once held the runtime for minutes. The bound is checked before any address is parsed.
    let usernames: Vec<String> = (0..60_000)
        .map(|i| format!("user{i:05}@example.com"))
        .collect();
    let started = Instant::now();
    let refused = client
        .post(&teams, &json!({"name": "huge", "usernames": usernames}))
        .await;
    let took = started.elapsed();
    assert_too_many(&refused, "usernames");
    assert!(
        took < Duration::from_secs(10),
        "the oversized list took {took:?} to refuse"
    );
    assert!(refused.json["detail"].as_str().unwrap().contains("250"));
    assert_eq!(client.get(&teams).await.json["totalCount"], 0);

    // At the bound: 250 entries naming two members, in several spellings, are served; the
    // repeats collapse (case-insensitively) and the first spelling of each is kept.
    let usernames: Vec<&str> = ["ada@example.com", "BOB@example.com", "Ada@Example.com"]
        .into_iter()
        .cycle()
        .take(250)
        .collect();
    let created = client
        .post(&teams, &json!({"name": "full", "usernames": usernames}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(
        created.json["usernames"],
        json!(["ada@example.com", "BOB@example.com"])
    );
    let one_more: Vec<&str> = std::iter::repeat_n("ada@example.com", 251).collect();
    assert_too_many(
        &client
            .post(&teams, &json!({"name": "over", "usernames": one_more}))
            .await,
        "usernames",
    );
}

/// One bounded list: a body carrying `n` items, the bound, and the answer at the bound.
struct Bounded {
    method: Method,
    path: String,
    accept: &'static str,
    attribute: &'static str,
    limit: usize,
    ok: u16,
    body: Box<dyn Fn(usize) -> Value>,
}

/// An access-list body of `n` distinct addresses.
fn access_list_entries(n: usize) -> Value {
    let address = |i: usize| format!("10.{}.{}.1", i / 256, i % 256);
    Value::Array((0..n).map(|i| json!({"ipAddress": address(i)})).collect())
}

/// A body of `n` copies of `team` as `teamIds`.
fn team_ids(team: &str) -> Box<dyn Fn(usize) -> Value> {
    let team = team.to_owned();
    Box::new(move |n| json!({"teamIds": repeat(json!(team), n)}))
}

fn repeat(value: Value, n: usize) -> Value {
    Value::Array(vec![value; n])
}

/// Ids, projects and keys the tables below refer to.
pub struct Fixture {
    pub org: String,
    pub team: String,
    pub group: String,
    pub ada: String,
    pub bob: String,
    pub key: String,
    pub account: String,
    pub invitation: String,
    pub project_invitation: String,
    pub hopper: String,
}

pub async fn fixture(app: &TestApp) -> Fixture {
    let client = client(app);
    let org = app.org_id.clone();
    let ada = app.member("ada@example.com", &["ORG_MEMBER"]).await;
    let bob = app.member("bob@example.com", &["ORG_MEMBER"]).await;
    let team = app.create_team("core").await;
    let group = app.create_project("proj").await;
    let key = client
        .post(
            &format!("/api/atlas/v2/orgs/{org}/apiKeys"),
            &json!({"desc": "fixture key", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    assert_eq!(key.status, 200, "{}", key.text);
    let account = client
        .send(
            Method::POST,
            &format!("/api/atlas/v2/orgs/{org}/serviceAccounts"),
            Some(V2024),
            Some(&json!({"name": "robot", "description": "CI robot", "roles": ["ORG_MEMBER"], "secretExpiresAfterHours": 24})),
        )
        .await;
    assert_eq!(account.status, 201, "{}", account.text);
    let invitation = app.invite("grace@example.com", &["ORG_MEMBER"]).await;
    assert_eq!(invitation.status, 200, "{}", invitation.text);
    let project_invitation = client
        .post(
            &format!("/api/atlas/v2/groups/{group}/invites"),
            &json!({"username": "lin@example.com", "roles": ["GROUP_READ_ONLY"]}),
        )
        .await;
    assert_eq!(
        project_invitation.status, 200,
        "{}",
        project_invitation.text
    );
    client
        .assign_team(&group, &team, &["GROUP_READ_ONLY"])
        .await;
    let hopper = app
        .pending_user("hopper@example.com", &["ORG_MEMBER"])
        .await;
    Fixture {
        org,
        team,
        group,
        ada,
        bob,
        key: key.id(),
        account: account.json["clientId"].as_str().unwrap().to_owned(),
        invitation: invitation.id(),
        project_invitation: project_invitation.id(),
        hopper,
    }
}

fn bounded_lists(f: &Fixture) -> Vec<Bounded> {
    let org = f.org.clone();
    let (team, group, ada, bob) = (
        f.team.clone(),
        f.group.clone(),
        f.ada.clone(),
        f.bob.clone(),
    );
    let invites = format!("/api/atlas/v2/orgs/{org}/invites");
    let users = format!("/api/atlas/v2/orgs/{org}/users");
    let key_access_list = format!("/api/atlas/v2/orgs/{org}/apiKeys/{}/accessList", f.key);
    let account_access_list = format!(
        "/api/atlas/v2/orgs/{org}/serviceAccounts/{}/accessList",
        f.account
    );
    let bounded = |method: Method,
                   path: String,
                   accept: &'static str,
                   attribute: &'static str,
                   limit: usize,
                   ok: u16,
                   body: Box<dyn Fn(usize) -> Value>| Bounded {
        method,
        path,
        accept,
        attribute,
        limit,
        ok,
        body,
    };
    vec![
        bounded(
            Method::POST,
            format!("/api/atlas/v2/orgs/{org}/teams/{team}/users"),
            V2023,
            "id",
            250,
            200,
            Box::new({
                let bob = bob.clone();
                move |n| repeat(json!({"id": bob}), n)
            }),
        ),
        bounded(
            Method::POST,
            invites.clone(),
            V2023,
            "roles",
            20,
            200,
            Box::new(
                |n| json!({"username": "u1@example.com", "roles": repeat(json!("ORG_MEMBER"), n)}),
            ),
        ),
        bounded(
            Method::POST,
            invites.clone(),
            V2023,
            "teamIds",
            250,
            200,
            Box::new({
                let team = team.clone();
                move |n| json!({"username": "u1@example.com", "roles": ["ORG_MEMBER"], "teamIds": repeat(json!(team), n)})
            }),
        ),
        bounded(
            Method::POST,
            invites.clone(),
            V2023,
            "groupRoleAssignments",
            250,
            200,
            Box::new({
                let group = group.clone();
                move |n| json!({"username": "u1@example.com", "roles": ["ORG_MEMBER"], "groupRoleAssignments": repeat(json!({"groupId": group, "roles": ["GROUP_READ_ONLY"]}), n)})
            }),
        ),
        bounded(
            Method::POST,
            invites.clone(),
            V2023,
            "groupRoleAssignments.roles",
            20,
            200,
            Box::new({
                let group = group.clone();
                move |n| json!({"username": "u1@example.com", "roles": ["ORG_MEMBER"], "groupRoleAssignments": [{"groupId": group, "roles": repeat(json!("GROUP_OWNER"), n)}]})
            }),
        ),
        bounded(
            Method::PATCH,
            format!("{invites}/{}", f.invitation),
            V2023,
            "teamIds",
            250,
            200,
            team_ids(&team),
        ),
        bounded(
            Method::POST,
            users.clone(),
            V2025,
            "roles.orgRoles",
            20,
            201,
            Box::new(
                |n| json!({"username": "u2@example.com", "roles": {"orgRoles": repeat(json!("ORG_MEMBER"), n)}}),
            ),
        ),
        bounded(
            Method::POST,
            users.clone(),
            V2025,
            "teamIds",
            250,
            201,
            Box::new({
                let team = team.clone();
                move |n| json!({"username": "u3@example.com", "roles": {"orgRoles": ["ORG_MEMBER"]}, "teamIds": repeat(json!(team), n)})
            }),
        ),
        bounded(
            Method::POST,
            users.clone(),
            V2025,
            "roles.groupRoleAssignments",
            250,
            201,
            Box::new({
                let group = group.clone();
                move |n| json!({"username": "u4@example.com", "roles": {"orgRoles": ["ORG_MEMBER"], "groupRoleAssignments": repeat(json!({"groupId": group, "groupRoles": ["GROUP_READ_ONLY"]}), n)}})
            }),
        ),
        bounded(
            Method::POST,
            users.clone(),
            V2025,
            "roles.groupRoleAssignments.groupRoles",
            20,
            201,
            Box::new({
                let group = group.clone();
                move |n| json!({"username": "u5@example.com", "roles": {"orgRoles": ["ORG_MEMBER"], "groupRoleAssignments": [{"groupId": group, "groupRoles": repeat(json!("GROUP_OWNER"), n)}]}})
            }),
        ),
        bounded(
            Method::PATCH,
            format!("{users}/{}", f.hopper),
            V2025,
            "teamIds",
            250,
            200,
            team_ids(&team),
        ),
        bounded(
            Method::PUT,
            format!("{users}/{ada}/roles"),
            V2023,
            "orgRoles",
            20,
            200,
            Box::new(|n| json!({"orgRoles": repeat(json!("ORG_MEMBER"), n)})),
        ),
        bounded(
            Method::POST,
            format!("/api/atlas/v2/groups/{group}/teams"),
            V2023,
            "teamId",
            100,
            200,
            Box::new({
                let team = team.clone();
                move |n| repeat(json!({"teamId": team, "roleNames": ["GROUP_READ_ONLY"]}), n)
            }),
        ),
        bounded(
            Method::PATCH,
            format!("/api/atlas/v2/groups/{group}/teams/{team}"),
            V2023,
            "roleNames",
            20,
            200,
            Box::new(|n| json!({"roleNames": repeat(json!("GROUP_OWNER"), n)})),
        ),
        bounded(
            Method::POST,
            "/api/atlas/v2/groups".to_owned(),
            V2023,
            "tags",
            50,
            200,
            Box::new({
                let org = org.clone();
                move |n| {
                    let tags: Vec<Value> = (0..n)
                        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
                        .collect();
                    json!({"name": "tagged", "orgId": org, "tags": tags})
                }
            }),
        ),
        bounded(
            Method::PATCH,
            format!("/api/atlas/v2/groups/{group}"),
            V2023,
            "tags",
            50,
            200,
            Box::new(|n| {
                let tags: Vec<Value> = (0..n)
                    .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
                    .collect();
                json!({"tags": tags})
            }),
        ),
        bounded(
            Method::POST,
            format!("/api/atlas/v2/groups/{group}/invites"),
            V2023,
            "roles",
            20,
            200,
            Box::new(
                |n| json!({"username": "u6@example.com", "roles": repeat(json!("GROUP_READ_ONLY"), n)}),
            ),
        ),
        bounded(
            Method::PATCH,
            format!(
                "/api/atlas/v2/groups/{group}/invites/{}",
                f.project_invitation
            ),
            V2023,
            "roles",
            20,
            200,
            Box::new(|n| json!({"roles": repeat(json!("GROUP_OWNER"), n)})),
        ),
        bounded(
            Method::POST,
            format!("/api/atlas/v2/orgs/{org}/apiKeys"),
            V2023,
            "roles",
            20,
            200,
            Box::new(|n| json!({"desc": "many roles", "roles": repeat(json!("ORG_MEMBER"), n)})),
        ),
        bounded(
            Method::POST,
            key_access_list,
            V2023,
            "accessList",
            200,
            200,
            Box::new(access_list_entries),
        ),
        bounded(
            Method::POST,
            format!("/api/atlas/v2/orgs/{org}/serviceAccounts"),
            V2024,
            "roles",
            20,
            201,
            Box::new(
                |n| json!({"name": "many roles", "description": "roles", "roles": repeat(json!("ORG_MEMBER"), n), "secretExpiresAfterHours": 24}),
            ),
        ),
        bounded(
            Method::POST,
            account_access_list,
            V2024,
            "accessList",
            200,
            200,
            Box::new(access_list_entries),
        ),
        bounded(
            Method::POST,
            "/api/atlas/v2/orgs".to_owned(),
            V2023,
            "apiKey.roles",
            20,
            201,
            Box::new(
                move |n| json!({"name": "suite-org", "orgOwnerId": ada, "apiKey": {"desc": "suite", "roles": repeat(json!("ORG_OWNER"), n)}}),
            ),
        ),
    ]
}

async fn every_request_list_is_bounded_and_a_list_at_its_bound_is_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let fixture = fixture(&app).await;
    let client = client(&app);
    for case in bounded_lists(&fixture) {
        let what = format!("{} {} {}", case.method, case.path, case.attribute);
        let over = client
            .send(
                case.method.clone(),
                &case.path,
                Some(case.accept),
                Some(&(case.body)(case.limit + 1)),
            )
            .await;
        assert_eq!(over.status, 400, "{what}: {}", over.text);
        assert_too_many(&over, case.attribute);
        let at = client
            .send(
                case.method.clone(),
                &case.path,
                Some(case.accept),
                Some(&(case.body)(case.limit)),
            )
            .await;
        assert_eq!(at.status, case.ok, "{what} at its bound: {}", at.text);
    }
}
