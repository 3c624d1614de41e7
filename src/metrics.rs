//! Prometheus metrics: the process-wide recorder and the names and fixed label values the
//! server records under. The recorder is installed once per process (tests start many servers
//! in one process; they share it), and `GET /metrics` renders it (`http::metrics`).
//!
//! Labels are never request input: routes are the router's patterns, and reasons and scopes
//! are fixed strings.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `route`, `method` and `status`.
pub const HTTP_REQUESTS: &str = "orgdoor_http_requests_total";
/// Seconds from a request reaching the router to its response head, by `route` and `method`.
pub const HTTP_REQUEST_SECONDS: &str = "orgdoor_http_request_duration_seconds";
/// Requests not authenticated, by `reason`.
pub const AUTH_FAILURES: &str = "orgdoor_auth_failures_total";
/// Requests refused by a rate limit, by the `scope` of the bucket that was empty.
pub const RATE_LIMITED: &str = "orgdoor_rate_limited_total";
/// Messages in the outbox, by `status` (`pending`, `failed`); read from the store per scrape.
pub const OUTBOX_MESSAGES: &str = "orgdoor_outbox_messages";
/// Organizations' lists and pages held rendered in memory; read per scrape.
pub const HELD_VIEWS: &str = "orgdoor_held_views";
/// The bytes those views count against `--view-cache-bytes`; read per scrape.
pub const HELD_VIEW_BYTES: &str = "orgdoor_held_view_bytes";
/// API keys and Bearer tokens held in memory (`--credential-cache-entries` bounds them); read per
/// scrape.
pub const HELD_CREDENTIALS: &str = "orgdoor_held_credentials";
/// Always 1, labelled with the `version` running.
pub const BUILD_INFO: &str = "orgdoor_build_info";

/// The `route` label of a request no route took (its raw path may hold ids or tokens).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Latency buckets in seconds, 1 ms to 10 s, for requests and store waits alike.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Buckets for how many writes shared a SQLite commit (at most 64 do).
const SHARED_COMMIT_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// How often recorded histogram samples are folded into their buckets when nobody scrapes, so
/// an unscraped server does not keep every sample.
const UPKEEP_PERIOD: Duration = Duration::from_secs(5);

/// Why a request was not authenticated, as the `reason` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    MissingCredentials,
    /// A header that is neither Digest nor Bearer as orgdoor reads them, or whose `uri`,
    /// algorithm or quality of protection is not acceptable.
    MalformedCredentials,
    /// A public key nobody has.
    UnknownKey,
    /// A Digest response that does not prove the key's private part.
    BadDigest,
    /// A nonce orgdoor did not sign.
    ForgedNonce,
    /// A nonce too old (the client retries with a fresh one).
    StaleNonce,
    /// A `(nonce, nc)` pair used before.
    ReplayedNonce,
    /// A Bearer token unknown, revoked or expired.
    BadBearerToken,
    /// A proven credential used from an address its access list does not allow.
    AccessList,
    /// Too many failures from this address or on this key: not checked at all.
    Throttled,
}

impl AuthFailure {
    fn label(self) -> &'static str {
        match self {
            AuthFailure::MissingCredentials => "missing_credentials",
            AuthFailure::MalformedCredentials => "malformed_credentials",
            AuthFailure::UnknownKey => "unknown_key",
            AuthFailure::BadDigest => "bad_digest",
            AuthFailure::ForgedNonce => "forged_nonce",
            AuthFailure::StaleNonce => "stale_nonce",
            AuthFailure::ReplayedNonce => "replayed_nonce",
            AuthFailure::BadBearerToken => "bad_bearer_token",
            AuthFailure::AccessList => "access_list",
            AuthFailure::Throttled => "throttled",
        }
    }
}

/// Counts one request refused authentication.
pub fn record_auth_failure(reason: AuthFailure) {
    metrics::counter!(AUTH_FAILURES, "reason" => reason.label()).increment(1);
}

/// Counts one request refused by the rate limit kept per `scope` (`organization`, `group`,
/// `user`).
pub fn record_rate_limited(scope: &'static str) {
    metrics::counter!(RATE_LIMITED, "scope" => scope).increment(1);
}

/// The process's recorder, installed on first use. If another recorder was installed first
/// (only an embedding program could), `/metrics` renders what this one holds: nothing but the
/// outbox and build info.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(install).clone()
}

#[allow(clippy::disallowed_methods)] // `std::thread::sleep`, on the upkeep thread only
fn install() -> PrometheusHandle {
    // `set_buckets` refuses only an empty list; without buckets histograms become summaries.
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)
        .and_then(|builder| {
            builder.set_buckets_for_metric(
                Matcher::Full(orgdoor_store::SHARED_COMMIT_WRITES.to_owned()),
                &SHARED_COMMIT_BUCKETS,
            )
        })
        .unwrap_or_else(|_| PrometheusBuilder::new());
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("another metrics recorder is installed; /metrics shows little");
    }
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        // A thread of its own, not a runtime worker: sleeping blocks nothing else, and it
        // outlives any one runtime (the tests start one per test).
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_PERIOD);
                upkeep.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "metrics upkeep thread not started; histograms fold per scrape");
    }
    handle
}
