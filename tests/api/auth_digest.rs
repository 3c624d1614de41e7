//! HTTP Digest authentication as real clients speak it.

use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use serde_json::json;
use time::Duration;

use crate::harness::{
    Credentials, DigestClient, DigestStyle, GO_TEMPLATE, TestApp, TestResponse, V2023,
    authorization, go_authorization, go_parse_challenge, read, spawn_app,
};
use orgdoor_test_db::Backend;

on_both_stores!(
    a_request_without_credentials_gets_atlas_s_exact_challenge,
    every_challenge_has_a_new_nonce,
    the_unauthenticated_first_request_has_no_side_effects,
    wrong_and_unknown_keys_get_the_same_challenge,
    the_go_client_pattern_challenges_every_call,
    header_variants_of_real_clients_are_accepted,
    tampered_digests_are_refused,
    python_style_clients_reuse_one_nonce_with_a_rising_count,
    an_old_nonce_is_stale_and_a_fresh_one_is_offered,
    a_nonce_from_one_instance_is_accepted_by_another_on_the_same_store,
    authentication_comes_before_routing_and_version_checks,
    a_captured_header_is_accepted_once,
    guessing_a_private_key_is_throttled,
);

/// Repeated wrong private keys for one public key get Atlas's 429 after a few dozen attempts,
/// the right key too while it lasts, with `Retry-After`; a minute later the key works again.
async fn guessing_a_private_key_is_throttled(backend: Backend) {
    let app = spawn_app(backend).await;
    let guesser = app.client(&Credentials {
        public_key: app.owner.public_key.clone(),
        private_key: "guess".into(),
    });
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(guesser.get(&app.invites_path()).await.status);
    }
    crate::harness::first_throttled(&statuses);
    let refused = app.owner().get(&app.invites_path()).await;
    refused.assert_error(429, "RATE_LIMITED_TOKEN_BUCKET");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(refused.json["parameters"][0], "authentication");
    // Another key of the organization is not affected.
    let other = app.key_with(&[orgdoor_domain::OrgRole::Owner]).await;
    assert_eq!(
        app.client(&other).get(&app.invites_path()).await.status,
        200
    );
    app.clock.advance(Duration::seconds(61));
    assert_eq!(app.owner().get(&app.invites_path()).await.status, 200);
}

/// A captured `Authorization` header for a POST replays neither with its own body nor with
/// another: each `(nonce, nc)` authenticates one request, and the replay gets a `stale=true`
/// challenge (so an honest client resending after a network error simply authenticates again).
async fn a_captured_header_is_accepted_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let ByHand { http, path, url } = ByHand::invites(&app);
    let nonce = fresh_nonce(&http, &url).await;
    let header = go_authorization(&app.owner, "POST", &path, &nonce, "00000001");
    let post = |body: serde_json::Value, header: String| {
        http.post(&url)
            .header("accept", V2023)
            .header("content-type", V2023)
            .header(AUTHORIZATION, header)
            .body(body.to_string())
            .send()
    };
    let first = post(
        json!({"username": "first@example.com", "roles": ["ORG_MEMBER"]}),
        header.clone(),
    )
    .await
    .unwrap();
    assert_eq!(first.status(), 200);
    for replayed_body in [
        json!({"username": "first@example.com", "roles": ["ORG_MEMBER"]}),
        json!({"username": "attacker@example.com", "roles": ["ORG_OWNER"]}),
    ] {
        let replay = post(replayed_body, header.clone()).await.unwrap();
        assert_eq!(replay.status(), 401, "a replay was accepted");
        let (_, stale) = go_parse_challenge(replay.headers()[WWW_AUTHENTICATE].to_str().unwrap());
        assert!(stale, "a replay is answered stale=true");
    }
    let listed = app.owner().get(&path).await;
    let usernames: Vec<&str> = listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|invitation| invitation["username"].as_str())
        .collect();
    assert_eq!(usernames, ["first@example.com"]);
    // The same nonce with the next count is a new request, as python-requests sends it.
    let next = go_authorization(&app.owner, "POST", &path, &nonce, "00000002");
    let second = post(
        json!({"username": "second@example.com", "roles": ["ORG_MEMBER"]}),
        next,
    )
    .await
    .unwrap();
    assert_eq!(second.status(), 200);
}

/// A GET carrying a hand-built `Authorization` header.
async fn authorized_get(
    http: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    authorization: impl AsRef<str>,
) -> reqwest::Response {
    http.get(url)
        .header("accept", V2023)
        .header(AUTHORIZATION, authorization.as_ref())
        .send()
        .await
        .unwrap()
}

/// The nonce of a fresh challenge for `url`.
/// The organization's invitations as a client that signs its requests by hand asks for them:
/// its HTTP client, the path and the whole URL.
struct ByHand {
    http: reqwest::Client,
    path: String,
    url: String,
}

impl ByHand {
    fn invites(app: &TestApp) -> Self {
        let path = app.invites_path();
        Self {
            http: reqwest::Client::new(),
            url: format!("{}{path}", app.base_url),
            path,
        }
    }
}

async fn fresh_nonce(http: &reqwest::Client, url: &str) -> String {
    go_parse_challenge(
        challenge(http, url).await.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap(),
    )
    .0
}

async fn challenge(http: &reqwest::Client, url: &str) -> reqwest::Response {
    http.get(url).header("accept", V2023).send().await.unwrap()
}

async fn a_request_without_credentials_gets_atlas_s_exact_challenge(backend: Backend) {
    let app = spawn_app(backend).await;
    let http = reqwest::Client::new();
    let response = challenge(&http, &format!("{}{}", app.base_url, app.invites_path())).await;
    let header = response.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    let shape = regex_like_challenge(&header);
    assert!(shape, "unexpected challenge {header}");
    let (nonce, stale) = go_parse_challenge(&header);
    assert_eq!(nonce.len(), 32);
    assert!(!stale);
    assert!(response.headers().get("ratelimit-limit").is_none());
    let body = read(&reqwest::Method::GET, &app.invites_path(), response).await;
    assert_eq!(body.status, 401);
    assert_eq!(
        body.text,
        "{\n  \"error\" : 401,\n  \"reason\" : \"Unauthorized\",\n  \"detail\" : \"You are not authorized for this resource.\",\n  \"errorCode\" : \"UNEXPECTED_ERROR\"\n}"
    );
    assert_eq!(body.header("content-type"), Some("application/json"));
}

fn regex_like_challenge(header: &str) -> bool {
    let Some(rest) = header.strip_prefix("Digest realm=\"MMS Public API\", domain=\"\", nonce=\"")
    else {
        return false;
    };
    let Some((nonce, tail)) = rest.split_once('"') else {
        return false;
    };
    nonce.len() == 32
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        && tail == ", algorithm=MD5, qop=\"auth\", stale=false"
}

async fn every_challenge_has_a_new_nonce(backend: Backend) {
    let app = spawn_app(backend).await;
    let http = reqwest::Client::new();
    let url = format!("{}{}", app.base_url, app.invites_path());
    let first = challenge(&http, &url).await.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    let second = challenge(&http, &url).await.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(go_parse_challenge(&first).0, go_parse_challenge(&second).0);
}

async fn the_unauthenticated_first_request_has_no_side_effects(backend: Backend) {
    let app = spawn_app(backend).await;
    let http = reqwest::Client::new();
    let probe = http
        .post(format!("{}{}", app.base_url, app.invites_path()))
        .header("accept", V2023)
        .header("content-type", V2023)
        .body(json!({"username": "ada@example.com", "roles": ["ORG_MEMBER"]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 401);
    assert_eq!(app.owner().get(&app.invites_path()).await.json, json!([]));
}

async fn wrong_and_unknown_keys_get_the_same_challenge(backend: Backend) {
    let app = spawn_app(backend).await;
    let wrong_secret = Credentials {
        public_key: app.owner.public_key.clone(),
        private_key: "not-the-key".into(),
    };
    let unknown_key = Credentials {
        public_key: "zzzzzzzz".into(),
        private_key: app.owner.private_key.clone(),
    };
    for credentials in [wrong_secret, unknown_key] {
        let response = app.client(&credentials).get(&app.invites_path()).await;
        assert_eq!(response.status, 401);
        assert_eq!(response.error_code(), "UNEXPECTED_ERROR");
        let (_, stale) = go_parse_challenge(response.header("www-authenticate").unwrap());
        assert!(!stale);
    }
}

async fn the_go_client_pattern_challenges_every_call(backend: Backend) {
    let app = spawn_app(backend).await;
    let ByHand { http, path, url } = ByHand::invites(&app);
    for call in 0..3 {
        let first = challenge(&http, &url).await;
        assert_eq!(first.status(), 401);
        let (nonce, _) = go_parse_challenge(first.headers()[WWW_AUTHENTICATE].to_str().unwrap());
        let cnonce = format!("{:016x}", 0x1234_5678_9abc_def0_u64 + call);
        let header = authorization(
            &app.owner,
            "GET",
            &path,
            &nonce,
            "00000001",
            &cnonce,
            GO_TEMPLATE,
        );
        let second = authorized_get(&http, &url, header).await;
        let second = read(&reqwest::Method::GET, &path, second).await;
        assert_eq!(second.status, 200, "{}", second.text);
    }
}

async fn header_variants_of_real_clients_are_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let http = reqwest::Client::new();
    let path = format!("{}?pretty=false", app.invites_path());
    let url = format!("{}{path}", app.base_url);
    let variants = [
        // curl: unquoted qop and algorithm, base64 cnonce.
        (
            r#"Digest username="{username}", realm="MMS Public API", nonce="{nonce}", uri="{uri}", cnonce="MTIzNDU2Nzg5MDEy", nc={nc}, qop=auth, response="{response}", algorithm=MD5"#,
            "MTIzNDU2Nzg5MDEy",
            "00000001",
        ),
        // python-requests: everything quoted but nc, algorithm before qop.
        (
            r#"Digest username="{username}", realm="MMS Public API", nonce="{nonce}", uri="{uri}", response="{response}", algorithm="MD5", qop="auth", nc={nc}, cnonce="{cnonce}""#,
            "6c5e0b2d63a3e2f1",
            "00000001",
        ),
        // No algorithm at all, quoted nc, a fresh nonce starting past 1.
        (
            r#"Digest username="{username}",realm="MMS Public API",nonce="{nonce}",uri="{uri}",cnonce="{cnonce}",nc="{nc}",qop="auth",response="{response}""#,
            "abc",
            "00000005",
        ),
    ];
    for (template, cnonce, nc) in variants {
        let first = challenge(&http, &url).await;
        let (nonce, _) = go_parse_challenge(first.headers()[WWW_AUTHENTICATE].to_str().unwrap());
        let header = authorization(&app.owner, "GET", &path, &nonce, nc, cnonce, template);
        let response = authorized_get(&http, &url, header.clone()).await;
        assert_eq!(response.status(), 200, "{header}");
    }
}

async fn tampered_digests_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let ByHand { http, path, url } = ByHand::invites(&app);
    let nonce = fresh_nonce(&http, &url).await;
    let cases = [
        // Signed for another path than the one requested.
        go_authorization(&app.owner, "GET", "/api/atlas/v2/orgs", &nonce, "00000001"),
        // Signed for another method.
        go_authorization(&app.owner, "POST", &path, &nonce, "00000001"),
        // nc must be at least 1.
        go_authorization(&app.owner, "GET", &path, &nonce, "00000000"),
        // A nonce we never issued.
        go_authorization(
            &app.owner,
            "GET",
            &path,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "00000001",
        ),
        // Not Digest at all.
        format!("Basic {}", "YWJjOmRlZg=="),
        "Digest garbage".to_owned(),
    ];
    for header in cases {
        let response = authorized_get(&http, &url, header.clone()).await;
        assert_eq!(response.status(), 401, "{header}");
        let (_, stale) = go_parse_challenge(response.headers()[WWW_AUTHENTICATE].to_str().unwrap());
        assert!(!stale, "{header}");
    }
}

async fn python_style_clients_reuse_one_nonce_with_a_rising_count(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = DigestClient::new(&app.base_url, app.owner.clone(), DigestStyle::ReuseNonce);
    for _ in 0..4 {
        assert_eq!(client.get(&app.invites_path()).await.status, 200);
    }
    assert_eq!(client.challenges_answered(), 1, "the nonce was reused");
}

async fn an_old_nonce_is_stale_and_a_fresh_one_is_offered(backend: Backend) {
    let app = spawn_app(backend).await;
    let ByHand { http, path, url } = ByHand::invites(&app);
    let nonce = fresh_nonce(&http, &url).await;
    app.clock.advance(Duration::seconds(61));
    let header = go_authorization(&app.owner, "GET", &path, &nonce, "00000002");
    let response = authorized_get(&http, &url, header).await;
    assert_eq!(response.status(), 401);
    let (fresh, stale) = go_parse_challenge(response.headers()[WWW_AUTHENTICATE].to_str().unwrap());
    assert!(stale, "a correct digest with an expired nonce is stale");
    let header = go_authorization(&app.owner, "GET", &path, &fresh, "00000001");
    let retried = authorized_get(&http, &url, header).await;
    assert_eq!(retried.status(), 200);

    // A wrong password with an expired nonce is not stale: retrying would not help.
    app.clock.advance(Duration::seconds(61));
    let wrong = Credentials {
        public_key: app.owner.public_key.clone(),
        private_key: "wrong".into(),
    };
    let header = go_authorization(&wrong, "GET", &path, &fresh, "00000002");
    let response = authorized_get(&http, &url, header).await;
    let (_, stale) = go_parse_challenge(response.headers()[WWW_AUTHENTICATE].to_str().unwrap());
    assert!(!stale);
}

async fn a_nonce_from_one_instance_is_accepted_by_another_on_the_same_store(backend: Backend) {
    let app = spawn_app(backend).await;
    let second_url = app.spawn_instance().await;
    let ByHand { http, path, url } = ByHand::invites(&app);
    let nonce = fresh_nonce(&http, &url).await;
    let header = go_authorization(&app.owner, "GET", &path, &nonce, "00000001");
    let response = authorized_get(&http, format!("{second_url}{path}"), header).await;
    assert_eq!(response.status(), 200);

    // A separate deployment (another store, another nonce secret) does not accept it, though
    // it knows the very same key: only the nonce can be why.
    let stranger = spawn_app(app.database.backend).await;
    let key = app
        .store
        .find_api_key(&app.owner.public_key.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut copied = key.key.clone();
    copied.org_id = stranger.org_id.parse().unwrap();
    stranger
        .store
        .create_api_key(&copied, &key.ha1)
        .await
        .unwrap();
    let fresh_there = fresh_nonce(&http, &format!("{}{path}", stranger.base_url)).await;
    let stranger_path = stranger.invites_path();
    let accepted_there =
        go_authorization(&app.owner, "GET", &stranger_path, &fresh_there, "00000001");
    let control = authorized_get(
        &http,
        format!("{}{stranger_path}", stranger.base_url),
        accepted_there,
    )
    .await;
    assert_eq!(
        control.status(),
        200,
        "the copied key works there with its own nonce"
    );
    let header = go_authorization(&app.owner, "GET", &stranger_path, &nonce, "00000002");
    let response = authorized_get(
        &http,
        format!("{}{stranger_path}", stranger.base_url),
        header,
    )
    .await;
    assert_eq!(response.status(), 401);
    assert!(
        response.headers().contains_key(WWW_AUTHENTICATE),
        "refused as a forged nonce"
    );
}

async fn authentication_comes_before_routing_and_version_checks(backend: Backend) {
    let app = spawn_app(backend).await;
    let http = reqwest::Client::new();
    for path in [
        "/api/atlas/v2/no/such/thing",
        "/api/atlas/v2/orgs/bad-id/invites",
    ] {
        let response = http
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert!(response.headers().get(WWW_AUTHENTICATE).is_some());
    }
    let response: TestResponse = app.owner().get("/api/atlas/v2/no/such/thing").await;
    response.assert_error(404, "RESOURCE_NOT_FOUND");
}
