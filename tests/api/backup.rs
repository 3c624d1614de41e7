//! `orgdoor backup` and `orgdoor restore` with the real binary: a backup taken during a write
//! storm restores every invitation acknowledged before it, sound and usable with the owner's
//! key; and the refusals (an existing file or store, a PostgreSQL URL). Also `orgdoor health`.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sqlx::Connection;
use tokio::process::Command;

use crate::cli::{BINARY, Server};
use crate::harness::{DigestClient, DigestStyle};
use orgdoor_test_db::TestDatabase;

async fn orgdoor(args: &[&str]) -> std::process::Output {
    Command::new(BINARY)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("orgdoor runs")
}

#[track_caller]
fn assert_succeeded(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[track_caller]
fn assert_refused(output: &std::process::Output, mention: &str) {
    assert!(!output.status.success(), "succeeded");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(mention), "{stderr}");
}

#[expect(
    clippy::disallowed_methods,
    reason = "a test looking at the files a command made"
)]
fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn a_backup_taken_during_a_write_storm_restores_every_invitation_acknowledged_before_it() {
    const WRITERS: usize = 4;
    let database = TestDatabase::sqlite();
    let mut server = Server::start_with(Command::new(BINARY), &database.url, &[]).await;
    let credentials = server.credentials();
    let org = server.org_id().to_owned();
    let invites = format!("/api/atlas/v2/orgs/{org}/invites");
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let storm: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let client = DigestClient::new(
                &server.base_url,
                credentials.clone(),
                DigestStyle::ReuseNonce,
            );
            let (invites, acknowledged, stop) =
                (invites.clone(), acknowledged.clone(), stop.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let body = json!({"username": format!("w{writer}-{n}@example.com"), "roles": ["ORG_MEMBER"]});
                    let response = client
                        .try_send(reqwest::Method::POST, &invites, &body)
                        .await
                        .expect("the server answers");
                    assert_eq!(response.status, 200, "{}", response.text);
                    acknowledged.lock().unwrap().push(response.id());
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 100 {
        assert!(
            !storm.iter().any(|writer| writer.is_finished()),
            "a writer failed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    let backup_text = backup.to_str().unwrap();
    let mut before = Vec::new();
    for round in 0..3 {
        let target = if round == 0 {
            backup.clone()
        } else {
            dir.path().join(format!("backup-{round}.db"))
        };
        if round == 0 {
            before = acknowledged.lock().unwrap().clone();
        }
        assert_succeeded(
            &orgdoor(&[
                "backup",
                "--database-url",
                &database.url,
                "--to",
                target.to_str().unwrap(),
            ])
            .await,
        );
    }
    let written_meanwhile = acknowledged.lock().unwrap().len() - before.len();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in storm {
        writer.await.unwrap();
    }
    assert!(
        written_meanwhile > 0,
        "the writers were held up by the backups"
    );
    let backup_key = dir.path().join("backup.db.key");
    assert_eq!(mode(&backup), 0o600);
    assert_eq!(mode(&backup_key), 0o600);

    // Refusals: an existing backup file, a PostgreSQL store.
    assert_refused(
        &orgdoor(&[
            "backup",
            "--database-url",
            &database.url,
            "--to",
            backup_text,
        ])
        .await,
        "already exists",
    );
    assert_refused(
        &orgdoor(&[
            "backup",
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/test",
            "--to",
            dir.path().join("pg.db").to_str().unwrap(),
        ])
        .await,
        "pg_dump",
    );
    server.child.kill().await.unwrap();

    let restored = dir.path().join("restored.db");
    let restored_url = format!("sqlite://{}", restored.display());
    assert_succeeded(
        &orgdoor(&[
            "restore",
            "--from",
            backup_text,
            "--database-url",
            &restored_url,
        ])
        .await,
    );
    assert_eq!(mode(&dir.path().join("restored.db.key")), 0o600);
    assert_refused(
        &orgdoor(&[
            "restore",
            "--from",
            backup_text,
            "--database-url",
            &restored_url,
        ])
        .await,
        "--force",
    );
    assert_refused(
        &orgdoor(&[
            "restore",
            "--from",
            backup_text,
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/test",
        ])
        .await,
        "pg_restore",
    );
    let mut connection = sqlx::SqliteConnection::connect(&restored_url)
        .await
        .unwrap();
    let report: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(report, "ok");
    connection.close().await.unwrap();

    let mut restarted = Server::start_with(Command::new(BINARY), &restored_url, &[]).await;
    let owner = restarted.client(credentials);
    let listed = owner.get(&invites).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let found: std::collections::HashSet<String> = listed.ids().into_iter().collect();
    let missing: Vec<&String> = before.iter().filter(|id| !found.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} invitations acknowledged before the backup are missing: {missing:?}",
        missing.len()
    );
    assert_succeeded(
        &orgdoor(&[
            "invitation",
            "accept",
            "--org",
            &org,
            &before[0],
            "--database-url",
            &restored_url,
        ])
        .await,
    );
    let users = owner.get(&format!("/api/atlas/v2/orgs/{org}/users")).await;
    assert_eq!(users.status, 200, "{}", users.text);
    // Members only: the invitee accepted on the restored store is the one.
    assert_eq!(users.json["totalCount"], 1, "{}", users.text);
    restarted.child.kill().await.unwrap();

    // A backup without its key file is restored with a warning, and no new key is made.
    let keyless = dir.path().join("backup-1.db");
    tokio::fs::remove_file(dir.path().join("backup-1.db.key"))
        .await
        .unwrap();
    let elsewhere = dir.path().join("keyless.db");
    let output = orgdoor(&[
        "restore",
        "--from",
        keyless.to_str().unwrap(),
        "--database-url",
        &format!("sqlite://{}", elsewhere.display()),
    ])
    .await;
    assert_succeeded(&output);
    assert!(String::from_utf8_lossy(&output.stderr).contains("backup-1.db.key"));
    assert!(!dir.path().join("keyless.db.key").exists());

    // `--force` replaces a store, and the restored one opens.
    assert_succeeded(
        &orgdoor(&[
            "restore",
            "--force",
            "--from",
            dir.path().join("backup-2.db").to_str().unwrap(),
            "--database-url",
            &restored_url,
        ])
        .await,
    );
}

/// `orgdoor health` (the container's `HEALTHCHECK`): 0 while the server answers `/health`,
/// a failure naming the address once it is gone.
#[tokio::test]
async fn health_exits_zero_only_while_the_server_is_healthy() {
    let database = TestDatabase::sqlite();
    let mut server = Server::start_with(Command::new(BINARY), &database.url, &[]).await;
    let address = server.base_url.trim_start_matches("http://").to_owned();
    let healthy = orgdoor(&["health", "--listen", &address]).await;
    assert_succeeded(&healthy);
    assert_eq!(String::from_utf8_lossy(&healthy.stdout).trim(), "healthy");
    server.child.kill().await.unwrap();
    assert_refused(
        &orgdoor(&["health", "--listen", &address, "--timeout", "2"]).await,
        &address,
    );
}
