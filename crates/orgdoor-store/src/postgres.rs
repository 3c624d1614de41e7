//! The shared store: PostgreSQL, for durable state and several orgdoor instances.
//!
//! Every instance uses its own pool against the same database; transactions run at READ
//! COMMITTED, and read-modify-write use cases lock the row they change (`FOR UPDATE`) so
//! concurrent updates apply one after the other. Uniqueness lives in constraints, which hold
//! across instances.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::StoreError;
use crate::metrics::{Wait, timed_acquire};
use crate::sealing::{Sealer, SecretsKey};
use crate::sql::{Backend, Connection, Param, Query, Record, StatementCache, WriteWork};

/// How long a request waits for a pooled connection (or a new one) before it gets a 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_CONNECTIONS: u32 = 16;

pub struct PostgresStore {
    pool: PgPool,
    /// One connection, for the readings of what changed (`Backend::follow`); a pool of its
    /// own so that sqlx replaces it when it breaks.
    follower: PgPool,
    sealer: Arc<Sealer>,
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
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let follower = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_lazy_with(options);
        let store = Self {
            pool,
            follower,
            sealer: Arc::new(Sealer::new(secrets)),
        };
        crate::housekeeping::prepare(&store, time::OffsetDateTime::now_utc()).await?;
        Ok(store)
    }
}

/// The `backend` label of this store's metrics.
const BACKEND: &str = "postgres";

/// Every statement of the transaction sees the database as of its first one.
const READ_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

impl Backend for PostgresStore {
    type Connection = PgConnection;
    type WriteConnection = PgConnection;
    type Reader<'a> = PoolConnection<Postgres>;
    type Snapshot<'a> = Transaction<'static, Postgres>;

    async fn read(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        Ok(timed_acquire(BACKEND, Wait::Read, self.pool.acquire()).await?)
    }

    async fn follow(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        Ok(timed_acquire(BACKEND, Wait::Follow, self.follower.acquire()).await?)
    }

    async fn read_snapshot(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let begin = self.pool.begin_with(READ_SNAPSHOT);
        Ok(timed_acquire(BACKEND, Wait::Read, begin).await?)
    }

    async fn write_transaction<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> WriteWork<'c, T> + Send + 'static,
    {
        // Cut off at any await, the transaction is dropped and rolled back.
        let mut tx = timed_acquire(BACKEND, Wait::Transaction, self.pool.begin()).await?;
        let done = work(&mut tx).await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn write_statement<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> WriteWork<'c, T> + Send + 'static,
    {
        // Outside a transaction, the statement commits as a whole or not at all; cut off at
        // the await, it still does one or the other.
        let mut connection = timed_acquire(BACKEND, Wait::Transaction, self.pool.acquire()).await?;
        work(&mut connection).await
    }

    fn sealer(&self) -> &Arc<Sealer> {
        &self.sealer
    }
}

impl Connection for PgConnection {
    type Query<'q> = Query<'q, Postgres>;

    const LOCK_ROWS: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    // Serializes first starts: only one instance may find the store empty and fill it.
    const LOCK_ORGANIZATIONS: Option<&'static str> =
        Some("LOCK TABLE organizations IN SHARE ROW EXCLUSIVE MODE");
    // The default collation follows the database's locale, where `anna@a.com` sorts before
    // `ann@z.com`; "C" compares bytes.
    const BYTE_ORDER: &'static str = " COLLATE \"C\"";
    const JSON_ARRAY: &'static str = "json_build_array";
    const JSON_AGG: &'static str = "json_agg";
    const JSON_NESTED: &'static str = "";
    const LIST_TABLES: &'static str =
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()";
    const DATA_MODIFYING_WITH: bool = true;

    const RECORD_ORG_CHANGE: &'static str = "INSERT INTO org_changes (org_id) VALUES ($1)";
    // The cursor is the reading's snapshot: the changes to report are those visible in this
    // statement's snapshot and not in the last one's. A change made by a transaction that was
    // still running at the last reading is reported when it commits, whatever its id.
    const READ_CHANGES: &'static str = "SELECT \
         (SELECT generation FROM credential_generation WHERE id = 1), \
         pg_current_snapshot()::text, \
         (SELECT string_agg(DISTINCT org_id, ',') FROM org_changes \
          WHERE $1::text IS NOT NULL \
          AND txid >= pg_snapshot_xmin($1::text::pg_snapshot) \
          AND NOT pg_visible_in_snapshot(txid, $1::text::pg_snapshot))";
    const PRUNE_CHANGES: Option<&'static str> =
        Some("DELETE FROM org_changes WHERE txid < pg_snapshot_xmin($1::text::pg_snapshot)");

    fn empty_tables(tables: &[&str]) -> Vec<String> {
        if tables.is_empty() {
            return Vec::new();
        }
        let quoted: Vec<String> = tables.iter().map(|table| format!("\"{table}\"")).collect();
        vec![format!("TRUNCATE {}", quoted.join(", "))]
    }

    fn prepare(sql: &str) -> Query<'_, Postgres> {
        sqlx::query(sql)
    }

    fn bind<'q, T: Param<'q>>(query: Self::Query<'q>, value: T) -> Query<'q, Postgres> {
        query.bind(value)
    }

    async fn execute<'q>(&mut self, query: Self::Query<'q>) -> Result<u64, sqlx::Error> {
        Ok(query.execute(self).await?.rows_affected())
    }

    async fn fetch_all<'q, R: Record>(
        &mut self,
        query: Self::Query<'q>,
    ) -> Result<Vec<R>, sqlx::Error> {
        query.try_map(|row| R::from_row(&row)).fetch_all(self).await
    }

    async fn fetch_optional<'q, R: Record>(
        &mut self,
        query: Self::Query<'q>,
    ) -> Result<Option<R>, sqlx::Error> {
        query
            .try_map(|row| R::from_row(&row))
            .fetch_optional(self)
            .await
    }

    fn shrink_buffers(&mut self) {
        sqlx::Connection::shrink_buffers(self);
    }

    fn statement_cache() -> &'static StatementCache {
        static CACHE: StatementCache = StatementCache::new();
        &CACHE
    }
}
