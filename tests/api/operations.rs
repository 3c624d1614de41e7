//! What operators and fleets rely on: the health endpoint, secrets at rest, and one truth across
//! instances under concurrency.

use std::collections::HashSet;

use futures_util::future::join_all;
use orgdoor_test_db::Backend;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

use orgdoor::clock::Clock as _;

use crate::harness::{DigestClient, DigestStyle, V2023, spawn_app};

on_both_stores!(
    health_reports_the_database_without_authentication,
    no_private_key_is_stored_in_a_recoverable_form,
    sixty_four_parallel_invitations_across_two_instances_leave_one,
    parallel_updates_through_the_api_lose_no_field,
    nothing_in_the_raw_store_authenticates_without_the_secrets_key,
);

/// The stored forms of what authenticates: every API key's `digest_ha1` and every server
/// secret, read straight from the database.
async fn stored_secrets(app: &crate::harness::TestApp) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    (
        app.stored_column("SELECT digest_ha1 FROM api_keys").await,
        app.stored_column("SELECT value FROM server_secrets").await,
    )
}

/// A nonce in orgdoor's format signed with `key`, as an attacker holding that key would make.
fn forge_nonce(key: &[u8], now: time::OffsetDateTime) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let mut payload = vec![7u8, 7, 7, 7];
    payload.extend_from_slice(&now.unix_timestamp().to_be_bytes());
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key).unwrap();
    mac.update(&payload);
    let tag = mac.finalize().into_bytes();
    payload.extend_from_slice(&tag[..12]);
    base64::engine::general_purpose::STANDARD.encode(payload)
}

/// A GET signed from an HA1 (what a stolen digest credential would be) and a nonce.
async fn signed_with_ha1(
    app: &crate::harness::TestApp,
    public_key: &str,
    ha1_hex: &str,
    nonce: &str,
) -> u16 {
    use md5::Digest as _;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let path = format!("/api/atlas/v2/orgs/{}", app.org_id);
    let ha2 = hex(&md5::Md5::digest(format!("GET:{path}").as_bytes()));
    let response = hex(&md5::Md5::digest(
        format!("{ha1_hex}:{nonce}:00000001:abcd:auth:{ha2}").as_bytes(),
    ));
    let header = format!(
        r#"Digest username="{public_key}", realm="MMS Public API", nonce="{nonce}", uri="{path}", cnonce="abcd", nc=00000001, qop=auth, response="{response}", algorithm="MD5""#
    );
    reqwest::Client::new()
        .get(format!("{}{path}", app.base_url))
        .header("accept", V2023)
        .header("authorization", header)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Someone with a copy of the database (a backup, a read-only SQL account) but not the secrets
/// key can neither use a stored digest credential nor forge a nonce; the same attacks with
/// the real values succeed, so they are the right attacks.
async fn nothing_in_the_raw_store_authenticates_without_the_secrets_key(backend: Backend) {
    use md5::Digest as _;
    let app = spawn_app(backend).await;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let real_ha1 = hex(&md5::Md5::digest(
        format!(
            "{}:MMS Public API:{}",
            app.owner.public_key, app.owner.private_key
        )
        .as_bytes(),
    ));
    let now = app.clock.now();
    let real_nonce_key = app
        .store
        .shared_secret("digest-nonce-key", &|| vec![0; 32])
        .await
        .unwrap();
    let (stored_ha1s, stored_secrets) = stored_secrets(&app).await;
    assert!(!stored_ha1s.is_empty() && !stored_secrets.is_empty());

    let invites_url = format!("{}{}", app.base_url, app.invites_path());
    // The control: the real HA1 with a genuine nonce, and a nonce forged with the real key.
    let genuine = crate::harness::challenge_nonce(&invites_url).await;
    assert_eq!(
        signed_with_ha1(&app, &app.owner.public_key, &real_ha1, &genuine).await,
        200
    );
    let forged_with_real_key = forge_nonce(&real_nonce_key, now);
    assert_eq!(
        signed_with_ha1(
            &app,
            &app.owner.public_key,
            &real_ha1,
            &forged_with_real_key
        )
        .await,
        200,
        "the forging is right"
    );

    let raw = raw_store_contents(&app).await;
    assert!(
        !contains(&raw, &real_ha1),
        "the HA1 is stored in hexadecimal"
    );
    let real_ha1_bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&real_ha1[i * 2..i * 2 + 2], 16).unwrap())
        .collect();
    assert!(
        !raw.windows(16)
            .any(|window| window == real_ha1_bytes.as_slice()),
        "the HA1 is stored as bytes"
    );
    assert!(
        !raw.windows(real_nonce_key.len())
            .any(|window| window == real_nonce_key.as_slice())
            && !contains(&raw, &hex(&real_nonce_key)),
        "the nonce key is stored as it is"
    );
    // The attacks with what the store holds: every 16 bytes of a stored credential as an HA1,
    // every stored secret (and its parts) as the nonce key.
    for stored in &stored_ha1s {
        for candidate in stored.windows(16).step_by(4) {
            let fresh = crate::harness::challenge_nonce(&invites_url).await;
            assert_eq!(
                signed_with_ha1(&app, &app.owner.public_key, &hex(candidate), &fresh).await,
                401
            );
        }
    }
    for stored in &stored_secrets {
        for candidate in [
            stored.as_slice(),
            &stored[1..],
            &stored[stored.len() - 32..],
        ] {
            let forged = forge_nonce(candidate, now);
            assert_eq!(
                signed_with_ha1(&app, &app.owner.public_key, &real_ha1, &forged).await,
                401
            );
        }
    }
}

async fn health_reports_the_database_without_authentication(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.health().await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"database": "ok", "status": "ok"})
    );
}

/// Everything the store holds, as text: every file of the SQLite database, or every row of
/// every table of the PostgreSQL schema.
#[expect(
    clippy::disallowed_methods,
    reason = "a test reading the store's files for plaintext"
)]
async fn raw_store_contents(app: &crate::harness::TestApp) -> Vec<u8> {
    match app.database.backend {
        Backend::Sqlite => {
            let path = app.database.url.trim_start_matches("sqlite://").to_owned();
            let mut bytes = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                if let Ok(content) = std::fs::read(format!("{path}{suffix}")) {
                    bytes.extend(content);
                }
            }
            bytes
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.database.url)
                .await
                .unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            assert!(tables.iter().any(|table| table == "api_keys"));
            let mut text = String::new();
            for table in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                text.extend(rows);
            }
            text.into_bytes()
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

async fn no_private_key_is_stored_in_a_recoverable_form(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut keys = vec![app.owner.clone()];
    for _ in 0..3 {
        keys.push(app.key_with(&[orgdoor_domain::OrgRole::Member]).await);
    }
    // Use the keys, so nothing is only in memory.
    for key in &keys {
        assert_eq!(
            app.client(key)
                .get(&format!("/api/atlas/v2/orgs/{}", app.org_id))
                .await
                .status,
            200
        );
    }
    let raw = raw_store_contents(&app).await;
    assert!(
        contains(&raw, &keys[0].public_key),
        "the dump does hold the public keys"
    );
    for key in &keys {
        let compact = key.private_key.replace('-', "");
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&key.private_key);
        for form in [key.private_key.as_str(), compact.as_str(), encoded.as_str()] {
            assert!(
                !contains(&raw, form),
                "the store holds a private key ({form})"
            );
        }
    }
}

async fn sixty_four_parallel_invitations_across_two_instances_leave_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let second = app.spawn_instance().await;
    let body = json!({"username": "ada@example.com", "roles": ["ORG_MEMBER"]});
    let requests = (0..64).map(|n| {
        let base = if n % 2 == 0 {
            app.base_url.clone()
        } else {
            second.clone()
        };
        let client =
            DigestClient::new(&base, app.owner.clone(), DigestStyle::ChallengeEveryRequest);
        let (path, body) = (app.invites_path(), body.clone());
        async move {
            client
                .send(Method::POST, &path, Some(V2023), Some(&body))
                .await
        }
    });
    let responses = join_all(requests).await;
    // Every response is the documented 200, and all of them name the same invitation.
    let ids: HashSet<&str> = responses
        .iter()
        .map(|response| {
            assert_eq!(response.status, 200, "{}", response.text);
            response.json["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    let listed = DigestClient::new(
        &second,
        app.owner.clone(),
        DigestStyle::ChallengeEveryRequest,
    )
    .get(&app.invites_path())
    .await;
    assert_eq!(listed.json.as_array().unwrap().len(), 1);
    assert!(ids.contains(listed.json[0]["id"].as_str().unwrap()));
}

async fn parallel_updates_through_the_api_lose_no_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let second = app.spawn_instance().await;
    let mut teams = Vec::new();
    for n in 0..6 {
        teams.push(app.create_team(&format!("team-{n}")).await);
    }
    let project = app.create_project("Shared").await;
    for (round, team) in teams.iter().enumerate() {
        let created = app
            .invite(&format!("user{round}@example.com"), &["ORG_MEMBER"])
            .await
            .json;
        let path = format!("{}/{}", app.invites_path(), created["id"].as_str().unwrap());
        let first = DigestClient::new(
            &app.base_url,
            app.owner.clone(),
            DigestStyle::ChallengeEveryRequest,
        );
        let other = DigestClient::new(
            &second,
            app.owner.clone(),
            DigestStyle::ChallengeEveryRequest,
        );
        let bodies = [
            json!({"roles": ["ORG_OWNER"]}),
            json!({"teamIds": [team]}),
            json!({"groupRoleAssignments": [{"groupId": project, "roles": ["GROUP_READ_ONLY"]}]}),
        ];
        // Three clients (one client sends one request at a time), two instances.
        let third = DigestClient::new(
            &app.base_url,
            app.owner.clone(),
            DigestStyle::ChallengeEveryRequest,
        );
        let (a, b, c) = tokio::join!(
            first.patch(&path, &bodies[0]),
            other.patch(&path, &bodies[1]),
            third.patch(&path, &bodies[2])
        );
        assert_eq!([a.status, b.status, c.status], [200, 200, 200]);
        let result = app.owner().get(&path).await.json;
        assert_eq!(result["roles"], json!(["ORG_OWNER"]), "round {round}");
        assert_eq!(result["teamIds"], json!([team]), "round {round}");
        assert_eq!(
            result["groupRoleAssignments"][0]["groupRole"], "GROUP_READ_ONLY",
            "round {round}"
        );
    }
    let ids: HashSet<String> = app
        .owner()
        .get(&app.invites_path())
        .await
        .ids()
        .into_iter()
        .collect();
    assert_eq!(ids.len(), teams.len());
}
