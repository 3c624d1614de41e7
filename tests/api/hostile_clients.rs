//! Clients that misbehave on purpose: sockets reset mid-request, bodies that never end, slow
//! headers, connection floods. Whatever they do, the server keeps serving everyone else.

use std::time::{Duration, Instant};

use orgdoor::transport::ConnectionLimits;
use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Credentials, TestApp, challenge_nonce, go_authorization, spawn_limited_app};

on_both_stores!(sockets_reset_during_a_write_storm_leave_every_write_working);

/// A fresh nonce from the server's challenge.
async fn nonce(app: &TestApp, path: &str) -> String {
    challenge_nonce(&format!("{}{path}", app.base_url)).await
}

/// A signed GET written straight to a socket that is then reset (RST, not FIN) after `wait`:
/// the server sees the request arrive and its client vanish while it is being answered.
async fn send_and_reset(app: &TestApp, request: String, wait: Duration) {
    let Ok(mut socket) = TcpStream::connect(address(app)).await else {
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
    let header = go_authorization(credentials, "GET", path, nonce, &format!("{nc:08x}"));
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/vnd.atlas.2023-01-01+json\r\nAuthorization: {header}\r\n\r\n"
    )
}

/// The head of a JSON POST to `path` announcing `content_length` bytes, signed as the Go client
/// does with count `nc`.
fn signed_post_head(
    credentials: &Credentials,
    path: &str,
    nonce: &str,
    nc: u32,
    content_length: usize,
) -> String {
    let header = go_authorization(credentials, "POST", path, nonce, &format!("{nc:08x}"));
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAccept: application/vnd.atlas.2023-01-01+json\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\nAuthorization: {header}\r\n\r\n"
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
    let health = app.health().await;
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
        let response = app.health().await;
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

fn address(app: &TestApp) -> String {
    app.base_url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_owned()
}

/// Writes `request` on a new connection and reads until the server closes it or `limit`
/// passes; returns what was read and whether the server closed the connection.
async fn exchange(app: &TestApp, request: &[u8], limit: Duration) -> (String, bool) {
    let mut socket = TcpStream::connect(address(app)).await.unwrap();
    let _ = socket.write_all(request).await;
    read_until_closed(&mut socket, limit).await
}

async fn read_until_closed(socket: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut chunk = [0u8; 8192];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

/// The status, lower-cased head and JSON body of a raw response.
fn parse_response(raw: &str) -> (u16, String, serde_json::Value) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or(0);
    let json = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    (status, head.to_ascii_lowercase(), json)
}

#[track_caller]
fn assert_atlas_error(raw: &str, status: u16, code: &str) {
    let (got, head, json) = parse_response(raw);
    assert_eq!(got, status, "{raw}");
    assert!(head.contains("content-type: application/json"), "{raw}");
    assert_eq!(json["error"], status, "{raw}");
    assert_eq!(json["errorCode"], code, "{raw}");
    assert!(json["detail"].is_string(), "{raw}");
}

/// Sends a request whose body never ends; asserts it is answered with a 401 at once and the
/// connection closed after it. Returns the head of the answer.
async fn assert_refused_at_once_and_closed(app: &TestApp, request: &str) -> String {
    let started = Instant::now();
    let (raw, closed) = exchange(app, request.as_bytes(), Duration::from_secs(5)).await;
    let (status, head, _) = parse_response(&raw);
    assert_eq!(status, 401, "{raw}");
    assert!(head.contains("connection: close"), "{raw}");
    assert!(
        closed,
        "the server keeps the connection of an unfinished body open"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the answer took {:?}",
        started.elapsed()
    );
    head
}

/// Sends a refused request with a whole body followed by a `GET /health` on the same
/// connection; asserts the refusal keeps the connection open and the second request is answered.
async fn assert_refused_and_kept_alive(app: &TestApp, request: &str) {
    let request = format!("{request}GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let (raw, _) = exchange(app, request.as_bytes(), Duration::from_secs(2)).await;
    assert!(raw.starts_with("HTTP/1.1 401"), "{raw}");
    assert!(
        !raw.to_ascii_lowercase().contains("connection: close"),
        "{raw}"
    );
    assert!(
        raw.contains("HTTP/1.1 200 OK"),
        "the next request on the connection is answered: {raw}"
    );
}

/// An unauthenticated request whose body never finishes gets its challenge at once, and the
/// connection is closed after it instead of waiting for the rest of the body.
#[tokio::test]
async fn an_endless_unauthenticated_body_gets_the_challenge_at_once_and_is_closed() {
    let app = crate::harness::spawn_app(Backend::Sqlite).await;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{{\"username\":",
        app.invites_path()
    );
    let head = assert_refused_at_once_and_closed(&app, &request).await;
    assert!(head.contains("www-authenticate: digest"), "{head}");
}

/// A short body sent with an unauthenticated request (Go's Digest client does this) is read,
/// so the connection stays usable for the authenticated retry.
#[tokio::test]
async fn a_whole_unauthenticated_body_keeps_the_connection_alive() {
    let app = crate::harness::spawn_app(Backend::Sqlite).await;
    let body = r#"{"username":"go@example.com","roles":["ORG_MEMBER"]}"#;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        app.invites_path(),
        body.len()
    );
    assert_refused_and_kept_alive(&app, &request).await;
}

/// A POST signed by a read-only key for `path`, with `content_length` announced and `body`
/// sent: a request its scope refuses (Organization Owner needed) before the body is read.
async fn post_without_the_role(app: &TestApp, content_length: usize, body: &str) -> String {
    let reader = app.key_with(&[OrgRole::ReadOnly]).await;
    let path = app.invites_path();
    let nonce = nonce(app, &path).await;
    let head = signed_post_head(&reader, &path, &nonce, 1, content_length);
    format!("{head}{body}")
}

/// A caller without the role is refused before its body is read; a body that does not end is
/// not waited for: the refusal comes at once and the connection is closed after it.
#[tokio::test]
async fn an_endless_body_refused_by_its_scope_is_answered_at_once_and_closed() {
    let app = crate::harness::spawn_app(Backend::Sqlite).await;
    let request = post_without_the_role(&app, 100_000_000, "{\"username\":").await;
    assert_refused_at_once_and_closed(&app, &request).await;
}

/// A whole short body refused by its scope is drained, so the connection stays usable.
#[tokio::test]
async fn a_whole_body_refused_by_its_scope_keeps_the_connection_alive() {
    let app = crate::harness::spawn_app(Backend::Sqlite).await;
    let body = r#"{"username":"go@example.com","roles":["ORG_MEMBER"]}"#;
    let request = post_without_the_role(&app, body.len(), body).await;
    assert_refused_and_kept_alive(&app, &request).await;
}

/// Requests hyper refuses before any route sees them still get Atlas error bodies.
#[tokio::test]
async fn requests_that_are_not_http_get_atlas_errors() {
    let app = crate::harness::spawn_app(Backend::Sqlite).await;
    let limit = Duration::from_secs(5);
    let long_path = format!(
        "GET /api/atlas/v2/orgs/{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    let mut flood = String::from("GET /health HTTP/1.1\r\nHost: x\r\n");
    for n in 0..200 {
        flood.push_str(&format!("X-Flood-{n}: {}\r\n", "v".repeat(100)));
    }
    flood.push_str("\r\n");
    for (request, status, code) in [
        (
            b"\x01\x02 nonsense\r\n\r\n".as_slice(),
            400,
            "MALFORMED_REQUEST",
        ),
        (
            b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            400,
            "MALFORMED_REQUEST",
        ),
        (
            b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
            400,
            "MALFORMED_REQUEST",
        ),
        (
            b"GET /health HTTP/1.1\r\nHo\x01st: x\r\n\r\n",
            400,
            "MALFORMED_REQUEST",
        ),
        (long_path.as_bytes(), 414, "URI_TOO_LONG"),
        (flood.as_bytes(), 431, "REQUEST_HEADERS_TOO_LARGE"),
    ] {
        let answer = exchange(&app, request, limit).await.0;
        assert_atlas_error(&answer, status, code);
    }
    // Garbage after a good request on one connection: the good one is answered as it is, the
    // garbage with an Atlas 400.
    let (both, _) = exchange(
        &app,
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n\x01garbage\r\n\r\n",
        limit,
    )
    .await;
    let second = both
        .find("HTTP/1.1 400")
        .unwrap_or_else(|| panic!("no 400 after the good answer: {both}"));
    assert!(both.starts_with("HTTP/1.1 200 OK"), "{both}");
    assert!(both[..second].contains("\"status\":\"ok\""), "{both}");
    assert_atlas_error(&both[second..], 400, "MALFORMED_REQUEST");
    // The route exists for POST only: an Atlas 405, with Allow.
    let token = reqwest::get(format!("{}/api/oauth/token", app.base_url))
        .await
        .unwrap();
    assert_eq!(token.status(), 405);
    assert!(token.headers().contains_key("allow"));
    let json: serde_json::Value = token.json().await.unwrap();
    assert_eq!(json["errorCode"], "METHOD_NOT_ALLOWED");
}

/// A body whose chunked encoding is broken is a bad request, not one that is too large.
#[tokio::test]
async fn a_broken_chunked_body_is_a_bad_request() {
    let app = crate::harness::spawn_app(Backend::Sqlite).await;
    let path = app.invites_path();
    let nonce = nonce(&app, &path).await;
    let header = go_authorization(&app.owner, "POST", &path, &nonce, "00000001");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAccept: application/vnd.atlas.2023-01-01+json\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nAuthorization: {header}\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n"
    );
    let (raw, _) = exchange(&app, request.as_bytes(), Duration::from_secs(5)).await;
    assert_atlas_error(&raw, 400, "MALFORMED_REQUEST");
}

/// A server on SQLite with the given connection limits.
async fn app_with_limits(limits: ConnectionLimits) -> TestApp {
    crate::harness::spawn_app_with(Backend::Sqlite, |app| app.with_connection_limits(limits)).await
}

/// `count` new connections, each having written `head` and nothing more.
async fn half_sent(app: &TestApp, count: usize, head: &[u8]) -> Vec<TcpStream> {
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let mut socket = TcpStream::connect(address(app)).await.unwrap();
        socket.write_all(head).await.unwrap();
        sockets.push(socket);
    }
    sockets
}

/// Asserts `/health` answers 200 within `limit` (`when` says under what load); returns how long
/// it took.
async fn health_within(base_url: &str, limit: Duration, when: &str) -> Duration {
    let started = Instant::now();
    let health = tokio::time::timeout(limit, reqwest::get(format!("{base_url}/health")))
        .await
        .unwrap_or_else(|_| panic!("health answers {when}"))
        .unwrap();
    assert_eq!(health.status(), 200);
    started.elapsed()
}

/// A client that asks for responses and stops reading them cannot hold its connection, and
/// the unsent rest of its responses, longer than the response-write timeout; one that reads
/// slowly but steadily is not cut off.
#[tokio::test]
async fn a_client_that_stops_reading_is_closed_after_the_write_timeout() {
    let app = app_with_limits(ConnectionLimits {
        response_write_timeout: Duration::from_millis(500),
        ..ConnectionLimits::default()
    })
    .await;
    // 64 pipelined requests for the 216 KB OpenAPI document: far more than socket buffers hold.
    let one = format!(
        "GET /api/orgdoor/v1/openapi.yaml HTTP/1.1\r\nhost: {}\r\n\r\n",
        address(&app)
    );
    let requests = one.repeat(64);
    let whole = 64 * orgdoor::http::openapi::ATLAS_V2.len();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut socket = socket
        .connect(address(&app).parse().unwrap())
        .await
        .unwrap();
    socket.write_all(requests.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (received, closed) = read_until_closed(&mut socket, Duration::from_secs(10)).await;
    assert!(closed, "the server closed the connection");
    assert!(
        received.len() < whole / 2,
        "{} of {whole} bytes came before the close",
        received.len()
    );

    // Read steadily, the same responses all arrive.
    let mut socket = TcpStream::connect(address(&app)).await.unwrap();
    socket.write_all(one.repeat(8).as_bytes()).await.unwrap();
    let mut received = 0;
    let mut chunk = [0u8; 16384];
    let expected = 8 * orgdoor::http::openapi::ATLAS_V2.len();
    while received < expected {
        let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut chunk))
            .await
            .expect("the responses keep coming")
            .unwrap();
        assert!(n > 0, "closed after {received} bytes");
        received += n;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// An authenticated body that stops arriving gets 408 after the body-read timeout.
#[tokio::test]
async fn a_body_that_stops_arriving_times_out() {
    let app = app_with_limits(ConnectionLimits {
        body_read_timeout: Duration::from_millis(500),
        ..ConnectionLimits::default()
    })
    .await;
    let path = app.invites_path();
    let nonce = nonce(&app, &path).await;
    let head = signed_post_head(&app.owner, &path, &nonce, 1, 500);
    let request = format!("{head}{{\"username\":");
    let started = Instant::now();
    let mut socket = TcpStream::connect(address(&app)).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut received = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut received))
        .await
        .expect("an answer before the request deadline")
        .unwrap();
    let raw = String::from_utf8_lossy(&received[..n]).into_owned();
    assert_atlas_error(&raw, 408, "REQUEST_TIMEOUT");
    assert!(started.elapsed() >= Duration::from_millis(450));
    let listed = app.owner().get(&path).await;
    assert_eq!(
        listed.json.as_array().map(Vec::len),
        Some(0),
        "nothing was stored"
    );
}

/// Thousands of half-sent heads cannot lock anyone out: at the connection cap the oldest idle
/// connections make room, `/health` answers, and each half-sent head is closed after the
/// header-read timeout. An idle keep-alive connection lives until the idle timeout, not the
/// (shorter) head timeout.
#[tokio::test]
async fn slow_heads_and_idle_connections_are_bounded_and_health_answers_at_the_cap() {
    let limits = ConnectionLimits {
        max_connections: 40,
        header_read_timeout: Duration::from_millis(800),
        idle_timeout: Duration::from_millis(2500),
        body_read_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        ..ConnectionLimits::default()
    };
    let app = app_with_limits(limits).await;
    let mut slow = half_sent(&app, 200, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    let took = health_within(&app.base_url, Duration::from_secs(2), "at the cap").await;
    assert!(took < Duration::from_secs(1));
    // Every half-sent head is closed by now or within the head timeout.
    for socket in &mut slow {
        let (_, closed) = read_until_closed(socket, Duration::from_secs(3)).await;
        assert!(closed, "a half-sent head stayed open");
    }
    // An idle keep-alive connection outlives the head timeout and is closed at the idle one.
    let mut idle = TcpStream::connect(address(&app)).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = idle.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
    let idle_since = Instant::now();
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(closed, "an idle connection was never closed");
    let lived = idle_since.elapsed();
    assert!(
        lived > Duration::from_millis(1800) && lived < Duration::from_millis(4000),
        "idle connection closed after {lived:?}"
    );
}

/// Connections whose requests wait on slow bodies cannot lock anyone out either: at the cap the
/// one that has waited longest for its body is closed, so `/health` answers long before the
/// body-read timeout.
#[tokio::test]
async fn slow_bodies_at_the_cap_make_room_for_new_connections() {
    let limits = ConnectionLimits {
        max_connections: 40,
        body_read_timeout: Duration::from_secs(20),
        ..ConnectionLimits::default()
    };
    let app = app_with_limits(limits).await;
    let mut slow = half_sent(
        &app,
        120,
        b"POST /api/oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\ngrant_type=",
    )
    .await;
    let took = health_within(&app.base_url, Duration::from_secs(3), "at the cap").await;
    assert!(took < Duration::from_secs(2), "health took {took:?}");
    // The oldest slow bodies were the ones closed: at most the cap are still open.
    let mut closed = 0;
    for socket in &mut slow {
        let (_, was_closed) = read_until_closed(socket, Duration::from_millis(20)).await;
        closed += usize::from(was_closed);
    }
    assert!(closed >= 120 - 40, "only {closed} slow bodies were closed");
}

/// Peak resident memory of a process, from `/proc` (`VmHWM`, kB).
#[expect(
    clippy::disallowed_methods,
    reason = "reads /proc, outside any request"
)]
fn peak_memory_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status")
}

/// A real server process on a fresh SQLite database, started with `args`.
async fn server_process(args: &[&str]) -> (orgdoor_test_db::TestDatabase, crate::cli::Server) {
    let database = orgdoor_test_db::TestDatabase::sqlite();
    let server = crate::cli::Server::start_with(
        tokio::process::Command::new(crate::cli::BINARY),
        &database.url,
        args,
    )
    .await;
    (database, server)
}

/// One connection to `base_url` per head: each writes its head, then up to `chunks` chunks of
/// 64 KiB of body within `limit`, and is held open, as a stalled client would.
async fn stalled_bodies(
    base_url: &str,
    heads: Vec<String>,
    chunks: usize,
    limit: Duration,
) -> Vec<TcpStream> {
    let base = base_url.trim_start_matches("http://");
    let chunk = vec![b' '; 64 * 1024];
    let senders = heads.into_iter().map(|head| {
        let chunk = &chunk;
        async move {
            let mut socket = TcpStream::connect(base).await.unwrap();
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = tokio::time::timeout(limit, async {
                for _ in 0..chunks {
                    if socket.write_all(chunk).await.is_err() {
                        break;
                    }
                }
            })
            .await;
            socket
        }
    });
    futures_util::future::join_all(senders).await
}

/// A real server process: 150 unauthenticated clients each announce a 4 MiB body and send
/// 2 MiB of it. The server answers each with its challenge and closes, reading no more than a
/// few KiB of each: its peak memory grows by far less than what they sent.
#[tokio::test]
async fn unauthenticated_bodies_are_not_held_in_memory() {
    let (_database, server) = server_process(&[]).await;
    let pid = server.child.id().expect("running");
    let path = "/api/atlas/v2/orgs/000000000000000000000000/invites";
    // Warm up, then take the baseline.
    for _ in 0..3 {
        reqwest::get(format!("{}/health", server.base_url))
            .await
            .unwrap();
    }
    let baseline = peak_memory_kib(pid);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4194304\r\n\r\n"
    );
    let heads = vec![head; 150];
    let held = stalled_bodies(&server.base_url, heads, 32, Duration::from_secs(5)).await;
    let grown_mib = peak_memory_kib(pid).saturating_sub(baseline) / 1024;
    assert!(
        grown_mib < 64,
        "peak memory grew by {grown_mib} MiB for 150 unauthenticated bodies"
    );
    let health = reqwest::get(format!("{}/health", server.base_url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    drop(held);
}

/// A real server process allowed 32 MiB of request bodies: 100 authenticated clients each
/// announce a 2,000,000-byte invitation and send almost all of it, then stall. Bodies beyond
/// the budget are answered 503 at once, peak memory grows by far less than what was sent, and
/// once the stalled clients are gone the budget is whole again.
#[tokio::test]
async fn authenticated_bodies_are_bounded_by_the_body_memory_budget() {
    let (_database, server) = server_process(&["--max-body-memory", "32"]).await;
    let pid = server.child.id().expect("running");
    let credentials = server.credentials();
    let path = format!("/api/atlas/v2/orgs/{}/invites", server.org_id());
    let nonce = challenge_nonce(&format!("{}{path}", server.base_url)).await;
    let baseline = peak_memory_kib(pid);
    let heads = (1..=100u32)
        .map(|nc| signed_post_head(&credentials, &path, &nonce, nc, 2_000_000))
        .collect();
    let mut held = stalled_bodies(&server.base_url, heads, 29, Duration::from_secs(10)).await;
    let grown_mib = peak_memory_kib(pid).saturating_sub(baseline) / 1024;
    assert!(
        grown_mib < 48,
        "peak memory grew by {grown_mib} MiB for 100 stalled 2 MB bodies"
    );
    let mut refused = 0;
    for socket in &mut held {
        let mut answer = vec![0u8; 4096];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(50), socket.read(&mut answer)).await
        {
            let raw = String::from_utf8_lossy(&answer[..n]).into_owned();
            if raw.starts_with("HTTP/1.1 503") {
                assert_atlas_error(&raw, 503, "SERVICE_UNAVAILABLE");
                refused += 1;
            }
        }
    }
    assert!(refused >= 60, "only {refused} of 100 bodies were refused");
    drop(held);
    let client = crate::harness::DigestClient::new(
        &server.base_url,
        credentials,
        crate::harness::DigestStyle::ChallengeEveryRequest,
    );
    // The stalled bodies' room is given back as their connections close.
    let mut status = 0;
    for _ in 0..50 {
        let created = client
            .post(
                &path,
                &json!({"username": "after@example.com", "roles": ["ORG_MEMBER"]}),
            )
            .await;
        status = created.status;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{}", created.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
}

/// A server process allowed only 64 file descriptors, sent more idle connections than it can
/// hold: it closes idle ones to make room instead of spinning on `accept` errors, and keeps
/// answering new clients, authenticated ones included.
#[tokio::test]
async fn out_of_file_descriptors_the_server_makes_room_and_keeps_answering() {
    let database = orgdoor_test_db::TestDatabase::sqlite();
    let mut limited = tokio::process::Command::new("prlimit");
    limited.args(["--nofile=64:64", crate::cli::BINARY]);
    let server = crate::cli::Server::start_with(limited, &database.url, &[]).await;
    let base = server.base_url.trim_start_matches("http://").to_owned();
    let mut idle = Vec::new();
    for _ in 0..120 {
        let Ok(Ok(mut socket)) =
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&base)).await
        else {
            continue;
        };
        let _ = socket
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let mut answer = [0u8; 512];
        let _ = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut answer)).await;
        idle.push(socket);
    }
    let took = health_within(
        &server.base_url,
        Duration::from_secs(3),
        "with every descriptor taken",
    )
    .await;
    assert!(took < Duration::from_secs(2));
    let owner = crate::harness::DigestClient::new(
        &server.base_url,
        server.credentials(),
        crate::harness::DigestStyle::ChallengeEveryRequest,
    );
    let listed = owner
        .get(&format!("/api/atlas/v2/orgs/{}/invites", server.org_id()))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    drop(idle);
}

/// A client that sends `Expect: 100-continue` (curl does for large bodies) gets its challenge
/// without being invited to send the body.
#[tokio::test]
async fn an_unauthenticated_expect_continue_is_answered_without_inviting_the_body() {
    let app = crate::harness::spawn_app(Backend::Sqlite).await;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n",
        app.invites_path()
    );
    let started = Instant::now();
    let (raw, closed) = exchange(&app, request.as_bytes(), Duration::from_secs(5)).await;
    assert!(
        raw.starts_with("HTTP/1.1 401"),
        "no 100 Continue first: {raw}"
    );
    assert!(closed);
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// A half-sent head is closed at the head-read timeout, even when it arrives on a connection
/// that was idle first (the watchdog switches from the idle deadline to the head deadline).
#[tokio::test]
async fn a_half_sent_head_is_closed_at_the_header_timeout_not_the_idle_one() {
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_millis(700),
        idle_timeout: Duration::from_secs(20),
        ..ConnectionLimits::default()
    };
    let app = app_with_limits(limits).await;
    let mut socket = TcpStream::connect(address(&app)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    socket.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut socket, Duration::from_secs(5)).await;
    assert!(closed, "the half-sent head stayed open");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// The token endpoint reads its form before knowing the client: a large one is refused
/// without being held.
#[tokio::test]
async fn the_token_endpoint_refuses_large_forms() {
    let app = crate::harness::spawn_app(Backend::Sqlite).await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/oauth/token", app.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&x={}",
            "a".repeat(100_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}
