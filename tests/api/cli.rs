//! The real `orgdoor` binary: `serve`'s printed credentials, `bootstrap`, `api-key create`,
//! `migrate`, and durability across `kill -9`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::{Credentials, DigestClient, DigestStyle};
use orgdoor_test_db::{Backend, TestDatabase};

on_both_stores!(
    serve_prints_credentials_that_work_on_first_start_only,
    bootstrap_and_api_key_create_print_usable_keys_while_the_server_runs,
    migrate_is_idempotent,
    acknowledged_invitations_survive_kill_dash_nine,
);

const BINARY: &str = env!("CARGO_BIN_EXE_orgdoor");

struct Server {
    child: Child,
    base_url: String,
    exports: Vec<(String, String)>,
}

impl Server {
    /// Starts `orgdoor serve` on a random port and reads what it prints until the credentials
    /// (first start) or the listening line (later starts) are out.
    async fn start(database_url: &str, expect_credentials: bool) -> Server {
        let mut child = Command::new(BINARY)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("orgdoor starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut base_url = String::new();
        let mut exports = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("orgdoor listening on ") {
                    base_url = url.trim_end_matches('/').to_owned();
                    if !expect_credentials {
                        break;
                    }
                }
                if let Some(export) = line.strip_prefix("export ") {
                    let (name, value) = export.split_once('=').unwrap();
                    exports.push((name.to_owned(), value.to_owned()));
                    if name == "MONGODB_ATLAS_OPS_MANAGER_URL" {
                        break;
                    }
                }
            }
        })
        .await
        .expect("the server prints its address in time");
        assert!(!base_url.is_empty(), "no listening line");
        Server {
            child,
            base_url,
            exports,
        }
    }

    fn export(&self, name: &str) -> &str {
        &self
            .exports
            .iter()
            .find(|(key, _)| key == name)
            .unwrap_or_else(|| panic!("{name} not printed"))
            .1
    }

    fn credentials(&self) -> Credentials {
        Credentials {
            public_key: self.export("MONGODB_ATLAS_PUBLIC_API_KEY").to_owned(),
            private_key: self.export("MONGODB_ATLAS_PRIVATE_API_KEY").to_owned(),
        }
    }
}

async fn run(args: &[&str]) -> std::process::Output {
    Command::new(BINARY)
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("orgdoor runs")
}

async fn serve_prints_credentials_that_work_on_first_start_only(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    let mut server = Server::start(&url, true).await;
    assert_eq!(
        server.export("MONGODB_ATLAS_OPS_MANAGER_URL"),
        format!("{}/", server.base_url)
    );
    let org = server.export("MONGODB_ATLAS_ORG_ID").to_owned();
    let client = DigestClient::new(
        &server.base_url,
        server.credentials(),
        DigestStyle::ChallengeEveryRequest,
    );
    let listed = client
        .get(&format!("/api/atlas/v2/orgs/{org}/invites"))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    server.child.kill().await.unwrap();

    let mut again = Server::start(&url, false).await;
    assert!(
        again.exports.is_empty(),
        "credentials are printed once, on an empty store"
    );
    let client = DigestClient::new(
        &again.base_url,
        server.credentials(),
        DigestStyle::ChallengeEveryRequest,
    );
    assert_eq!(
        client
            .get(&format!("/api/atlas/v2/orgs/{org}"))
            .await
            .status,
        200
    );
    again.child.kill().await.unwrap();
}

async fn bootstrap_and_api_key_create_print_usable_keys_while_the_server_runs(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    let mut server = Server::start(&url, true).await;

    let output = run(&[
        "bootstrap",
        "--org-name",
        "Scripted",
        "--database-url",
        &url,
    ])
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "exactly one JSON object: {stdout}"
    );
    let created: Value = serde_json::from_str(&stdout).unwrap();
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["orgId", "orgName", "privateKey", "publicKey"]);
    assert_eq!(created["orgName"], "Scripted");
    let org = created["orgId"].as_str().unwrap().to_owned();
    let owner = Credentials {
        public_key: created["publicKey"].as_str().unwrap().to_owned(),
        private_key: created["privateKey"].as_str().unwrap().to_owned(),
    };
    let owner_client =
        DigestClient::new(&server.base_url, owner, DigestStyle::ChallengeEveryRequest);
    let invites = format!("/api/atlas/v2/orgs/{org}/invites");
    assert_eq!(
        owner_client
            .post(
                &invites,
                &json!({"username": "ada@example.com", "roles": ["ORG_MEMBER"]})
            )
            .await
            .status,
        200
    );

    let output = run(&[
        "api-key",
        "create",
        "--org",
        &org,
        "--role",
        "ORG_MEMBER",
        "--role",
        "ORG_READ_ONLY",
        "--database-url",
        &url,
    ])
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let minted: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(minted["orgId"], org.as_str());
    let member = Credentials {
        public_key: minted["publicKey"].as_str().unwrap().to_owned(),
        private_key: minted["privateKey"].as_str().unwrap().to_owned(),
    };
    let member_client =
        DigestClient::new(&server.base_url, member, DigestStyle::ChallengeEveryRequest);
    assert_eq!(
        member_client
            .get(&format!("/api/atlas/v2/orgs/{org}"))
            .await
            .status,
        200
    );
    member_client
        .get(&invites)
        .await
        .assert_error(401, "NOT_ORG_OWNER");

    let refused = run(&[
        "api-key",
        "create",
        "--org",
        "0123456789abcdef01234567",
        "--role",
        "ORG_OWNER",
        "--database-url",
        &url,
    ])
    .await;
    assert!(!refused.status.success());
    let refused = run(&[
        "api-key",
        "create",
        "--org",
        &org,
        "--role",
        "ORG_EMPEROR",
        "--database-url",
        &url,
    ])
    .await;
    assert!(!refused.status.success());
    server.child.kill().await.unwrap();
}

async fn migrate_is_idempotent(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    for _ in 0..2 {
        let output = run(&["migrate", "--database-url", &url]).await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

async fn acknowledged_invitations_survive_kill_dash_nine(backend: Backend) {
    const COUNT: usize = 60;
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    let mut server = Server::start(&url, true).await;
    let credentials = server.credentials();
    let org = server.export("MONGODB_ATLAS_ORG_ID").to_owned();
    let invites = format!("/api/atlas/v2/orgs/{org}/invites");
    let client = DigestClient::new(
        &server.base_url,
        credentials.clone(),
        DigestStyle::ReuseNonce,
    );
    let mut acknowledged = Vec::new();
    for n in 0..COUNT {
        let response = client
            .post(
                &invites,
                &json!({"username": format!("user{n}@example.com"), "roles": ["ORG_MEMBER"]}),
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.text);
        acknowledged.push(response.json["id"].as_str().unwrap().to_owned());
    }
    // SIGKILL: no shutdown, no flush.
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();

    let mut restarted = Server::start(&url, false).await;
    let client = DigestClient::new(
        &restarted.base_url,
        credentials,
        DigestStyle::ChallengeEveryRequest,
    );
    let listed = client.get(&invites).await;
    let mut found: Vec<String> = listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    found.sort();
    acknowledged.sort();
    assert_eq!(found, acknowledged);
    restarted.child.kill().await.unwrap();
}
