//! Credentials are sealed at rest: stores written before sealing are sealed when opened, and a
//! store refuses to open with a key that is not its own.
#![allow(clippy::unwrap_used)]

use orgdoor_domain::{DigestHa1, NewApiKey, OrgRole, OrgRoles};
use orgdoor_store::{SecretsKey, StoreError};
use orgdoor_test_db::{Backend, TestDatabase};
use sqlx::Connection as _;
use time::macros::datetime;

#[path = "support/store.rs"]
#[allow(dead_code, reason = "the other crates that share it use the rest")]
mod support;

const NOW: time::OffsetDateTime = datetime!(2026-12-04 03:00:00 UTC);

/// Runs `sql` with one bound blob straight against the database, as an older version would
/// have written it.
async fn execute(database: &TestDatabase, sql: &str, blob: &[u8]) {
    match database.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&database.url)
                .await
                .unwrap();
            sqlx::query(sql)
                .bind(blob)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
            sqlx::query(sql)
                .bind(blob)
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

async fn stored_ha1_length(database: &TestDatabase) -> usize {
    let sql = "SELECT digest_ha1 FROM api_keys";
    let value: Vec<u8> = match database.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&database.url)
                .await
                .unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
    };
    value.len()
}

/// Asserts the store in `database` refuses to open with a new key (`why` says why it must).
async fn assert_foreign_key_refused(database: &TestDatabase, why: &str) {
    let foreign = orgdoor_store::connect(&database.url, &SecretsKey::generate()).await;
    assert!(matches!(foreign, Err(StoreError::WrongSecretsKey)), "{why}");
}

async fn plaintext_from_before_sealing_is_sealed_and_a_foreign_key_is_refused(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let key = SecretsKey::generate();
    let store = orgdoor_store::connect(&database.url, &key).await.unwrap();
    let organization = support::organization(&store, "Sealed", NOW).await;
    let owner = NewApiKey {
        ha1: DigestHa1([42; 16]),
        description: "old".into(),
        roles: OrgRoles::single(OrgRole::Owner),
        ..support::new_api_key(&organization.id)
    };
    let (api_key, ha1) = support::store_api_key(&store, owner, NOW).await;
    assert!(
        stored_ha1_length(&database).await > 16,
        "sealed when written"
    );
    drop(store);
    assert_foreign_key_refused(
        &database,
        "a store holding a sealed credential opens only with its own key",
    )
    .await;

    // What an older version wrote: the HA1 and a server secret in the clear.
    execute(&database, "UPDATE api_keys SET digest_ha1 = $1", &[42; 16]).await;
    execute(
        &database,
        "INSERT INTO server_secrets (name, value) VALUES ('old-secret', $1)",
        &[9; 32],
    )
    .await;
    assert_eq!(stored_ha1_length(&database).await, 16);

    let store = orgdoor_store::connect(&database.url, &key).await.unwrap();
    assert!(stored_ha1_length(&database).await > 16, "sealed on opening");
    let found = store
        .find_api_key(&api_key.public_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.ha1, ha1, "the sealed value is the same credential");
    assert_eq!(
        store
            .shared_secret("old-secret", &|| vec![0; 32])
            .await
            .unwrap(),
        vec![9; 32]
    );
    drop(store);

    assert_foreign_key_refused(&database, "a store opens only with its own key").await;
}

#[tokio::test]
async fn sqlite_plaintext_from_before_sealing_is_sealed_and_a_foreign_key_is_refused() {
    plaintext_from_before_sealing_is_sealed_and_a_foreign_key_is_refused(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_plaintext_from_before_sealing_is_sealed_and_a_foreign_key_is_refused() {
    plaintext_from_before_sealing_is_sealed_and_a_foreign_key_is_refused(Backend::Postgres).await;
}
