//! Clients that misbehave on purpose: sockets reset mid-request, bodies that never end, slow
//! headers, connection floods. Whatever they do, the server keeps serving everyone else.

use std::time::Duration;

use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::harness::{
    Credentials, GO_TEMPLATE, TestApp, authorization, go_parse_challenge, spawn_limited_app,
};

on_both_stores!(sockets_reset_during_a_write_storm_leave_every_write_working);

/// A fresh nonce from the server's challenge.
async fn nonce(app: &TestApp, path: &str) -> String {
    let response = reqwest::get(format!("{}{path}", app.base_url))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let header = response.headers()["www-authenticate"].to_str().unwrap();
    go_parse_challenge(header).0
}

/// A signed GET written straight to a socket that is then reset (RST, not FIN) after `wait`:
/// the server sees the request arrive and its client vanish while it is being answered.
async fn send_and_reset(app: &TestApp, request: String, wait: Duration) {
    let address = app.base_url.trim_start_matches("http://");
    let Ok(mut socket) = TcpStream::connect(address).await else {
        return;
    };
    let _ = socket.write_all(request.as_bytes()).await;
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let _ = socket.set_zero_linger();
    drop(socket);
}

fn signed_get(credentials: &Credentials, path: &str, nonce: &str, nc: u32) -> String {
    let header = authorization(
        credentials,
        "GET",
        path,
        nonce,
        &format!("{nc:08x}"),
        &format!("{nc:016x}"),
        GO_TEMPLATE,
    );
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/vnd.atlas.2023-01-01+json\r\nAuthorization: {header}\r\n\r\n"
    )
}

/// Read-only callers reset their sockets right after sending (a request they may not make, but
/// its rate-limit bucket is written first), over and over, while the owner writes: every write still succeeds or is refused cleanly, and afterwards the store takes
/// writes and `/health` says so. (Rate limits are on, so every GET writes its bucket.)
async fn sockets_reset_during_a_write_storm_leave_every_write_working(backend: Backend) {
    let app = spawn_limited_app(backend, 1_000_000).await;
    let reader = app.key_with(&[OrgRole::ReadOnly]).await;
    let path = app.invites_path();
    let nonce = nonce(&app, &path).await;
    let owner = app.owner();
    let writes = async {
        let mut statuses = Vec::new();
        for n in 0..40 {
            let response = owner
                .post(
                    &app.invites_path(),
                    &json!({"username": format!("storm-{n}@example.com"), "roles": ["ORG_MEMBER"]}),
                )
                .await;
            statuses.push(response.status);
        }
        statuses
    };
    let resets = async {
        for round in 0..10u32 {
            let sends = (0..20u32).map(|n| {
                let request = signed_get(&reader, &path, &nonce, round * 20 + n + 1);
                // 0 or 1 ms: before and while the server works on it.
                send_and_reset(&app, request, Duration::from_millis(u64::from(n % 2)))
            });
            futures_util::future::join_all(sends).await;
        }
    };
    let (statuses, ()) = tokio::join!(writes, resets);
    assert!(
        statuses.iter().all(|status| *status == 200),
        "writes during the storm: {statuses:?}"
    );
    // After the storm: writes, rate-limited reads and the health check all work.
    let after = app
        .invite("after-the-storm@example.com", &["ORG_MEMBER"])
        .await;
    assert_eq!(after.status, 200, "{}", after.text);
    let read = app
        .client(&reader)
        .get(&format!("/api/atlas/v2/orgs/{}", app.org_id))
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    let health = reqwest::get(format!("{}/health", app.base_url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// A store that answers reads but cannot take writes (another process holds the SQLite file's
/// write lock, as a wedged writer did) is reported by `/health`, promptly, and the report clears
/// when the lock is let go.
#[tokio::test]
async fn health_reports_a_store_that_cannot_write() {
    use sqlx::Connection as _;

    let app = crate::harness::spawn_app(Backend::Sqlite).await;
    let health = || async {
        let started = std::time::Instant::now();
        let response = reqwest::get(format!("{}/health", app.base_url))
            .await
            .unwrap();
        (response.status().as_u16(), started.elapsed())
    };
    assert_eq!(health().await.0, 200);
    let mut other = sqlx::SqliteConnection::connect(&app.database.url)
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let (status, took) = health().await;
    assert_eq!(status, 503, "a store that cannot write is not healthy");
    assert!(took < Duration::from_secs(4), "the check took {took:?}");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(health().await.0, 200);
}
