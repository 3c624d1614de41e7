//! The control API for test suites (`serve --control-token`): reset, the server's clock, fault
//! rules and the request journal, through real HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orgdoor::control::Control;
use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{
    TestApp, TestResponse, V2025, read, run_python_client, spawn_app, spawn_app_with,
};

on_both_stores!(
    without_a_token_the_control_api_does_not_exist,
    only_the_bearer_token_opens_the_control_api,
    the_control_api_asks_for_its_token_before_it_says_a_path_or_method_is_unknown,
    the_clock_expires_an_invitation_and_returns_to_the_wall_clock,
    the_clock_is_shared_by_every_instance_on_the_store,
    wrong_clock_requests_are_refused,
    a_reset_empties_the_store_on_every_instance_and_restores,
    a_fault_rule_answers_atlas_errors_for_its_times,
    a_fault_rule_can_target_one_credential,
    fault_rules_add_latency_and_drop_connections,
    fault_rules_are_validated_and_bounded,
    the_journal_lists_recent_requests_newest_first_and_filters,
    python_requests_retries_a_429_from_a_fault_rule,
);

const TOKEN: &str = "control-token-for-tests";

async fn control_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |app| app.with_control(Control::new(TOKEN, 1000))).await
}

/// A control API call on `base` with the token.
async fn control_at(base: &str, method: Method, path: &str, body: Option<Value>) -> TestResponse {
    let url = format!("{base}/api/orgdoor/v1/control{path}");
    let mut request = reqwest::Client::new()
        .request(method.clone(), &url)
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    read(&method, &format!("/api/orgdoor/v1/control{path}"), response).await
}

async fn control(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> TestResponse {
    control_at(&app.base_url, method, path, body).await
}

async fn journal(app: &TestApp, query: &str) -> Vec<Value> {
    let listed = control(app, Method::GET, &format!("/requests{query}"), None).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    listed.json["results"].as_array().expect("results").clone()
}

async fn without_a_token_the_control_api_does_not_exist(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/clock", "/reset", "/faults", "/requests"] {
        // As for any path under orgdoor's API: a challenge without credentials, then not found.
        let response = control(&app, Method::GET, path, None).await;
        assert_eq!(response.status, 401, "{path}: {}", response.text);
        let response = app
            .owner()
            .get(&format!("/api/orgdoor/v1/control{path}"))
            .await;
        response.assert_error(404, "RESOURCE_NOT_FOUND");
    }
}

async fn only_the_bearer_token_opens_the_control_api(backend: Backend) {
    let app = control_app(backend).await;
    let url = format!("{}/api/orgdoor/v1/control/clock", app.base_url);
    let client = reqwest::Client::new();
    for authorization in [
        None,
        Some("Bearer wrong-token-value"),
        Some("Basic Y29udHJvbA=="),
        Some("control-token-for-tests"),
    ] {
        let mut request = client.get(&url);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("answer");
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer realm=\"orgdoor-control\"")
        );
        let response = read(&Method::GET, "/api/orgdoor/v1/control/clock", response).await;
        response.assert_error(401, "UNAUTHORIZED");
    }
    // Digest credentials are no control token either.
    let digest = client
        .get(&url)
        .header(
            "authorization",
            format!(
                "Digest username=\"{}\", realm=\"MMS Public API\", nonce=\"x\", uri=\"/api/orgdoor/v1/control/clock\", response=\"0\"",
                app.owner.public_key
            ),
        )
        .send()
        .await
        .expect("answer");
    assert_eq!(digest.status(), 401);
    assert_eq!(control(&app, Method::GET, "/clock", None).await.status, 200);
}

async fn the_control_api_asks_for_its_token_before_it_says_a_path_or_method_is_unknown(
    backend: Backend,
) {
    let app = control_app(backend).await;
    let client = reqwest::Client::new();
    // A method the path does not take, and a path that does not exist.
    for (method, path, known) in [
        (Method::DELETE, "/clock", 405),
        (Method::PATCH, "/reset", 405),
        (Method::GET, "/nothing-here", 404),
        (Method::POST, "/faults/abc/more", 404),
    ] {
        let url = format!("{}/api/orgdoor/v1/control{path}", app.base_url);
        let anonymous = client
            .request(method.clone(), &url)
            .send()
            .await
            .expect("answer");
        assert_eq!(
            anonymous
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer realm=\"orgdoor-control\""),
            "{method} {path}"
        );
        assert!(
            !anonymous.headers().contains_key("allow"),
            "{method} {path}"
        );
        read(&method, path, anonymous)
            .await
            .assert_error(401, "UNAUTHORIZED");

        let with_token = control(&app, method.clone(), path, None).await;
        let code = if known == 405 {
            "METHOD_NOT_ALLOWED"
        } else {
            "RESOURCE_NOT_FOUND"
        };
        with_token.assert_error(known, code);
    }
    // The 405 still says what the path takes.
    let response = client
        .delete(format!("{}/api/orgdoor/v1/control/clock", app.base_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answer");
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(allow.contains("GET") && allow.contains("PUT"), "{allow}");
}

async fn the_clock_expires_an_invitation_and_returns_to_the_wall_clock(backend: Backend) {
    let app = control_app(backend).await;
    let clock = control(&app, Method::GET, "/clock", None).await;
    assert_eq!(clock.json["offsetSeconds"], 0, "{}", clock.text);
    let now = time::OffsetDateTime::parse(
        clock.json["now"].as_str().expect("now"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("an RFC 3339 instant");
    assert!((now - time::OffsetDateTime::now_utc()).abs() < time::Duration::seconds(5));

    let invited = app.invite("late@example.com", &["ORG_MEMBER"]).await;
    assert_eq!(invited.status, 200, "{}", invited.text);
    assert_eq!(
        app.org_user_named("late@example.com").await["orgMembershipStatus"],
        "PENDING"
    );

    let moved = control(
        &app,
        Method::PUT,
        "/clock",
        Some(json!({"advanceSeconds": 2_678_400})),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json["offsetSeconds"], 2_678_400);
    assert_eq!(
        app.org_user_named("late@example.com").await["orgMembershipStatus"],
        "INVITATION_EXPIRED"
    );

    let set = control(
        &app,
        Method::PUT,
        "/clock",
        Some(json!({"now": "2030-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert!(
        set.json["now"]
            .as_str()
            .is_some_and(|now| now.starts_with("2030-01-01T00:00:0")),
        "{}",
        set.text
    );

    let back = control(&app, Method::PUT, "/clock", Some(json!({"now": null}))).await;
    assert_eq!(back.json["offsetSeconds"], 0, "{}", back.text);
    assert_eq!(
        app.org_user_named("late@example.com").await["orgMembershipStatus"],
        "PENDING"
    );
}

async fn the_clock_is_shared_by_every_instance_on_the_store(backend: Backend) {
    let app = control_app(backend).await;
    let other = app
        .spawn_instance_with(|instance| instance.with_control(Control::new(TOKEN, 10)))
        .await;
    control(
        &app,
        Method::PUT,
        "/clock",
        Some(json!({"advanceSeconds": 86_400})),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = control_at(&other, Method::GET, "/clock", None).await;
        if seen.json["offsetSeconds"] == 86_400 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the other instance never followed: {}",
            seen.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wrong_clock_requests_are_refused(backend: Backend) {
    let app = control_app(backend).await;
    for (body, code) in [
        (json!({}), "MISSING_ATTRIBUTE"),
        (
            json!({"now": "2027-01-01T00:00:00Z", "advanceSeconds": 1}),
            "VALIDATION_ERROR",
        ),
        (json!({"now": "tomorrow"}), "VALIDATION_ERROR"),
        (json!({"now": "3000-01-01T00:00:00Z"}), "VALIDATION_ERROR"),
        (json!({"advanceSeconds": i64::MAX}), "VALIDATION_ERROR"),
        (
            json!({"advanceSeconds": -100_000_000_000_i64}),
            "VALIDATION_ERROR",
        ),
        (json!({"advanceSeconds": "soon"}), "INVALID_JSON_ATTRIBUTE"),
        (json!({"later": 1}), "INVALID_ATTRIBUTE"),
    ] {
        let refused = control(&app, Method::PUT, "/clock", Some(body.clone())).await;
        refused.assert_error(400, code);
    }
    assert_eq!(
        control(&app, Method::GET, "/clock", None).await.json["offsetSeconds"],
        0
    );
}

async fn a_reset_empties_the_store_on_every_instance_and_restores(backend: Backend) {
    let restored = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = restored.clone();
    let app = spawn_app_with(backend, move |app| {
        app.with_control(
            Control::new(TOKEN, 1000).with_restore(Arc::new(move |_store, _now| {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Box::pin(async { Ok(()) })
            })),
        )
    })
    .await;
    let other = app
        .spawn_instance_with(|instance| instance.with_control(Control::new(TOKEN, 10)))
        .await;
    app.invite("gone@example.com", &["ORG_MEMBER"]).await;
    control(
        &app,
        Method::PUT,
        "/clock",
        Some(json!({"advanceSeconds": 3600})),
    )
    .await;
    control(
        &app,
        Method::POST,
        "/faults",
        Some(json!({"path": "/nothing", "status": 500})),
    )
    .await;
    control_at(
        &other,
        Method::POST,
        "/faults",
        Some(json!({"path": "/nothing", "status": 500})),
    )
    .await;

    let reset = control(&app, Method::POST, "/reset", None).await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    assert_eq!(reset.json["resets"], 1);
    assert_eq!(restored.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Nothing a client made is left: the organization, its key and its invitation are gone.
    let organizations: Vec<String> = app.stored_column("SELECT id FROM organizations").await;
    assert!(organizations.is_empty(), "{organizations:?}");
    assert_eq!(app.owner().get(&app.invites_path()).await.status, 401);
    assert_eq!(
        control(&app, Method::GET, "/clock", None).await.json["offsetSeconds"],
        0
    );
    assert_eq!(
        control(&app, Method::GET, "/faults", None).await.json["totalCount"],
        0
    );
    // The other instance follows: its own fault rule is forgotten too.
    let deadline = Instant::now() + Duration::from_secs(10);
    while control_at(&other, Method::GET, "/faults", None).await.json["totalCount"] != 0 {
        assert!(
            Instant::now() < deadline,
            "the other instance never followed the reset"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        control_at(&other, Method::GET, "/clock", None).await.json["offsetSeconds"],
        0
    );
}

async fn a_fault_rule_answers_atlas_errors_for_its_times(backend: Backend) {
    let app = control_app(backend).await;
    let invites = app.invites_path();
    let added = control(
        &app,
        Method::POST,
        "/faults",
        Some(json!({"method": "GET", "path": "/api/atlas/v2/orgs/*/invites", "status": 503, "times": 1})),
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let id = added.json["id"].as_str().expect("an id").to_owned();
    assert_eq!(added.json["times"], 1);

    // The first leg of the Digest exchange meets the rule, as a load balancer's refusal would.
    let refused = app.owner().get(&invites).await;
    refused.assert_error(503, "SERVICE_UNAVAILABLE");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(app.owner().get(&invites).await.status, 200);
    // Used up, the rule is gone.
    assert_eq!(
        control(&app, Method::GET, "/faults", None).await.json["totalCount"],
        0
    );
    let faulted = journal(&app, "?status=503").await;
    assert_eq!(faulted.len(), 1);
    assert_eq!(faulted[0]["faultId"], id.as_str());

    control(
        &app,
        Method::POST,
        "/faults",
        Some(json!({"path": "/api/atlas/**", "status": 429, "retryAfterSeconds": 7, "times": 2})),
    )
    .await;
    let limited = app
        .owner()
        .post(
            &invites,
            &json!({"username": "x@example.com", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    limited.assert_error(429, "RATE_LIMITED_TOKEN_BUCKET");
    assert_eq!(limited.header("retry-after"), Some("7"));
    control(
        &app,
        Method::POST,
        "/faults",
        Some(json!({"path": "/api/atlas/**", "status": 500})),
    )
    .await;
    // The 429 rule, oldest, has one match left; then the 500 rule stays until removed.
    app.owner()
        .get(&invites)
        .await
        .assert_error(429, "RATE_LIMITED_TOKEN_BUCKET");
    app.owner()
        .get(&invites)
        .await
        .assert_error(500, "UNEXPECTED_ERROR");
    app.owner()
        .get(&invites)
        .await
        .assert_error(500, "UNEXPECTED_ERROR");
    let rules = control(&app, Method::GET, "/faults", None).await;
    assert_eq!(rules.json["totalCount"], 1, "{}", rules.text);
    assert_eq!(rules.json["results"][0]["applied"], 2);
    let rule = rules.json["results"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        control(&app, Method::DELETE, &format!("/faults/{rule}"), None)
            .await
            .status,
        204
    );
    control(&app, Method::DELETE, &format!("/faults/{rule}"), None)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    assert_eq!(app.owner().get(&invites).await.status, 200);
    // Nothing was invited while the faults answered.
    assert_eq!(
        app.owner()
            .get(&invites)
            .await
            .json
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

async fn a_fault_rule_can_target_one_credential(backend: Backend) {
    let app = control_app(backend).await;
    let member = app.client_with(&[OrgRole::Member]).await;
    let path = format!("/api/atlas/v2/orgs/{}", app.org_id);
    control(
        &app,
        Method::POST,
        "/faults",
        Some(json!({"path": "/api/atlas/**", "credential": app.owner.public_key, "status": 500})),
    )
    .await;
    app.owner()
        .get(&path)
        .await
        .assert_error(500, "UNEXPECTED_ERROR");
    assert_eq!(member.get(&path).await.status, 200);
    let faulted = journal(&app, "?status=500").await;
    assert_eq!(faulted[0]["credential"], app.owner.public_key.as_str());
}

async fn fault_rules_add_latency_and_drop_connections(backend: Backend) {
    let app = control_app(backend).await;
    control(
        &app,
        Method::POST,
        "/faults",
        Some(json!({"path": "/health", "delayMs": 400, "times": 1})),
    )
    .await;
    let started = Instant::now();
    assert_eq!(app.health().await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(400));

    control(
        &app,
        Method::POST,
        "/faults",
        Some(json!({"path": "/health", "drop": true, "times": 1})),
    )
    .await;
    let dropped = reqwest::get(format!("{}/health", app.base_url)).await;
    assert!(dropped.is_err(), "the connection was dropped: {dropped:?}");
    assert_eq!(app.health().await.status(), 200);
    let entries = journal(&app, "?path=/health").await;
    assert_eq!(entries[1]["status"], Value::Null, "{entries:?}");
    assert!(entries[1]["faultId"].is_string());
    assert_eq!(entries[2]["status"], 200);
    assert!(entries[2]["latencyMs"].as_f64().expect("latency") >= 400.0);
}

async fn fault_rules_are_validated_and_bounded(backend: Backend) {
    let app = control_app(backend).await;
    for (body, code) in [
        (json!({"status": 503}), "MISSING_ATTRIBUTE"),
        (json!({"path": "/x"}), "MISSING_ATTRIBUTE"),
        (json!({"path": "x", "status": 503}), "VALIDATION_ERROR"),
        (json!({"path": "/x", "status": 404}), "VALIDATION_ERROR"),
        (
            json!({"path": "/x", "status": 503, "drop": true}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"path": "/x", "status": 503, "times": 0}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"path": "/x", "status": 503, "probability": 1.5}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"path": "/x", "delayMs": 600_000}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"path": "/x", "status": 503, "method": "G E T"}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"path": "/x", "status": 503, "credential": "a b"}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"path": "/x", "status": "503"}),
            "INVALID_JSON_ATTRIBUTE",
        ),
        (
            json!({"path": "/x", "status": 503, "colour": "red"}),
            "INVALID_ATTRIBUTE",
        ),
    ] {
        control(&app, Method::POST, "/faults", Some(body.clone()))
            .await
            .assert_error(400, code);
    }
    for _ in 0..orgdoor::control::faults::MAX_RULES {
        let added = control(
            &app,
            Method::POST,
            "/faults",
            Some(json!({"path": "/never", "status": 503})),
        )
        .await;
        assert_eq!(added.status, 201);
    }
    control(
        &app,
        Method::POST,
        "/faults",
        Some(json!({"path": "/never", "status": 503})),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        control(&app, Method::DELETE, "/faults", None).await.status,
        204
    );
    assert_eq!(
        control(&app, Method::GET, "/faults", None).await.json["totalCount"],
        0
    );
}

async fn the_journal_lists_recent_requests_newest_first_and_filters(backend: Backend) {
    let app = control_app(backend).await;
    let owner = app.owner();
    owner
        .send(Method::GET, &app.users_path(), Some(V2025), None)
        .await;
    app.invite("journal@example.com", &["ORG_MEMBER"]).await;
    let link = app.link_to("journal@example.com").await;
    reqwest::get(&link).await.expect("the page answers");
    reqwest::get(format!(
        "{}/api/atlas/v2/orgs/nope?pretty=true",
        app.base_url
    ))
    .await
    .expect("an answer");

    let all = journal(&app, "").await;
    // Newest first; the control API's own requests are not in it.
    assert_eq!(all[0]["path"], "/api/atlas/v2/orgs/nope");
    assert_eq!(all[0]["query"], "pretty=true");
    assert_eq!(all[0]["route"], "/api/atlas/v2/orgs/{orgId}");
    assert_eq!(all[1]["path"], "/invitations/{token}");
    let token = link.rsplit('/').next().expect("token");
    assert!(!serde_json::to_string(&all).expect("JSON").contains(token));
    assert!(all.iter().all(|entry| {
        !entry["path"]
            .as_str()
            .expect("path")
            .starts_with("/api/orgdoor/v1/control")
    }));
    let posted = journal(&app, "?method=post").await;
    assert_eq!(
        posted.len(),
        2,
        "the challenge and the invitation: {posted:?}"
    );
    assert_eq!(posted[0]["status"], 200);
    assert_eq!(posted[0]["credential"], app.owner.public_key.as_str());
    assert_eq!(posted[0]["orgId"], app.org_id.as_str());
    assert_eq!(posted[1]["status"], 401);
    let users = journal(&app, "?path=/api/atlas/v2/orgs/*/users&status=200").await;
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["route"], "/api/atlas/v2/orgs/{orgId}/users");
    assert_eq!(journal(&app, "?limit=2").await.len(), 2);
    control(&app, Method::GET, "/requests?status=abc", None)
        .await
        .assert_error(400, "INVALID_QUERY_PARAMETER");
    control(&app, Method::GET, "/requests?path=relative", None)
        .await
        .assert_error(400, "INVALID_QUERY_PARAMETER");
    // A client's request id names its request.
    reqwest::Client::new()
        .get(format!("{}/health", app.base_url))
        .header("x-request-id", "suite-42")
        .send()
        .await
        .expect("an answer");
    assert_eq!(journal(&app, "?limit=1").await[0]["requestId"], "suite-42");
    assert_eq!(
        control(&app, Method::DELETE, "/requests", None)
            .await
            .status,
        204
    );
    assert!(journal(&app, "").await.is_empty());
}

async fn python_requests_retries_a_429_from_a_fault_rule(backend: Backend) {
    let app = control_app(backend).await;
    control(
        &app,
        Method::POST,
        "/faults",
        Some(json!({"method": "GET", "path": "/api/atlas/v2/orgs/*/invites", "status": 429, "times": 1, "retryAfterSeconds": 1})),
    )
    .await;
    let lines = run_python_client(
        &app,
        "retry_session.py",
        &[
            ("PUBLIC_KEY", &app.owner.public_key),
            ("PRIVATE_KEY", &app.owner.private_key),
        ],
    )
    .await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], 200, "{lines:?}");
    assert_eq!(lines[0]["retried"], json!([429]), "{lines:?}");
    assert!(lines[0]["waitedSeconds"].as_f64().expect("seconds") >= 1.0);
    let statuses: Vec<Value> = journal(&app, "?path=/api/atlas/v2/orgs/*/invites")
        .await
        .into_iter()
        .map(|entry| entry["status"].clone())
        .collect();
    assert_eq!(statuses, [json!(200), json!(401), json!(429)]);
}

/// `serve --ephemeral`, as a test suite starts it: in memory, limits off, control on; a reset
/// puts back the same organization and key.
#[tokio::test]
async fn the_ephemeral_profile_starts_in_memory_with_control_and_resets_to_its_key() {
    let dir = tempfile::tempdir().expect("a directory");
    let mut command = tokio::process::Command::new(crate::cli::BINARY);
    command
        .current_dir(dir.path())
        .args(["serve", "--ephemeral", "--listen", "127.0.0.1:0"])
        .env_remove("ORGDOOR_CONTROL_TOKEN")
        .stderr(std::process::Stdio::null());
    let server = crate::cli::Server::spawn(command).await;
    let base_url = server.base_url.clone();
    let exports: std::collections::HashMap<String, String> =
        server.exports.iter().cloned().collect();
    let token = exports["ORGDOOR_CONTROL_TOKEN"].clone();
    let org = exports["MONGODB_ATLAS_ORG_ID"].clone();
    let owner = crate::harness::DigestClient::new(
        &base_url,
        crate::harness::Credentials {
            public_key: exports["MONGODB_ATLAS_PUBLIC_API_KEY"].clone(),
            private_key: exports["MONGODB_ATLAS_PRIVATE_API_KEY"].clone(),
        },
        crate::harness::DigestStyle::ChallengeEveryRequest,
    );
    let invites = format!("/api/atlas/v2/orgs/{org}/invites");
    let invited = owner
        .post(
            &invites,
            &json!({"username": "e@example.com", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.text);
    assert!(
        invited.header("ratelimit-limit").is_none(),
        "rate limits are off"
    );

    let reset = reqwest::Client::new()
        .post(format!("{base_url}/api/orgdoor/v1/control/reset"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("an answer");
    assert_eq!(reset.status(), 200);
    // The same organization and key, without the invitation.
    let listed = owner.get(&invites).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json, json!([]));
    // Nothing was written where it ran.
    let mut entries = tokio::fs::read_dir(dir.path())
        .await
        .expect("the directory");
    let written = entries.next_entry().await.expect("a listing");
    assert!(written.is_none(), "{written:?}");
}
