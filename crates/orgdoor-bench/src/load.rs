//! The load generator: keep-alive HTTP/1.1 connections over loopback, each sending its next
//! request as soon as the last answer is read, for a fixed time. Every answer is checked against
//! the scenario's [`Expectation`]; only the calls that pass count as operations and have their
//! latency kept, the others are errors. Latencies are kept whole and sorted at the end, so
//! percentiles are exact.
//!
//! Authentication is done the way real clients do it: a Bearer token; Digest like
//! python-requests (one challenge per connection, then the nonce reused with a rising `nc`);
//! or Digest like the Go client (every call sent bare first, challenged, then sent again —
//! one operation is two round trips, and its latency covers both).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;

use crate::verify::{self, Expectation};

/// How a request authenticates.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Auth {
    None,
    Bearer(String),
    /// python-requests: challenged once per connection, then the nonce is reused.
    DigestReuse {
        user: String,
        password: String,
    },
    /// The Go client: every call is challenged first.
    DigestChallenged {
        user: String,
        password: String,
    },
    /// HTTP Basic, as OAuth clients present their credentials to the token endpoint.
    Basic {
        user: String,
        password: String,
    },
}

fn basic_header(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// JSON bodies are JSON; anything else is a form (the token endpoint's).
fn content_type(body: &str) -> &'static str {
    if body.starts_with('{') || body.starts_with('[') {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    }
}

/// What each call sends; `{n}` in the path or body is replaced by a number unique to the call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Workload {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) body: Option<String>,
    pub(crate) accept: String,
    pub(crate) auth: Auth,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LoadSpec {
    /// `host:port`.
    pub(crate) address: String,
    pub(crate) connections: usize,
    pub(crate) duration_ms: u64,
    pub(crate) workload: Workload,
    /// What every answer must be for the call to count.
    pub(crate) expect: Expectation,
    /// Where `{n}` starts, so runs against one store never repeat a value.
    pub(crate) first_n: u64,
}

/// What a run measured. `operations` count verified calls, the only ones throughput and
/// latencies are made of; `errors` count the others; `round_trips` count HTTP exchanges.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LoadResult {
    pub(crate) operations: u64,
    pub(crate) round_trips: u64,
    pub(crate) errors: u64,
    pub(crate) seconds: f64,
    pub(crate) operations_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub(crate) max_ms: f64,
    /// The first few distinct reasons calls failed, to explain `errors`.
    pub(crate) error_reasons: Vec<String>,
}

/// How many distinct failure reasons a run keeps.
pub(crate) const REASONS_KEPT: usize = 5;

/// Adds `reason` to `reasons` unless it is there already or enough are kept.
pub(crate) fn keep_reason(reasons: &mut Vec<String>, reason: String) {
    if reasons.len() < REASONS_KEPT && !reasons.contains(&reason) {
        reasons.push(reason);
    }
}

/// The calls of a run, as they end: a verified call adds its latency, any other an error.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    latencies_ns: Vec<u64>,
    round_trips: u64,
    errors: u64,
    error_reasons: Vec<String>,
}

impl Tally {
    pub(crate) fn verified(&mut self, latency: Duration) {
        self.latencies_ns
            .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
    }

    pub(crate) fn failed(&mut self, reason: String) {
        self.errors += 1;
        keep_reason(&mut self.error_reasons, reason);
    }

    fn merge(&mut self, other: Tally) {
        self.latencies_ns.extend(other.latencies_ns);
        self.round_trips += other.round_trips;
        self.errors += other.errors;
        for reason in other.error_reasons {
            keep_reason(&mut self.error_reasons, reason);
        }
    }

    /// The figures of `seconds` of these calls; percentiles are exact.
    pub(crate) fn into_result(mut self, seconds: f64) -> LoadResult {
        let latencies = &mut self.latencies_ns;
        latencies.sort_unstable();
        let percentile = |p: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
            let index = rank.clamp(1, latencies.len()) - 1;
            latencies[index] as f64 / 1e6
        };
        let operations = latencies.len() as u64;
        LoadResult {
            operations,
            round_trips: self.round_trips,
            errors: self.errors,
            seconds,
            operations_per_second: operations as f64 / seconds,
            p50_ms: percentile(50.0),
            p99_ms: percentile(99.0),
            max_ms: latencies.last().map_or(0.0, |max| *max as f64 / 1e6),
            error_reasons: self.error_reasons,
        }
    }
}

struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    nonce: Option<Nonce>,
}

struct Nonce {
    realm: String,
    nonce: String,
    opaque: Option<String>,
    count: u32,
}

/// Drives the workload and measures it.
pub(crate) async fn run(spec: LoadSpec) -> anyhow::Result<LoadResult> {
    let counter = Arc::new(AtomicU64::new(spec.first_n));
    let deadline = Instant::now() + Duration::from_millis(spec.duration_ms);
    let started = Instant::now();
    let mut workers = Vec::with_capacity(spec.connections);
    for _ in 0..spec.connections {
        let spec = spec.clone();
        let counter = counter.clone();
        workers.push(tokio::spawn(async move {
            worker(&spec, &counter, deadline).await
        }));
    }
    let mut tally = Tally::default();
    for worker in workers {
        tally.merge(worker.await??);
    }
    Ok(tally.into_result(started.elapsed().as_secs_f64()))
}

async fn worker(spec: &LoadSpec, counter: &AtomicU64, deadline: Instant) -> anyhow::Result<Tally> {
    let mut connection = connect(&spec.address).await?;
    let mut tally = Tally {
        latencies_ns: Vec::with_capacity(1 << 16),
        ..Tally::default()
    };
    // An answer byte-equal to the last one that passed passes too, when the check does not
    // depend on the call: a comparison instead of a second scan of the same bytes.
    let reuse_verdicts = !spec.expect.depends_on_call();
    let mut last_passed: Option<Bytes> = None;
    while Instant::now() < deadline {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        match call(&mut connection, &spec.workload, n, &mut tally.round_trips).await {
            Ok((status, body)) => {
                // The latency ends with the last byte read; checking it is the client's time.
                let latency = started.elapsed();
                if reuse_verdicts
                    && status.as_u16() == spec.expect.status
                    && last_passed.as_ref() == Some(&body)
                {
                    tally.verified(latency);
                    continue;
                }
                match verify::check(&spec.expect, n, status.as_u16(), &body) {
                    Ok(()) => {
                        tally.verified(latency);
                        last_passed = Some(body);
                    }
                    Err(reason) => tally.failed(reason),
                }
            }
            Err(error) => {
                tally.failed(format!("{error:#}"));
                connection = connect(&spec.address).await?;
            }
        }
    }
    Ok(tally)
}

async fn connect(address: &str) -> anyhow::Result<Connection> {
    let stream = TcpStream::connect(address)
        .await
        .with_context(|| format!("connecting to {address}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(Connection {
        sender,
        host: address.to_owned(),
        nonce: None,
    })
}

/// One call of the workload, with as many round trips as its authentication takes; returns the
/// last answer's status and body.
async fn call(
    connection: &mut Connection,
    workload: &Workload,
    n: u64,
    round_trips: &mut u64,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let path = workload.path.replace("{n}", &n.to_string());
    let body = workload
        .body
        .as_ref()
        .map(|body| body.replace("{n}", &n.to_string()));
    let authorization = match &workload.auth {
        Auth::None => None,
        Auth::Bearer(token) => Some(format!("Bearer {token}")),
        Auth::Basic { user, password } => Some(basic_header(user, password)),
        Auth::DigestReuse { user, password } => {
            if connection.nonce.is_none() {
                let (status, challenge, _) =
                    send(connection, workload, &path, body.as_deref(), None).await?;
                *round_trips += 1;
                connection.nonce = Some(parse_challenge(status, challenge.as_deref())?);
            }
            let nonce = connection
                .nonce
                .as_mut()
                .ok_or_else(|| anyhow!("no nonce"))?;
            Some(digest_header(
                user,
                password,
                &workload.method,
                &path,
                nonce,
            ))
        }
        Auth::DigestChallenged { user, password } => {
            let (status, challenge, _) =
                send(connection, workload, &path, body.as_deref(), None).await?;
            *round_trips += 1;
            let mut nonce = parse_challenge(status, challenge.as_deref())?;
            Some(digest_header(
                user,
                password,
                &workload.method,
                &path,
                &mut nonce,
            ))
        }
    };
    let (status, challenge, answer) = send(
        connection,
        workload,
        &path,
        body.as_deref(),
        authorization.as_deref(),
    )
    .await?;
    *round_trips += 1;
    if status == StatusCode::UNAUTHORIZED && challenge.is_some() {
        // A stale nonce: the next call starts over, as python-requests does.
        connection.nonce = None;
    }
    Ok((status, answer))
}

/// Sends one request and reads the whole answer; returns the status, any challenge and the body.
async fn send(
    connection: &mut Connection,
    workload: &Workload,
    path: &str,
    body: Option<&str>,
    authorization: Option<&str>,
) -> anyhow::Result<(StatusCode, Option<String>, Bytes)> {
    let mut request = Request::builder()
        .method(workload.method.parse::<Method>()?)
        .uri(path)
        .header("host", &connection.host)
        .header("accept", &workload.accept);
    if let Some(body) = body {
        request = request.header("content-type", content_type(body));
    }
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let request = request.body(Full::new(Bytes::from(
        body.map(str::to_owned).unwrap_or_default(),
    )))?;
    connection.sender.ready().await?;
    let response = connection.sender.send_request(request).await?;
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, challenge, body))
}

/// The nonce of a Digest challenge, which comes only with a 401.
fn parse_challenge(status: StatusCode, header: Option<&str>) -> anyhow::Result<Nonce> {
    let header = header
        .filter(|_| status == StatusCode::UNAUTHORIZED)
        .ok_or_else(|| anyhow!("expected a 401 Digest challenge, got {status}"))?;
    let field = |name: &str| {
        header
            .split(',')
            .filter_map(|part| part.trim().trim_start_matches("Digest ").split_once('='))
            .find(|(key, _)| key.trim() == name)
            .map(|(_, value)| value.trim().trim_matches('"').to_owned())
    };
    Ok(Nonce {
        realm: field("realm").ok_or_else(|| anyhow!("no realm in {header}"))?,
        nonce: field("nonce").ok_or_else(|| anyhow!("no nonce in {header}"))?,
        opaque: field("opaque"),
        count: 0,
    })
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The `response` of RFC 7616 with MD5 and `qop=auth`.
#[expect(clippy::too_many_arguments, reason = "the RFC 7616 inputs, each named")]
fn digest_response(
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &Nonce,
    nc: &str,
    cnonce: &str,
) -> String {
    let ha1 = md5_hex(&format!("{user}:{}:{password}", nonce.realm));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    md5_hex(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", nonce.nonce))
}

/// An RFC 7616 `Authorization: Digest` header with `qop=auth`, the next `nc` for this nonce.
fn digest_header(user: &str, password: &str, method: &str, uri: &str, nonce: &mut Nonce) -> String {
    nonce.count += 1;
    let nc = format!("{:08x}", nonce.count);
    let cnonce = format!("{:016x}", rand::random::<u64>());
    let response = digest_response(user, password, method, uri, nonce, &nc, &cnonce);
    let mut header = format!(
        "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", \
         algorithm=MD5, response=\"{response}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\"",
        nonce.realm, nonce.nonce
    );
    if let Some(opaque) = &nonce.opaque {
        header.push_str(&format!(", opaque=\"{opaque}\""));
    }
    header
}

/// One request outside a measured run (seeding): returns the status and the body.
pub(crate) async fn request_once(
    address: &str,
    method: &str,
    path: &str,
    accept: &str,
    body: Option<&str>,
    auth: &Auth,
) -> anyhow::Result<(StatusCode, String)> {
    let mut connection = connect(address).await?;
    let workload = Workload {
        method: method.to_owned(),
        path: path.to_owned(),
        body: body.map(str::to_owned),
        accept: accept.to_owned(),
        auth: auth.clone(),
    };
    let authorization = match auth {
        Auth::None => None,
        Auth::Bearer(token) => Some(format!("Bearer {token}")),
        Auth::Basic { user, password } => Some(basic_header(user, password)),
        Auth::DigestReuse { user, password } | Auth::DigestChallenged { user, password } => {
            let (status, challenge, _) = send(&mut connection, &workload, path, body, None).await?;
            let mut nonce = parse_challenge(status, challenge.as_deref())?;
            Some(digest_header(user, password, method, path, &mut nonce))
        }
    };
    let mut request = Request::builder()
        .method(method.parse::<Method>()?)
        .uri(path)
        .header("host", address)
        .header("accept", accept)
        .header("content-type", content_type(body.unwrap_or_default()));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let request = request.body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))?;
    connection.sender.ready().await?;
    let response = connection.sender.send_request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::Router;
    use axum::routing::get;

    #[test]
    fn only_verified_calls_make_throughput_and_latency() {
        let mut tally = Tally::default();
        tally.verified(Duration::from_millis(2));
        tally.failed("status 500 (expected 200)".into());
        tally.failed("status 500 (expected 200)".into());
        tally.failed("an array of 2 (expected 3)".into());
        let result = tally.into_result(2.0);
        assert_eq!(result.operations, 1);
        assert_eq!(result.errors, 3);
        assert!((result.operations_per_second - 0.5).abs() < 1e-9);
        assert!((result.max_ms - 2.0).abs() < 1e-9, "{}", result.max_ms);
        assert_eq!(
            result.error_reasons,
            ["status 500 (expected 200)", "an array of 2 (expected 3)"]
        );
    }

    #[test]
    fn a_few_distinct_reasons_are_kept() {
        let mut tally = Tally::default();
        for reason in 0..REASONS_KEPT * 2 {
            tally.failed(format!("reason {reason}"));
        }
        let mut other = Tally::default();
        other.failed("reason 0".into());
        tally.merge(other);
        let result = tally.into_result(1.0);
        assert_eq!(result.errors, REASONS_KEPT as u64 * 2 + 1);
        assert_eq!(result.error_reasons.len(), REASONS_KEPT);
        assert_eq!(result.error_reasons[0], "reason 0");
    }

    /// Serves `/three` (three elements), `/two` (two) and `/alternating` (three, then two, …).
    async fn answering_server() -> String {
        let served = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .route("/three", get(|| async { "[1,2,3]" }))
            .route("/two", get(|| async { "[1,2]" }))
            .route(
                "/alternating",
                get(move || async move {
                    if served.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
                        "[1,2,3]"
                    } else {
                        "[1,2]"
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let address = listener.local_addr().expect("has an address").to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        address
    }

    fn three_items_from(address: &str, path: &str) -> LoadSpec {
        LoadSpec {
            address: address.to_owned(),
            connections: 2,
            duration_ms: 200,
            workload: Workload {
                method: "GET".into(),
                path: path.into(),
                body: None,
                accept: "application/json".into(),
                auth: Auth::None,
            },
            expect: Expectation::array_of(3),
            first_n: 0,
        }
    }

    #[tokio::test]
    async fn wrong_answers_are_errors_not_throughput() {
        let address = answering_server().await;

        let right = run(three_items_from(&address, "/three"))
            .await
            .expect("runs");
        assert!(right.operations > 0);
        assert_eq!(right.errors, 0, "{:?}", right.error_reasons);

        let short = run(three_items_from(&address, "/two")).await.expect("runs");
        assert_eq!(short.operations, 0);
        assert!(short.errors > 0);
        assert_eq!(short.operations_per_second, 0.0);
        assert_eq!(short.error_reasons, ["an array of 2 (expected 3)"]);

        let missing = run(three_items_from(&address, "/missing"))
            .await
            .expect("runs");
        assert_eq!(missing.operations, 0);
        assert!(
            missing.error_reasons[0].starts_with("status 404 (expected 200)"),
            "{:?}",
            missing.error_reasons
        );
    }

    #[tokio::test]
    async fn an_answer_like_one_that_passed_is_the_only_one_passed_unchecked() {
        let address = answering_server().await;
        // One connection, so the answer after one that passed is always a short one.
        let mut spec = three_items_from(&address, "/alternating");
        spec.connections = 1;
        let alternating = run(spec).await.expect("runs");
        assert!(alternating.operations > 0);
        assert!(
            alternating.operations.abs_diff(alternating.errors) <= 1,
            "{} passed, {} failed",
            alternating.operations,
            alternating.errors
        );
    }

    #[test]
    fn responses_match_the_rfc_2617_example() {
        let challenge = r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let nonce = parse_challenge(StatusCode::UNAUTHORIZED, Some(challenge)).expect("parses");
        assert_eq!(nonce.realm, "testrealm@host.com");
        assert_eq!(
            nonce.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        let response = digest_response(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            &nonce,
            "00000001",
            "0a4f113b",
        );
        assert_eq!(response, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn each_header_counts_up_and_a_missing_challenge_is_an_error() {
        let mut nonce = parse_challenge(
            StatusCode::UNAUTHORIZED,
            Some(r#"Digest realm="MMS Public API", nonce="n1", algorithm=MD5, qop="auth""#),
        )
        .expect("parses");
        let first = digest_header("u", "p", "GET", "/x", &mut nonce);
        let second = digest_header("u", "p", "GET", "/x", &mut nonce);
        assert!(first.contains("nc=00000001"), "{first}");
        assert!(second.contains("nc=00000002"), "{second}");
        assert!(parse_challenge(StatusCode::OK, None).is_err());
    }
}
