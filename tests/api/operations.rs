//! What operators and fleets rely on: the health endpoint, secrets at rest, and one truth across
//! instances under concurrency.

use std::collections::HashSet;

use futures_util::future::join_all;
use orgdoor_test_db::Backend;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::harness::{DigestClient, DigestStyle, V2023, spawn_app};

on_both_stores!(
    health_reports_the_database_without_authentication,
    no_private_key_is_stored_in_a_recoverable_form,
    sixty_four_parallel_invitations_across_two_instances_leave_one,
    parallel_updates_through_the_api_lose_no_field,
);

async fn health_reports_the_database_without_authentication(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = reqwest::get(format!("{}/health", app.base_url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"database": "ok", "status": "ok"})
    );
}

/// Everything the store holds, as text: every file of the SQLite database, or every row of
/// every table of the PostgreSQL schema.
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
        let (a, b, c) = tokio::join!(
            first.patch(&path, &bodies[0]),
            other.patch(&path, &bodies[1]),
            first.patch(&path, &bodies[2])
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
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), teams.len());
}
