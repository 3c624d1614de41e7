//! Seeds (`serve --seed FILE`): everything a seed declares is there, through the real API with
//! the seed's own credentials; applying it again changes nothing; a broken seed is refused whole,
//! naming its file, line and field.

use orgdoor_test_db::{Backend, TestDatabase};
use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{BINARY, Server, assert_refused, run};
use crate::harness::{Credentials, DigestClient, DigestStyle, V2025};

const V2023: &str = "application/vnd.atlas.2023-01-01+json";

on_both_stores!(
    a_seed_creates_what_it_declares_and_a_second_start_changes_nothing,
    a_broken_seed_is_refused_whole_naming_its_line_and_field,
);

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed.yaml");
const ORG: &str = "6b0000000000000000000001";

async fn start(url: &str, seed: &str) -> Server {
    Server::start_with(tokio::process::Command::new(BINARY), url, &["--seed", seed]).await
}

fn client(server: &Server, public_key: &str, private_key: &str) -> DigestClient {
    DigestClient::new(
        &server.base_url,
        Credentials {
            public_key: public_key.into(),
            private_key: private_key.into(),
        },
        DigestStyle::ChallengeEveryRequest,
    )
}

/// What the organization holds, as the API shows it, without what changes on every read.
async fn everything(owner: &DigestClient) -> Value {
    let mut seen = serde_json::Map::new();
    for (name, path, version) in [
        (
            "keys",
            format!("/api/atlas/v2/orgs/{ORG}/apiKeys"),
            Some(V2023),
        ),
        (
            "teams",
            format!("/api/atlas/v2/orgs/{ORG}/teams"),
            Some(V2023),
        ),
        (
            "projects",
            format!("/api/atlas/v2/orgs/{ORG}/groups"),
            Some(V2023),
        ),
        (
            "invites",
            format!("/api/atlas/v2/orgs/{ORG}/invites"),
            Some(V2023),
        ),
        (
            "users",
            format!(
                "/api/atlas/v2/orgs/{ORG}/users?orgMembershipStatuses=ACTIVE&orgMembershipStatuses=PENDING"
            ),
            Some(V2025),
        ),
        (
            "accounts",
            format!("/api/atlas/v2/orgs/{ORG}/serviceAccounts"),
            Some("application/vnd.atlas.2024-08-05+json"),
        ),
    ] {
        let response = owner.send(Method::GET, &path, version, None).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text);
        let mut body = response.json;
        without_links(&mut body);
        seen.insert(name.to_owned(), body);
    }
    Value::Object(seen)
}

/// `value` without its `links`, which name the server's own address.
fn without_links(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("links");
            map.values_mut().for_each(without_links);
        }
        Value::Array(items) => items.iter_mut().for_each(without_links),
        _ => {}
    }
}

async fn a_seed_creates_what_it_declares_and_a_second_start_changes_nothing(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let mut server = start(&database.url, EXAMPLE).await;
    let owner = client(&server, "acmeboss", "0f7e6d5c-4b3a-4291-8f7e-6d5c4b3a2910");
    let before = everything(&owner).await;

    // Keys with their roles.
    let keys = before["keys"]["results"].as_array().expect("keys");
    let roles_of = |public_key: &str| -> Vec<Value> {
        keys.iter()
            .find(|key| key["publicKey"] == public_key)
            .map(|key| key["roles"].as_array().expect("roles").clone())
            .unwrap_or_default()
    };
    assert_eq!(roles_of("acmeboss")[0]["roleName"], "ORG_OWNER");
    assert_eq!(roles_of("acmeread")[0]["roleName"], "ORG_READ_ONLY");
    let reader = client(&server, "acmeread", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d");
    assert_eq!(
        reader
            .post(
                &format!("/api/atlas/v2/orgs/{ORG}/invites"),
                &json!({"username": "x@example.com", "roles": ["ORG_MEMBER"]})
            )
            .await
            .status,
        401,
        "a read-only key cannot invite"
    );
    // The service account's seeded secret gets a token.
    let token = reqwest::Client::new()
        .post(format!("{}/api/oauth/token", server.base_url))
        .basic_auth(
            "mdb_sa_id_6b0000000000000000000002",
            Some("mdb_sa_sk_seededsecretforacmeci0001"),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("an answer");
    assert_eq!(token.status(), 200);
    // Users active, the invitee pending; the team with both members; the project with the team.
    let users = before["users"]["results"].as_array().expect("users");
    let status_of = |username: &str| {
        users
            .iter()
            .find(|user| user["username"] == username)
            .map(|user| user["orgMembershipStatus"].clone())
    };
    assert_eq!(status_of("ada@example.com"), Some(json!("ACTIVE")));
    assert_eq!(status_of("grace@example.com"), Some(json!("ACTIVE")));
    assert_eq!(status_of("linus@example.com"), Some(json!("PENDING")));
    let ada = users
        .iter()
        .find(|user| user["username"] == "ada@example.com")
        .expect("ada");
    assert_eq!(ada["firstName"], "Ada");
    let team = &before["teams"]["results"][0];
    assert_eq!(team["name"], "platform");
    let team_id = team["id"].as_str().expect("team id");
    let members = owner
        .get(&format!("/api/atlas/v2/orgs/{ORG}/teams/{team_id}/users"))
        .await;
    assert_eq!(members.json["totalCount"], 2, "{}", members.text);
    let project = &before["projects"]["results"][0];
    assert_eq!(project["name"], "production");
    let project_id = project["id"].as_str().expect("project id");
    let project_teams = owner
        .get(&format!("/api/atlas/v2/groups/{project_id}/teams"))
        .await;
    assert_eq!(project_teams.json["results"][0]["teamId"], team_id);
    let invites = before["invites"].as_array().expect("invites");
    assert_eq!(invites.len(), 1);
    assert_eq!(invites[0]["teamIds"], json!([team_id]));
    server.child.kill().await.expect("stopped");

    // Again: nothing changes.
    let mut again = start(&database.url, EXAMPLE).await;
    let owner = client(&again, "acmeboss", "0f7e6d5c-4b3a-4291-8f7e-6d5c4b3a2910");
    assert_eq!(everything(&owner).await, before);
    again.child.kill().await.expect("stopped");
}

#[expect(
    clippy::disallowed_methods,
    reason = "writes the broken seeds the test starts with"
)]
async fn a_broken_seed_is_refused_whole_naming_its_line_and_field(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let dir = tempfile::tempdir().expect("a directory");
    let example = std::fs::read_to_string(EXAMPLE).expect("the example");
    for (name, broken, mention) in [
        (
            "role.yaml",
            example.replace("roles: [ORG_READ_ONLY]", "roles: [ORG_READER]"),
            "line 17, column 16: field organizations[0].apiKeys[1].roles[0]",
        ),
        (
            "email.yaml",
            example.replace("username: grace@example.com", "username: grace.example.com"),
            "organizations[0].users[1].username",
        ),
        (
            "team.yaml",
            example.replace("- team: platform", "- team: nobody"),
            "organizations[0].projects[0].teams[0].team",
        ),
        (
            "syntax.yaml",
            example.replace("    apiKeys:", "    apiKeys: [\n"),
            "line",
        ),
        (
            "type.yaml",
            example.replace(
                "roles: [ORG_MEMBER]\n    users",
                "roles: ORG_MEMBER\n    users",
            ),
            "organizations[0].serviceAccounts[0].roles",
        ),
        (
            "unknown.yaml",
            example.replace(
                "    teams:\n      - name: platform",
                "    teamz:\n      - name: platform",
            ),
            "teamz",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &broken).expect("written");
        let path = path.display().to_string();
        let refused = run(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database.url,
            "--seed",
            &path,
        ])
        .await;
        assert_refused(&refused, &path);
        assert_refused(&refused, mention);
    }
    // Nothing was written: a start without the seed finds an empty store and makes its own
    // organization.
    let mut server =
        Server::start_with(tokio::process::Command::new(BINARY), &database.url, &[]).await;
    assert!(
        server
            .exports
            .iter()
            .any(|(name, _)| name == "MONGODB_ATLAS_PRIVATE_API_KEY"),
        "the store was empty"
    );
    server.child.kill().await.expect("stopped");
}
