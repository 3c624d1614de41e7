//! `GET /metrics`: Prometheus text with requests counted by route pattern (never a raw id),
//! authentication failures by reason, store waits, the outbox depth and build info.

use std::collections::HashMap;

use orgdoor_test_db::Backend;

use crate::harness::{
    Credentials, DigestClient, DigestStyle, TestApp, eventually, spawn_app, spawn_limited_app,
};

on_both_stores!(
    metrics_count_requests_by_route_and_report_the_outbox,
    rate_limit_refusals_are_counted_by_scope,
    what_the_server_holds_in_memory_is_reported,
);

/// `--metrics-listen` moves `/metrics` to its own address; the API address answers Atlas's 404.
#[tokio::test]
async fn metrics_listen_serves_metrics_on_its_own_address() {
    let database = orgdoor_test_db::TestDatabase::new(Backend::Sqlite).await;
    let server = crate::cli::Server::start_with(
        tokio::process::Command::new(crate::cli::BINARY),
        &database.url,
        &["--metrics-listen", "127.0.0.1:0"],
    )
    .await;
    let metrics_url = server
        .metrics_url
        .clone()
        .expect("the metrics address printed");
    let scraped = reqwest::get(&metrics_url).await.unwrap();
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.unwrap();
    assert!(text.contains("orgdoor_build_info{"), "{text}");
    assert!(text.contains("orgdoor_outbox_messages{"), "{text}");
    // Every store call is timed by its method's name: the first start made the organization.
    assert!(
        text.contains(
            r#"orgdoor_store_call_seconds_count{operation="create_first_organization"} 1"#
        ),
        "{text}"
    );
    let health = reqwest::get(format!("{}/health", server.base_url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let text = reqwest::get(&metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"orgdoor_store_call_seconds_bucket{operation="ping",le="10"} "#),
        "{text}"
    );
    let on_api = reqwest::get(format!("{}/metrics", server.base_url))
        .await
        .unwrap();
    assert_eq!(on_api.status(), 404);
}

/// Samples of a Prometheus text page: `name{labels}` to value. Comment lines are skipped.
fn parse(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

async fn scrape(app: &TestApp) -> (String, HashMap<String, f64>) {
    let response = reqwest::get(format!("{}/metrics", app.base_url.trim_end_matches('/')))
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

/// The sum of every sample of `name` whose labels contain each of `labels`.
fn total(samples: &HashMap<String, f64>, name: &str, labels: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| {
            series.starts_with(&format!("{name}{{"))
                && labels.iter().all(|label| series.contains(label))
        })
        .map(|(_, value)| value)
        .sum()
}

async fn metrics_count_requests_by_route_and_report_the_outbox(backend: Backend) {
    let app = spawn_app(backend).await;
    let org_route = r#"route="/api/atlas/v2/orgs/{orgId}""#;
    let (_, before) = scrape(&app).await;
    let found = total(
        &before,
        "orgdoor_http_requests_total",
        &[org_route, r#"status="200""#],
    );
    let missing = total(
        &before,
        "orgdoor_http_requests_total",
        &[org_route, r#"status="404""#],
    );
    let bad_digest = total(
        &before,
        "orgdoor_auth_failures_total",
        &[r#"reason="bad_digest""#],
    );

    let owner = app.owner();
    owner
        .get(&format!("/api/atlas/v2/orgs/{}", app.org_id))
        .await;
    let unknown_org = "0123456789abcdef01234567";
    let response = owner
        .get(&format!("/api/atlas/v2/orgs/{unknown_org}"))
        .await;
    assert_eq!(response.status, 404);
    let wrong = Credentials {
        public_key: app.owner.public_key.clone(),
        private_key: "00000000-0000-0000-0000-000000000000".to_owned(),
    };
    let intruder = DigestClient::new(&app.base_url, wrong, DigestStyle::ReuseNonce);
    let refused = intruder
        .get(&format!("/api/atlas/v2/orgs/{}", app.org_id))
        .await;
    assert_eq!(refused.status, 401);
    let raw_token = "not-a-real-invitation-token-4f1c";
    let _ = reqwest::get(format!("{}invitations/{raw_token}", app.base_url)).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    app.invite("bob@example.com", &["ORG_MEMBER"]).await;

    let (text, after) = scrape(&app).await;
    let count = |labels: &[&str]| total(&after, "orgdoor_http_requests_total", labels);
    assert!(
        count(&[org_route, r#"method="GET""#, r#"status="200""#]) >= found + 1.0,
        "{text}"
    );
    assert!(
        count(&[org_route, r#"method="GET""#, r#"status="404""#]) >= missing + 1.0,
        "{text}"
    );
    assert!(
        total(
            &after,
            "orgdoor_auth_failures_total",
            &[r#"reason="bad_digest""#]
        ) >= bad_digest + 1.0,
        "{text}"
    );
    for secret in [unknown_org, raw_token, app.org_id.as_str()] {
        assert!(!text.contains(secret), "{secret} in a label:\n{text}");
    }
    assert!(
        text.contains(r#"orgdoor_http_request_duration_seconds_bucket{route="/api/atlas/v2/orgs/{orgId}",method="GET",le="0.001"}"#),
        "{text}"
    );
    assert!(text.contains("le=\"10\""), "{text}");
    assert!(
        text.contains("orgdoor_store_acquire_seconds_bucket{"),
        "{text}"
    );
    // Every SQLite commit is counted with the writes it held (here, the invitations made).
    if backend == Backend::Sqlite {
        let commits = after
            .get("orgdoor_store_shared_commit_writes_count")
            .copied()
            .unwrap_or_default();
        let writes = after
            .get("orgdoor_store_shared_commit_writes_sum")
            .copied()
            .unwrap_or_default();
        assert!(commits >= 1.0 && writes >= commits, "{text}");
        assert!(
            text.contains(r#"orgdoor_store_shared_commit_writes_bucket{le="64"}"#),
            "{text}"
        );
    }
    let version = format!(
        "orgdoor_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(after.get(&version), Some(&1.0), "{text}");
    assert_eq!(
        after.get(r#"orgdoor_outbox_messages{status="pending"}"#),
        Some(&2.0),
        "{text}"
    );
    assert_eq!(
        after.get(r#"orgdoor_outbox_messages{status="failed"}"#),
        Some(&0.0),
        "{text}"
    );
}

async fn rate_limit_refusals_are_counted_by_scope(backend: Backend) {
    let app = spawn_limited_app(backend, 1).await;
    let (_, before) = scrape(&app).await;
    let path = format!("/api/atlas/v2/orgs/{}/invites", app.org_id);
    let owner = app.owner();
    let statuses = [owner.get(&path).await.status, owner.get(&path).await.status];
    assert_eq!(statuses, [200, 429]);
    let (_, after) = scrape(&app).await;
    let scope = r#"scope="organization""#;
    // Other tests of this process may count too: at least this one refusal.
    assert!(
        total(&after, "orgdoor_rate_limited_total", &[scope])
            >= total(&before, "orgdoor_rate_limited_total", &[scope]) + 1.0
    );
}

/// The held lists and pages, their bytes and the held credentials are gauges read per scrape:
/// a list read shows as held with at least its body's bytes, and a write to its organization
/// drops it before the write is answered.
async fn what_the_server_holds_in_memory_is_reported(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let owner = app.owner();
    let invites = app.invites_path();
    // The first reading of the store's changes may not have been made when the server started;
    // until it has, nothing is kept. A held list costs its body and a small fixed overhead.
    eventually("the list is held, with its bytes", || async {
        let listed = owner.get(&invites).await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        let body_bytes = listed.text.len() as f64;
        let (_, held) = scrape(&app).await;
        let view_bytes = held.get("orgdoor_held_view_bytes").copied();
        held.get("orgdoor_held_views") == Some(&1.0)
            && view_bytes.is_some_and(|bytes| bytes >= body_bytes && bytes < body_bytes + 4096.0)
    })
    .await;
    let (text, held) = scrape(&app).await;
    assert!(
        held.get("orgdoor_held_credentials")
            .copied()
            .unwrap_or_default()
            >= 1.0,
        "{text}"
    );

    app.invite("bob@example.com", &["ORG_MEMBER"]).await;
    let (text, after) = scrape(&app).await;
    assert_eq!(after.get("orgdoor_held_views"), Some(&0.0), "{text}");
    assert_eq!(after.get("orgdoor_held_view_bytes"), Some(&0.0), "{text}");
}
