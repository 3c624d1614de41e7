//! What the server writes to stderr: one line per request that answers "why did my client get
//! that?", no colours when stderr is not a terminal, no SQL at the default level, and start-up
//! errors that name what they concern.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::cli::{BINARY, Server};
use crate::harness::{Credentials, DigestClient, DigestStyle};

/// A server started as a user would, its stderr going to a file read once it has stopped.
struct LoggedServer {
    child: tokio::process::Child,
    base_url: String,
    credentials: Credentials,
    org_id: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl LoggedServer {
    #[expect(
        clippy::disallowed_methods,
        reason = "the child's stderr must be a file of its own"
    )]
    async fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a directory");
        let log = dir.path().join("stderr");
        let stderr = std::fs::File::create(&log).expect("a log file");
        let database = format!("sqlite://{}", dir.path().join("orgdoor.db").display());
        let mut command = Command::new(BINARY);
        command
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                &database,
            ])
            .args(extra)
            .stderr(Stdio::from(stderr));
        let server = Server::spawn(command).await;
        Self {
            credentials: server.credentials(),
            org_id: server.org_id().to_owned(),
            base_url: server.base_url.clone(),
            child: server.child,
            log,
            _dir: dir,
        }
    }

    fn client(&self) -> DigestClient {
        DigestClient::new(
            &self.base_url,
            self.credentials.clone(),
            DigestStyle::ChallengeEveryRequest,
        )
    }

    /// Makes a request that succeeds, with a request id of the client's, and one refused.
    async fn exercise(&self) {
        let invites = format!(
            "{}/api/atlas/v2/orgs/{}/invites",
            self.base_url, self.org_id
        );
        let client = reqwest::Client::new();
        let challenge = client
            .get(&invites)
            .header("x-request-id", "suite-request-7")
            .send()
            .await
            .expect("an answer");
        assert_eq!(challenge.status(), 401);
        let listed = self
            .client()
            .get(&format!("/api/atlas/v2/orgs/{}/invites", self.org_id))
            .await;
        assert_eq!(listed.status, 200);
        let missing = self.client().get("/api/atlas/v2/orgs/123").await;
        assert_eq!(missing.status, 404, "{}", missing.text);
    }

    /// Stops the server (SIGTERM) and returns what it wrote to stderr.
    #[expect(
        clippy::disallowed_methods,
        reason = "reads the log after the server stopped"
    )]
    async fn stop(mut self) -> String {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").arg(pid.to_string()).status().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        std::fs::read_to_string(&self.log).expect("the log")
    }
}

#[tokio::test]
async fn each_request_is_one_plain_line_with_route_status_and_caller() {
    let server = LoggedServer::start(&[]).await;
    server.exercise().await;
    let public_key = server.credentials.public_key.clone();
    let org_id = server.org_id.clone();
    let log = server.stop().await;

    assert!(!log.contains('\u{1b}'), "no colours off a terminal:\n{log}");
    assert!(!log.contains("sqlx"), "no SQL at the default level:\n{log}");
    let requests: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("orgdoor::request"))
        .collect();
    // The challenge, the Digest client's two legs of each request.
    assert_eq!(requests.len(), 5, "{log}");
    let challenged = requests[0];
    assert!(
        challenged.contains("request_id=\"suite-request-7\""),
        "{challenged}"
    );
    assert!(challenged.contains(" 401 "), "{challenged}");
    let listed = requests[2];
    assert!(
        listed.contains(&format!("GET /api/atlas/v2/orgs/{org_id}/invites 200")),
        "{listed}"
    );
    assert!(
        listed.contains("route=\"/api/atlas/v2/orgs/{orgId}/invites\""),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("credential=\"{public_key}\"")),
        "{listed}"
    );
    assert!(listed.contains(&format!("org=\"{org_id}\"")), "{listed}");
    assert!(listed.contains("latency_ms="), "{listed}");
    let refused = requests[4];
    assert!(refused.contains(" 404 "), "{refused}");
    assert!(
        refused.contains("error_code=\"INVALID_ORG_ID\""),
        "{refused}"
    );
}

#[tokio::test]
async fn request_lines_are_json_lines_with_the_same_fields() {
    let server = LoggedServer::start(&["--log-format", "json"]).await;
    server.exercise().await;
    let log = server.stop().await;
    let requests: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .filter(|line| line["target"] == "orgdoor::request")
        .collect();
    assert_eq!(requests.len(), 5, "{log}");
    let refused = &requests[4];
    assert_eq!(refused["fields"]["status"], 404);
    assert_eq!(refused["fields"]["error_code"], "INVALID_ORG_ID");
    assert_eq!(refused["fields"]["route"], "/api/atlas/v2/orgs/{orgId}");
    assert!(
        refused["span"]["request_id"]
            .as_str()
            .is_some_and(|id| id.len() == 36)
    );
    assert_eq!(requests[0]["span"]["request_id"], "suite-request-7");
}

#[tokio::test]
async fn a_server_error_is_also_an_error_event_and_nothing_else_is() {
    let server =
        LoggedServer::start(&["--log-format", "json", "--control-token", "log-test-token"]).await;
    server.exercise().await;
    let client = reqwest::Client::new();
    let rule = client
        .post(format!("{}/api/orgdoor/v1/control/faults", server.base_url))
        .bearer_auth("log-test-token")
        .json(&serde_json::json!({"path": "/api/atlas/v2/orgs/*/invites", "status": 500}))
        .send()
        .await
        .expect("an answer");
    assert!(
        rule.status().is_success(),
        "{}",
        rule.text().await.unwrap_or_default()
    );
    let failed = server
        .client()
        .get(&format!("/api/atlas/v2/orgs/{}/invites", server.org_id))
        .await;
    assert_eq!(failed.status, 500, "{}", failed.text);
    let log = server.stop().await;
    let errors: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .filter(|line| line["level"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 1, "{log}");
    assert_eq!(errors[0]["target"], "orgdoor::server_error");
    assert_eq!(errors[0]["fields"]["status"], 500);
    assert!(errors[0]["fields"]["fault"].is_string(), "{log}");
}

/// Runs `serve` in `dir` on `listen` and `store`, expecting it to fail; returns its stderr.
async fn failed_start(dir: &std::path::Path, listen: &str, store: &std::path::Path) -> String {
    let output = Command::new(BINARY)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1")
        .env("ORGDOOR_SECRETS_KEY", "ab".repeat(32))
        .args(["serve", "--listen", listen, "--database-url"])
        .arg(format!("sqlite://{}", store.display()))
        .output()
        .await
        .expect("orgdoor runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stderr.contains("backtrace") && !stderr.contains("Stack"),
        "{stderr}"
    );
    stderr
}

#[tokio::test]
async fn start_up_errors_name_the_address_or_file_without_a_backtrace() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = taken.local_addr().expect("an address").to_string();
    let dir = tempfile::tempdir().expect("a directory");
    let stderr = failed_start(dir.path(), &address, &dir.path().join("orgdoor.db")).await;
    assert!(
        stderr.contains(&format!("orgdoor: {address} is already in use")),
        "{stderr}"
    );
    // A store in a directory that is not there.
    let missing = dir.path().join("no/such/dir/orgdoor.db");
    let stderr = failed_start(dir.path(), "127.0.0.1:0", &missing).await;
    assert!(
        stderr.contains(&format!("cannot create {}", missing.display())),
        "{stderr}"
    );
}
