//! The real `orgdoor` binary: `serve`'s printed credentials, `bootstrap`, `api-key create`,
//! `invitation accept|decline`, `migrate`, and durability across `kill -9`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::{
    Credentials, DigestClient, DigestStyle, GO_TEMPLATE, V2023, authorization, challenge_nonce,
};
use orgdoor_test_db::{Backend, TestDatabase};

on_both_stores!(
    serve_prints_credentials_that_work_on_first_start_only,
    bootstrap_and_api_key_create_print_usable_keys_while_the_server_runs,
    migrate_is_idempotent,
    acknowledged_invitations_survive_kill_dash_nine,
    acknowledged_invitations_survive_kill_dash_nine_during_a_write_storm,
    sigterm_finishes_in_flight_requests_before_exiting,
    of_two_servers_starting_on_one_empty_store_one_prints_credentials,
    invitations_are_answered_from_the_command_line,
);

pub const BINARY: &str = env!("CARGO_BIN_EXE_orgdoor");

/// The store's files and the secrets key file are the owner's alone, and a store refuses to
/// open with another secrets key.
#[tokio::test]
#[expect(
    clippy::disallowed_methods,
    reason = "a test looking at the files the server made"
)]
async fn serve_keeps_its_files_private_and_its_store_refuses_a_foreign_secrets_key() {
    use std::os::unix::fs::PermissionsExt;

    let database = TestDatabase::sqlite();
    let path = database.url.trim_start_matches("sqlite://").to_owned();
    let server = Server::start(&database.url).await;
    let owner = server.client(server.credentials());
    let created = owner
        .post(
            &format!("/api/atlas/v2/orgs/{}/invites", server.org_id()),
            &json!({"username": "private@example.com", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    for suffix in ["", "-wal", "-shm", ".key"] {
        let file = format!("{path}{suffix}");
        let mode = std::fs::metadata(&file)
            .unwrap_or_else(|error| panic!("{file}: {error}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} has mode {:o}", mode & 0o777);
    }
    drop(server);

    let foreign = format!("{path}.other-key");
    let refused = run(&[
        "migrate",
        "--database-url",
        &database.url,
        "--secrets-key-file",
        &foreign,
    ])
    .await;
    assert_refused(&refused, "secrets key");
}

/// The working directory of every server and command these tests start: a PostgreSQL store's
/// default secrets key file (`orgdoor-secrets.key`) goes there, shared by a test's server and
/// its commands, and not into the repository.
fn work_dir() -> &'static std::path::Path {
    static DIR: std::sync::LazyLock<tempfile::TempDir> =
        std::sync::LazyLock::new(|| tempfile::tempdir().expect("a temporary directory"));
    DIR.path()
}

pub struct Server {
    pub child: Child,
    pub base_url: String,
    /// Where `/metrics` is served, if `--metrics-listen` moved it.
    pub metrics_url: Option<String>,
    pub exports: Vec<(String, String)>,
}

impl Server {
    /// Starts `orgdoor serve` on a random port and reads what it prints up to the listening
    /// line, which comes last.
    async fn start(database_url: &str) -> Server {
        Self::start_with(Command::new(BINARY), database_url, &[]).await
    }

    /// Starts `program` (the binary, or a wrapper that runs it, such as `prlimit`) with
    /// `serve` and `extra` arguments.
    pub async fn start_with(mut program: Command, database_url: &str, extra: &[&str]) -> Server {
        program
            .current_dir(work_dir())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                // Some tests flood one organization; the limits have tests of their own.
                "--rate-limits",
                "off",
                "--database-url",
                database_url,
            ])
            .args(extra)
            .stderr(Stdio::null());
        Self::spawn(program).await
    }

    /// Runs `command` (arguments, directory and stderr set by the caller) and reads what it
    /// prints up to the listening line.
    pub async fn spawn(mut command: Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("orgdoor starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut base_url = String::new();
        let mut exports = Vec::new();
        let mut metrics_url = None;
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(export) = line.strip_prefix("export ") {
                    let (name, value) = export.split_once('=').unwrap();
                    exports.push((name.to_owned(), value.to_owned()));
                }
                if let Some(url) = line.strip_prefix("orgdoor metrics on ") {
                    metrics_url = Some(url.to_owned());
                }
                if let Some(url) = line.strip_prefix("orgdoor listening on ") {
                    base_url = url.trim_end_matches('/').to_owned();
                    break;
                }
            }
        })
        .await
        .expect("the server prints its address in time");
        assert!(!base_url.is_empty(), "no listening line");
        Server {
            child,
            base_url,
            metrics_url,
            exports,
        }
    }

    pub fn export(&self, name: &str) -> &str {
        &self
            .exports
            .iter()
            .find(|(key, _)| key == name)
            .unwrap_or_else(|| panic!("{name} not printed"))
            .1
    }

    /// A client of this server with `credentials`, challenged on every request.
    pub fn client(&self, credentials: Credentials) -> DigestClient {
        DigestClient::new(
            &self.base_url,
            credentials,
            DigestStyle::ChallengeEveryRequest,
        )
    }

    pub fn org_id(&self) -> &str {
        self.export("MONGODB_ATLAS_ORG_ID")
    }

    pub fn credentials(&self) -> Credentials {
        Credentials {
            public_key: self.export("MONGODB_ATLAS_PUBLIC_API_KEY").to_owned(),
            private_key: self.export("MONGODB_ATLAS_PRIVATE_API_KEY").to_owned(),
        }
    }
}

pub(crate) async fn run(args: &[&str]) -> std::process::Output {
    Command::new(BINARY)
        .current_dir(work_dir())
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("orgdoor runs")
}

/// Asserts `client` can read the organization `org`.
async fn assert_org_readable(client: &DigestClient, org: &str) {
    let read = client.get(&format!("/api/atlas/v2/orgs/{org}")).await;
    assert_eq!(read.status, 200, "{}", read.text);
}

/// Runs the command and asserts it succeeds.
pub(crate) async fn run_ok(args: &[&str]) -> std::process::Output {
    let output = run(args).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Asserts a command failed, saying something that contains `mention`.
#[track_caller]
pub(crate) fn assert_refused(output: &std::process::Output, mention: &str) {
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(mention), "{stderr}");
}

/// Runs the command and asserts it fails, saying something that contains `mention`.
async fn run_refused(args: &[&str], mention: &str) {
    assert_refused(&run(args).await, mention);
}

async fn serve_prints_credentials_that_work_on_first_start_only(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    let mut server = Server::start(&url).await;
    assert_eq!(
        server.export("MONGODB_ATLAS_OPS_MANAGER_URL"),
        format!("{}/", server.base_url)
    );
    let org = server.export("MONGODB_ATLAS_ORG_ID").to_owned();
    let client = server.client(server.credentials());
    let listed = client
        .get(&format!("/api/atlas/v2/orgs/{org}/invites"))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    server.child.kill().await.unwrap();

    let mut again = Server::start(&url).await;
    assert!(
        again
            .exports
            .iter()
            .all(|(name, _)| !name.contains("API_KEY")),
        "credentials are printed once, on an empty store: {:?}",
        again.exports
    );
    // A second start says which organization is there.
    assert_eq!(again.export("MONGODB_ATLAS_ORG_ID"), org);
    let client = again.client(server.credentials());
    assert_org_readable(&client, &org).await;
    again.child.kill().await.unwrap();
}

async fn bootstrap_and_api_key_create_print_usable_keys_while_the_server_runs(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    let mut server = Server::start(&url).await;

    let output = run_ok(&[
        "bootstrap",
        "--org-name",
        "Scripted",
        "--database-url",
        &url,
    ])
    .await;
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
    let owner = Credentials::of_api_key(&created);
    let owner_client = server.client(owner);
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

    let output = run_ok(&[
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
    let minted: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(minted["orgId"], org.as_str());
    let member = Credentials::of_api_key(&minted);
    let member_client = server.client(member);
    assert_org_readable(&member_client, &org).await;
    member_client
        .get(&invites)
        .await
        .assert_error(401, "NOT_ORG_OWNER");

    // An unknown organization, and a role that does not exist.
    for (org, role) in [
        ("0123456789abcdef01234567", "ORG_OWNER"),
        (org.as_str(), "ORG_EMPEROR"),
    ] {
        let refused = run(&[
            "api-key",
            "create",
            "--org",
            org,
            "--role",
            role,
            "--database-url",
            &url,
        ])
        .await;
        assert!(!refused.status.success(), "{org} {role}");
    }
    // A description with a line break is refused, as the API refuses it.
    run_refused(
        &[
            "api-key",
            "create",
            "--org",
            &org,
            "--role",
            "ORG_OWNER",
            "--description",
            "two\nlines",
            "--database-url",
            &url,
        ],
        "invalid --description",
    )
    .await;
    server.child.kill().await.unwrap();
}

async fn migrate_is_idempotent(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    for _ in 0..2 {
        run_ok(&["migrate", "--database-url", &url]).await;
    }
}

async fn acknowledged_invitations_survive_kill_dash_nine(backend: Backend) {
    const COUNT: usize = 60;
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    let mut server = Server::start(&url).await;
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
        acknowledged.push(response.id());
    }
    // SIGKILL: no shutdown, no flush.
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();

    let mut restarted = Server::start(&url).await;
    let client = restarted.client(credentials);
    let listed = client.get(&invites).await;
    let mut found = listed.ids();
    found.sort();
    acknowledged.sort();
    assert_eq!(found, acknowledged);
    restarted.child.kill().await.unwrap();
}

async fn acknowledged_invitations_survive_kill_dash_nine_during_a_write_storm(backend: Backend) {
    const CLIENTS: usize = 16;
    const KILL_AFTER: usize = 1000;
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    let mut server = Server::start(&url).await;
    let credentials = server.credentials();
    let org = server.export("MONGODB_ATLAS_ORG_ID").to_owned();
    let invites = format!("/api/atlas/v2/orgs/{org}/invites");
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let storm: Vec<_> = (0..CLIENTS)
        .map(|client_number| {
            let client = DigestClient::new(&server.base_url, credentials.clone(), DigestStyle::ReuseNonce);
            let (invites, acknowledged) = (invites.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let body = json!({"username": format!("c{client_number}-{n}@example.com"), "roles": ["ORG_MEMBER"]});
                    // Once the server is gone, requests fail: those were never acknowledged.
                    let Some(response) = client.try_send(reqwest::Method::POST, &invites, &body).await else { break };
                    assert_eq!(response.status, 200, "{}", response.text);
                    acknowledged.lock().unwrap().push(response.id());
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < KILL_AFTER {
        // A client that stopped early failed an assertion: report it instead of waiting forever.
        if storm.iter().all(|client| client.is_finished()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();
    for client in storm {
        client.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= KILL_AFTER);

    let mut restarted = Server::start(&url).await;
    let client = restarted.client(credentials);
    let listed = client.get(&invites).await;
    let found: std::collections::HashSet<&str> = listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !found.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged invitations were lost: {missing:?}",
        missing.len()
    );
    restarted.child.kill().await.unwrap();
}

async fn sigterm_finishes_in_flight_requests_before_exiting(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let database = TestDatabase::new(backend).await;
    let mut server = Server::start(&database.url).await;
    let credentials = server.credentials();
    let org = server.export("MONGODB_ATLAS_ORG_ID").to_owned();
    let path = format!("/api/atlas/v2/orgs/{org}/invites");
    let nonce = challenge_nonce(&format!("{}{path}", server.base_url)).await;
    let authorization = authorization(
        &credentials,
        "POST",
        &path,
        &nonce,
        "00000001",
        "0123456789abcdef",
        GO_TEMPLATE,
    );
    let body = json!({"username": "late@example.com", "roles": ["ORG_MEMBER"]}).to_string();
    let (first_half, second_half) = body.split_at(body.len() / 2);
    let address = server.base_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAccept: {V2023}\r\nContent-Type: {V2023}\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first_half.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pid = server.child.id().unwrap().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Still alive: it waits for the request it is reading.
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited with a request in flight"
    );

    stream.write_all(second_half.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("late@example.com"));

    let exit = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .expect("exits after the request")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

async fn of_two_servers_starting_on_one_empty_store_one_prints_credentials(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    // Migrate first: two processes creating the schema at once is a deployment concern, not ours.
    run_ok(&["migrate", "--database-url", &database.url]).await;
    let (mut first, mut second) =
        tokio::join!(Server::start(&database.url), Server::start(&database.url));
    let prints_a_key = |server: &Server| {
        server
            .exports
            .iter()
            .any(|(name, _)| name == "MONGODB_ATLAS_PRIVATE_API_KEY")
    };
    let printed = [&first, &second]
        .iter()
        .filter(|server| prints_a_key(server))
        .count();
    assert_eq!(
        printed, 1,
        "exactly one instance creates and prints the first organization"
    );
    let winner = if !prints_a_key(&first) {
        &second
    } else {
        &first
    };
    let org = winner.export("MONGODB_ATLAS_ORG_ID").to_owned();
    for server in [&first, &second] {
        let client = server.client(winner.credentials());
        assert_org_readable(&client, &org).await;
    }
    first.child.kill().await.unwrap();
    second.child.kill().await.unwrap();
}

async fn invitations_are_answered_from_the_command_line(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    let mut server = Server::start(&url).await;
    let org = server.export("MONGODB_ATLAS_ORG_ID").to_owned();
    let client = server.client(server.credentials());
    let v2025 = Some("application/vnd.atlas.2025-02-19+json");
    let users = format!("/api/atlas/v2/orgs/{org}/users");
    for address in ["amy@example.com", "bob@example.com"] {
        let created = client
            .send(
                reqwest::Method::POST,
                &users,
                v2025,
                Some(&json!({"username": address, "roles": {"orgRoles": ["ORG_MEMBER"]}})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }

    let accepted = run_ok(&[
        "invitation",
        "accept",
        "--org",
        &org,
        "amy@example.com",
        "--first-name",
        "Amy",
        "--country",
        "DE",
        "--database-url",
        &url,
    ])
    .await;
    let printed: Value = serde_json::from_slice(&accepted.stdout).expect("JSON on stdout");
    assert_eq!(printed["orgMembershipStatus"], "ACTIVE");
    assert_eq!(printed["firstName"], "Amy");
    run_ok(&[
        "invitation",
        "decline",
        "--org",
        &org,
        "bob@example.com",
        "--database-url",
        &url,
    ])
    .await;

    // The running server sees both answers at once.
    let listed = client
        .send(
            reqwest::Method::GET,
            &format!(
                "{users}?orgMembershipStatuses=ACTIVE&orgMembershipStatuses=INVITATION_REJECTED"
            ),
            v2025,
            None,
        )
        .await;
    let statuses = crate::harness::strings(&listed.json["results"], "orgMembershipStatus");
    assert_eq!(statuses, ["ACTIVE", "INVITATION_REJECTED"]);

    // Answering again fails with a message and a non-zero status.
    run_refused(
        &[
            "invitation",
            "accept",
            "--org",
            &org,
            "bob@example.com",
            "--database-url",
            &url,
        ],
        "bob@example.com",
    )
    .await;
    server.child.kill().await.unwrap();
}
