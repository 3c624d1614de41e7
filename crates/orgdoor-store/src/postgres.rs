//! The shared store: PostgreSQL, for durable state and several orgdoor instances.
//!
//! Every instance uses its own pool against the same database; transactions run at READ
//! COMMITTED, and read-modify-write use cases lock the row they change (`FOR UPDATE`) so
//! concurrent updates apply one after the other. Uniqueness lives in constraints, which hold
//! across instances.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::StoreError;
use crate::sealing::{Sealer, SecretsKey};

/// How long a request waits for a pooled connection (or a new one) before it gets a 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_CONNECTIONS: u32 = 16;

pub struct PostgresStore {
    reader: PgPool,
    writer: PgPool,
    sealer: Sealer,
}

impl PostgresStore {
    /// Connects to the database a `postgres:` URL names and applies migrations.
    pub async fn connect(database_url: &str, secrets: &SecretsKey) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(database_url).map_err(StoreError::Internal)?;
        // sqlx pings a connection when it comes back to the pool, and closes it if the ping
        // fails; a second ping on every checkout would cost each store call one more round
        // trip to the server.
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        // One pool serves both roles; the fields keep the shared queries dialect-neutral.
        let store = Self {
            reader: pool.clone(),
            writer: pool,
            sealer: Sealer::new(secrets),
        };
        store.seal_plaintext_secrets().await?;
        store
            .fold_project_invitations(time::OffsetDateTime::now_utc())
            .await?;
        Ok(store)
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.writer.begin().await?)
    }
}

mod queries {
    use super::PostgresStore;

    crate::sql::impl_sql_store!(
        store = PostgresStore,
        connection = sqlx::postgres::PgConnection,
        row = sqlx::postgres::PgRow,
        lock_rows = " FOR UPDATE",
        // Serializes first starts: only one instance may find the store empty and fill it.
        lock_organizations = "LOCK TABLE organizations IN SHARE ROW EXCLUSIVE MODE",
        json_array = "json_build_array",
        json_agg = "json_agg",
        json_nested = "",
    );
}
