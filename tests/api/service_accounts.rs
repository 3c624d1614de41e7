//! Service accounts: management operations, the OAuth token endpoint, and Bearer tokens.

use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;
use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

use crate::harness::{DigestClient, TestApp, read, run_python_client, spawn_app};

on_both_stores!(
    an_independent_oauth_client_gets_uses_and_revokes_a_token,
    service_accounts_are_managed_with_secrets_shown_once,
    tokens_follow_the_account_everywhere_and_expire,
    the_token_endpoint_answers_in_oauth_shape,
    service_account_roles_and_access_lists_are_enforced,
    tokens_die_with_the_secret_they_were_minted_with,
    guessing_secrets_is_throttled_in_oauth_shape,
);

/// Hundreds of wrong secrets in a burst: after a few dozen the token endpoint answers 429 in
/// OAuth's shape with `Retry-After`, even for the right secret from that address, until the
/// minute is over; other accounts are not affected until the address has tried too many.
async fn guessing_secrets_is_throttled_in_oauth_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let (client_id, secret, _) = account(&app, &["ORG_MEMBER"]).await;
    let (other_id, other_secret, _) = account(&app, &["ORG_MEMBER"]).await;
    let mut statuses = Vec::new();
    for n in 0..60 {
        let response = token(&app, &client_id, &format!("mdb_sa_sk_wrong{n}")).await;
        statuses.push(response.status().as_u16());
    }
    let first_throttled = crate::harness::first_throttled(&statuses);
    assert!(
        statuses[..first_throttled]
            .iter()
            .all(|status| *status == 401)
    );
    let refused = token(&app, &client_id, &secret).await;
    assert_eq!(
        refused.status(),
        429,
        "no attempt is checked while throttled"
    );
    let retry_after: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "slow_down");
    assert!(body["error_description"].is_string());
    assert_eq!(token(&app, &other_id, &other_secret).await.status(), 200);
    app.clock.advance(time::Duration::seconds(61));
    assert_eq!(token(&app, &client_id, &secret).await.status(), 200);
}

/// Deleting a secret ends the tokens minted with it at once (not an hour later), while tokens
/// of the account's other secrets live on; and no token outlives its secret's expiry.
async fn tokens_die_with_the_secret_they_were_minted_with(backend: Backend) {
    let app = spawn_app(backend).await;
    let (client_id, secret, created) = account(&app, &["ORG_OWNER"]).await;
    let path = format!(
        "/api/atlas/v2/orgs/{}/serviceAccounts/{client_id}",
        app.org_id
    );
    let first_secret_id = created["secrets"][0]["id"].as_str().unwrap().to_owned();
    let second_secret = add_secret(&app.owner(), &path).await;
    let doomed = access_token(&app, &client_id, &secret).await;
    let kept = access_token(&app, &client_id, &second_secret).await;
    let org_path = format!("/api/atlas/v2/orgs/{}", app.org_id);
    assert_eq!(
        bearer_get(&app.base_url, &org_path, &doomed).await.status,
        200
    );

    let deleted = send_2024(
        &app.owner(),
        Method::DELETE,
        &format!("{path}/secrets/{first_secret_id}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_eq!(
        bearer_get(&app.base_url, &org_path, &doomed).await.status,
        401,
        "a token of a deleted secret still works"
    );
    assert_eq!(
        bearer_get(&app.base_url, &org_path, &kept).await.status,
        200
    );

    // Half an hour before the second secret expires, a new token gets half an hour, not one.
    app.clock
        .advance(time::Duration::hours(8) - time::Duration::minutes(30));
    let response = token(&app, &client_id, &second_secret).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 1800, "{body}");
    let late = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        bearer_get(&app.base_url, &org_path, &late).await.status,
        200
    );
    app.clock.advance(time::Duration::minutes(31));
    assert_eq!(
        bearer_get(&app.base_url, &org_path, &late).await.status,
        401
    );
}

const V2024: &str = "application/vnd.atlas.2024-08-05+json";

/// A service account with the given roles: its client id and secret.
/// Sends a request in version 2024-08-05, the service accounts' version.
pub(crate) async fn send_2024(
    client: &DigestClient,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> crate::harness::TestResponse {
    client.send(method, path, Some(V2024), body).await
}

/// Adds a secret (valid for 8 hours) to the account at `account`; returns it.
async fn add_secret(client: &DigestClient, account: &str) -> String {
    let added = send_2024(
        client,
        Method::POST,
        &format!("{account}/secrets"),
        Some(&json!({"secretExpiresAfterHours": 8})),
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.text);
    added.json["secret"].as_str().unwrap().to_owned()
}

/// Adds `entries` to the access list at `access_list`.
async fn add_entries(
    client: &DigestClient,
    access_list: &str,
    entries: &Value,
) -> crate::harness::TestResponse {
    send_2024(client, Method::POST, access_list, Some(entries)).await
}

pub(crate) async fn account(app: &TestApp, roles: &[&str]) -> (String, String, Value) {
    let created = send_2024(
&app.owner(),
Method::POST,
&format!("/api/atlas/v2/orgs/{}/serviceAccounts", app.org_id),
Some(&json!({"name": "deployer", "description": "CI robot", "roles": roles, "secretExpiresAfterHours": 24})),
)
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let client_id = created.json["clientId"].as_str().unwrap().to_owned();
    let secret = created.json["secrets"][0]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    (client_id, secret, created.json)
}

pub(crate) async fn token(app: &TestApp, client_id: &str, secret: &str) -> reqwest::Response {
    let url = format!("{}/api/oauth/token", app.base_url);
    oauth_post(
        &url,
        client_id,
        secret,
        &[("grant_type", "client_credentials")],
    )
    .await
}

/// Posts `form` to the OAuth endpoint at `url`, the client's credentials in Basic auth, as
/// an OAuth client library does.
pub(crate) async fn oauth_post(
    url: &str,
    client_id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .basic_auth(client_id, Some(secret))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn access_token(app: &TestApp, client_id: &str, secret: &str) -> String {
    let response = token(app, client_id, secret).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn bearer_get(
    base_url: &str,
    path: &str,
    token: &str,
) -> crate::harness::TestResponse {
    let response = reqwest::Client::new()
        .get(format!("{base_url}{path}"))
        .header("accept", "application/vnd.atlas.2023-01-01+json")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    read(&Method::GET, path, response).await
}

async fn an_independent_oauth_client_gets_uses_and_revokes_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let (client_id, secret, _) = account(&app, &["ORG_OWNER"]).await;
    let steps = run_python_client(
        &app,
        "oauth_session.py",
        &[("CLIENT_ID", &client_id), ("CLIENT_SECRET", &secret)],
    )
    .await;
    let status = |step: &str| {
        steps.iter().find(|s| s["step"] == step).unwrap()["status"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(status("token"), 200);
    let granted = &steps[0]["body"];
    assert_eq!(granted["token_type"], "Bearer");
    assert_eq!(granted["expires_in"], 3600);
    assert_eq!(steps[0]["cache_control"], "no-store");
    assert_eq!(status("list"), 200);
    assert_eq!(status("invite"), 200);
    let invited = &steps.iter().find(|s| s["step"] == "invite").unwrap()["body"];
    assert_eq!(invited["inviterUsername"], client_id.as_str());
    assert_eq!(status("revoke"), 200);
    assert_eq!(status("after_revoke"), 401);
}

async fn service_accounts_are_managed_with_secrets_shown_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let (client_id, secret, created) = account(&app, &["ORG_MEMBER"]).await;
    assert!(client_id.starts_with("mdb_sa_id_") && client_id.len() == 34);
    assert!(secret.starts_with("mdb_sa_sk_"));
    assert_eq!(created["roles"], json!(["ORG_MEMBER"]));
    assert!(
        created["secrets"][0]["maskedSecretValue"]
            .as_str()
            .unwrap()
            .ends_with(&secret[secret.len() - 4..])
    );
    let base = format!("/api/atlas/v2/orgs/{}/serviceAccounts", app.org_id);
    let path = format!("{base}/{client_id}");
    let client = app.owner();
    let fetched = send_2024(&client, Method::GET, &path, None).await;
    assert_eq!(fetched.status, 200);
    assert!(
        fetched.json["secrets"][0].get("secret").is_none(),
        "a secret is shown once"
    );
    assert_eq!(
        fetched.header("content-type"),
        Some("application/vnd.atlas.2024-08-05+json;charset=utf-8")
    );
    let listed = send_2024(&client, Method::GET, &base, None).await;
    assert_eq!(listed.json["totalCount"], 1);

    let updated = send_2024(
        &client,
        Method::PATCH,
        &path,
        Some(&json!({"name": "builder", "roles": ["ORG_OWNER"]})),
    )
    .await;
    assert_eq!(updated.json["name"], "builder");
    assert_eq!(updated.json["description"], "CI robot");
    assert_eq!(updated.json["roles"], json!(["ORG_OWNER"]));

    let second_secret = add_secret(&client, &path).await;
    assert_eq!(token(&app, &client_id, &second_secret).await.status(), 200);
    let first_id = created["secrets"][0]["id"].as_str().unwrap();
    assert_eq!(
        send_2024(
            &client,
            Method::DELETE,
            &format!("{path}/secrets/{first_id}"),
            None,
        )
        .await
        .status,
        204
    );
    assert_eq!(
        token(&app, &client_id, &secret).await.status(),
        401,
        "a deleted secret no longer works"
    );

    let cases = [
        (
            json!({"description": "d", "roles": ["ORG_OWNER"], "secretExpiresAfterHours": 8}),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!({"name": "n", "description": "d", "roles": ["ORG_OWNER"]}),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!({"name": "n", "description": "d", "roles": [], "secretExpiresAfterHours": 8}),
            400,
            "MISSING_ATTRIBUTE",
        ),
        (
            json!({"name": "n/a", "description": "d", "roles": ["ORG_OWNER"], "secretExpiresAfterHours": 8}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({"name": "n", "description": "d", "roles": ["ORG_OWNER"], "secretExpiresAfterHours": 2}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({"name": "n", "description": "d", "roles": ["GROUP_OWNER"], "secretExpiresAfterHours": 8}),
            400,
            "INVALID_ROLE_FOR_ORG",
        ),
    ];
    for (body, status, code) in cases {
        send_2024(&client, Method::POST, &base, Some(&body))
            .await
            .assert_error(status, code);
    }
    send_2024(
        &client,
        Method::GET,
        &format!("{base}/mdb_sa_id_0123456789abcdef01234567"),
        None,
    )
    .await
    .assert_error(404, "RESOURCE_NOT_FOUND");
    client
        .send(
            Method::GET,
            &base,
            Some("application/vnd.atlas.2023-01-01+json"),
            None,
        )
        .await
        .assert_error(406, "INVALID_VERSION_DATE");

    assert_eq!(
        send_2024(&client, Method::DELETE, &path, None).await.status,
        204
    );
    assert_eq!(token(&app, &client_id, &second_secret).await.status(), 401);
    send_2024(&client, Method::GET, &path, None)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

async fn tokens_follow_the_account_everywhere_and_expire(backend: Backend) {
    let app = spawn_app(backend).await;
    let second = app.spawn_instance().await;
    let (client_id, secret, _) = account(&app, &["ORG_OWNER"]).await;
    let bearer = access_token(&app, &client_id, &secret).await;
    assert_eq!(
        bearer_get(&second, &app.invites_path(), &bearer)
            .await
            .status,
        200,
        "valid on another instance"
    );

    app.clock.advance(Duration::minutes(59));
    assert_eq!(
        bearer_get(&app.base_url, &app.invites_path(), &bearer)
            .await
            .status,
        200
    );
    app.clock.advance(Duration::minutes(1));
    let expired = bearer_get(&app.base_url, &app.invites_path(), &bearer).await;
    assert_eq!(expired.status, 401);
    assert!(
        expired
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Digest "))
    );
    assert_eq!(
        bearer_get(&app.base_url, &app.invites_path(), "not-a-token")
            .await
            .status,
        401
    );

    let fresh = access_token(&app, &client_id, &secret).await;
    let revoke = format!("{second}/api/oauth/revoke");
    let revoked = oauth_post(&revoke, &client_id, &secret, &[("token", fresh.as_str())]).await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        bearer_get(&app.base_url, &app.invites_path(), &fresh)
            .await
            .status,
        401,
        "revoked everywhere"
    );
}

async fn the_token_endpoint_answers_in_oauth_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let (client_id, secret, _) = account(&app, &["ORG_MEMBER"]).await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/oauth/token", app.base_url);
    let wrong = token(&app, &client_id, "mdb_sa_sk_wrong").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.json::<Value>().await.unwrap(),
        json!({"error": "invalid_client", "error_description": "Invalid credentials provided."})
    );
    assert_eq!(
        token(&app, "mdb_sa_id_0123456789abcdef01234567", &secret)
            .await
            .status(),
        401
    );
    let missing = oauth_post(&url, &client_id, &secret, &[("scope", "x")]).await;
    assert_eq!(missing.status(), 400);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let other = oauth_post(&url, &client_id, &secret, &[("grant_type", "password")]).await;
    assert_eq!(
        other.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let in_body = http
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(in_body.status(), 200);

    // At most 100 active tokens per account.
    for _ in 1..100 {
        assert_eq!(token(&app, &client_id, &secret).await.status(), 200);
    }
    let capped = token(&app, &client_id, &secret).await;
    assert_eq!(capped.status(), 403);
    assert_eq!(
        capped.json::<Value>().await.unwrap()["error"],
        "access_denied"
    );
    app.clock.advance(Duration::hours(1));
    assert_eq!(
        token(&app, &client_id, &secret).await.status(),
        200,
        "expired tokens free their places"
    );
}

async fn service_account_roles_and_access_lists_are_enforced(backend: Backend) {
    let app = spawn_app(backend).await;
    let (client_id, secret, _) = account(&app, &["ORG_MEMBER"]).await;
    let bearer = access_token(&app, &client_id, &secret).await;
    let org_path = format!("/api/atlas/v2/orgs/{}", app.org_id);
    bearer_get(&app.base_url, &app.invites_path(), &bearer)
        .await
        .assert_error(401, "NOT_ORG_OWNER");
    assert_eq!(
        bearer_get(&app.base_url, &org_path, &bearer).await.status,
        200
    );
    let (other_org, _) = app.other_org().await;
    bearer_get(
        &app.base_url,
        &format!("/api/atlas/v2/orgs/{other_org}"),
        &bearer,
    )
    .await
    .assert_error(401, "USER_CANNOT_ACCESS_ORG");

    let access_list = format!(
        "/api/atlas/v2/orgs/{}/serviceAccounts/{client_id}/accessList",
        app.org_id
    );
    let client = app.owner();
    // A bad page query is refused before anything is written, not after.
    let refused = add_entries(
        &client,
        &format!("{access_list}?itemsPerPage=many"),
        &json!([{"cidrBlock": "10.0.0.0/8"}]),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    let listed = send_2024(&client, Method::GET, &access_list, None).await;
    assert_eq!(listed.json["totalCount"], 0, "{}", listed.text);
    assert_eq!(
        bearer_get(&app.base_url, &org_path, &bearer).await.status,
        200,
        "nothing was added"
    );
    let added = add_entries(&client, &access_list, &json!([{"cidrBlock": "10.0.0.0/8"}])).await;
    assert_eq!(added.status, 200, "{}", added.text);
    assert_eq!(added.json["results"][0]["cidrBlock"], "10.0.0.0/8");
    // The token may still be minted from anywhere, but not used from here.
    let elsewhere = access_token(&app, &client_id, &secret).await;
    bearer_get(&app.base_url, &org_path, &elsewhere)
        .await
        .assert_error(403, "IP_ADDRESS_NOT_ON_WHITELIST");
    add_entries(&client, &access_list, &json!([{"ipAddress": "127.0.0.1"}])).await;
    assert_eq!(
        bearer_get(&app.base_url, &org_path, &bearer).await.status,
        200
    );
    // IPv6 comes back written out in full, as the spec's patterns want (the harness checks).
    let v6 = add_entries(
        &client,
        &access_list,
        &json!([{"ipAddress": "2001:db8::1"}]),
    )
    .await;
    assert_eq!(v6.status, 200, "{}", v6.text);
    let v6_entry = v6.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["cidrBlock"] == "2001:db8:0:0:0:0:0:1/128")
        .expect("the IPv6 entry");
    assert_eq!(v6_entry["ipAddress"], "2001:db8:0:0:0:0:0:1");
    let removed = send_2024(
        &client,
        Method::DELETE,
        &format!("{access_list}/2001:db8::1"),
        None,
    )
    .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let listed = send_2024(&client, Method::GET, &access_list, None).await;
    assert_eq!(listed.json["totalCount"], 2);
    let entry = format!("{access_list}/10.0.0.0%2F8");
    assert_eq!(
        send_2024(&client, Method::DELETE, &entry, None)
            .await
            .status,
        204
    );
    send_2024(&client, Method::DELETE, &entry, None)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");

    let member = app.client_with(&[OrgRole::Member]).await;
    let base = format!("/api/atlas/v2/orgs/{}/serviceAccounts", app.org_id);
    send_2024(&member, Method::GET, &base, None)
        .await
        .assert_error(401, "USER_UNAUTHORIZED");
    let read_only = app.client_with(&[OrgRole::ReadOnly]).await;
    assert_eq!(
        send_2024(&read_only, Method::GET, &base, None).await.status,
        200
    );
    send_2024(&read_only, Method::POST, &base, Some(&json!({"name": "n", "description": "d", "roles": ["ORG_OWNER"], "secretExpiresAfterHours": 8}))).await
        .assert_error(401, "NOT_ORG_OWNER");
}
