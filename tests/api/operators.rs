//! What operators and test suites do from the command line: a fixed owner key, the inventory
//! of organizations and keys, revoking a key, `--listen localhost:PORT`, shell completions.

use orgdoor_test_db::{Backend, TestDatabase};
use serde_json::Value;

use crate::cli::{BINARY, Server, assert_refused, run, run_ok};
use crate::harness::Credentials;

on_both_stores!(
    a_fixed_key_works_from_the_first_request_and_survives_restarts,
    a_fixed_key_joins_an_existing_store_and_a_mismatch_is_refused,
    organizations_and_keys_are_listed_and_a_key_revoked,
);

const PUBLIC: &str = "fixedkey";
const PRIVATE: &str = "5f0c3c1e-4c1b-4f7a-9f55-2c1d7e6b8a90";

async fn start_fixed(url: &str) -> Server {
    Server::start_with(
        tokio::process::Command::new(BINARY),
        url,
        &["--public-key", PUBLIC, "--private-key", PRIVATE],
    )
    .await
}

fn fixed() -> Credentials {
    Credentials {
        public_key: PUBLIC.into(),
        private_key: PRIVATE.into(),
    }
}

fn lines(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

async fn a_fixed_key_works_from_the_first_request_and_survives_restarts(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let mut server = start_fixed(&database.url).await;
    assert_eq!(server.export("MONGODB_ATLAS_PUBLIC_API_KEY"), PUBLIC);
    let org = server.org_id().to_owned();
    let read = server
        .client(fixed())
        .get(&format!("/api/atlas/v2/orgs/{org}"))
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    server.child.kill().await.expect("stopped");

    // Again with the key, then without it: the same organization, the key still works.
    let mut again = start_fixed(&database.url).await;
    assert_eq!(again.org_id(), org);
    again.child.kill().await.expect("stopped");
    let mut plain =
        Server::start_with(tokio::process::Command::new(BINARY), &database.url, &[]).await;
    let read = plain
        .client(fixed())
        .get(&format!("/api/atlas/v2/orgs/{org}"))
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    plain.child.kill().await.expect("stopped");
}

async fn a_fixed_key_joins_an_existing_store_and_a_mismatch_is_refused(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let mut first =
        Server::start_with(tokio::process::Command::new(BINARY), &database.url, &[]).await;
    let org = first.org_id().to_owned();
    first.child.kill().await.expect("stopped");

    let mut fixed_start = start_fixed(&database.url).await;
    assert_eq!(
        fixed_start.org_id(),
        org,
        "the key joins the oldest organization"
    );
    let listed = fixed_start
        .client(fixed())
        .get(&format!("/api/atlas/v2/orgs/{org}/apiKeys"))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    fixed_start.child.kill().await.expect("stopped");

    let refused = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &database.url,
        "--public-key",
        PUBLIC,
        "--private-key",
        "another-private-key",
    ])
    .await;
    assert_refused(&refused, "already exists with another private key");
    let malformed = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &database.url,
        "--public-key",
        "NotAKey",
        "--private-key",
        PRIVATE,
    ])
    .await;
    assert_refused(&malformed, "8 lowercase letters");
}

async fn organizations_and_keys_are_listed_and_a_key_revoked(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let mut server = start_fixed(&database.url).await;
    let org = server.org_id().to_owned();
    let url = database.url.as_str();

    let orgs = lines(&run_ok(&["org", "list", "--database-url", url]).await);
    assert_eq!(orgs.len(), 1, "{orgs:?}");
    assert_eq!(orgs[0]["id"], org.as_str());
    assert_eq!(orgs[0]["name"], "orgdoor");

    let created = run_ok(&[
        "api-key",
        "create",
        "--org",
        &org,
        "--role",
        "ORG_MEMBER",
        "--database-url",
        url,
    ])
    .await;
    let created: Value = serde_json::from_slice(&created.stdout).expect("JSON");
    let member = created["publicKey"].as_str().expect("a key").to_owned();
    let keys = lines(&run_ok(&["api-key", "list", "--org", &org, "--database-url", url]).await);
    // Both made within one second: the order among them is the ids'.
    let mut public_keys: Vec<&str> = keys
        .iter()
        .filter_map(|key| key["publicKey"].as_str())
        .collect();
    public_keys.sort_unstable();
    let mut expected = [PUBLIC, member.as_str()];
    expected.sort_unstable();
    assert_eq!(public_keys, expected);
    let owner_key = keys
        .iter()
        .find(|key| key["publicKey"] == PUBLIC)
        .expect("the fixed key");
    assert_eq!(owner_key["roles"], serde_json::json!(["ORG_OWNER"]));
    let listing = serde_json::to_string(&keys).expect("JSON");
    assert!(!listing.contains(PRIVATE) && !listing.to_lowercase().contains("private"));

    run_ok(&[
        "api-key",
        "revoke",
        "--org",
        &org,
        &member,
        "--database-url",
        url,
    ])
    .await;
    let member_client = server.client(Credentials {
        public_key: member.clone(),
        private_key: created["privateKey"].as_str().expect("private").to_owned(),
    });
    assert_eq!(
        member_client
            .get(&format!("/api/atlas/v2/orgs/{org}"))
            .await
            .status,
        401
    );
    assert_refused(
        &run(&[
            "api-key",
            "revoke",
            "--org",
            &org,
            &member,
            "--database-url",
            url,
        ])
        .await,
        "has no API key",
    );
    server.child.kill().await.expect("stopped");
}

#[tokio::test]
async fn localhost_is_a_listen_address_and_completions_name_the_commands() {
    let database = TestDatabase::sqlite();
    let mut command = tokio::process::Command::new(BINARY);
    command
        .args([
            "serve",
            "--listen",
            "localhost:0",
            "--database-url",
            &database.url,
        ])
        .stderr(std::process::Stdio::null());
    let mut server = Server::spawn(command).await;
    let url = format!("{}/", server.base_url);
    assert!(
        url.starts_with("http://127.0.0.1:") || url.starts_with("http://[::1]:"),
        "{url}"
    );
    let health = reqwest::get(format!("{url}health"))
        .await
        .expect("an answer");
    assert_eq!(health.status(), 200);
    server.child.kill().await.expect("stopped");

    let script = run_ok(&["completions", "bash"]).await;
    let script = String::from_utf8_lossy(&script.stdout);
    for command in [
        "serve",
        "api-key",
        "revoke",
        "--control-token",
        "--ephemeral",
    ] {
        assert!(
            script.contains(command),
            "{command} missing from the bash completions"
        );
    }
    assert_refused(&run(&["serve", "--listen", "nowhere"]).await, "HOST:PORT");
}
