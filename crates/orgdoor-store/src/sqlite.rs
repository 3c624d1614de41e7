//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a pool of one connection and `BEGIN IMMEDIATE` transactions, so writers
//! queue instead of failing on lock upgrades (other processes sharing the file wait up to the
//! busy timeout); reads use a separate pool and never block on writers. `synchronous=NORMAL`
//! in WAL mode keeps every committed transaction across a crash of the process (only a power
//! loss can drop the newest commits).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use crate::StoreError;

/// How long a request waits for the file lock or a pooled connection before giving up with 503.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READ_CONNECTIONS: u32 = 4;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the file a `sqlite:` URL names and applies migrations.
    pub async fn connect(database_url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(database_url)
            .map_err(StoreError::Internal)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Self { writer, reader })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

mod queries {
    use super::SqliteStore;

    crate::sql::impl_sql_store!(
        store = SqliteStore,
        connection = sqlx::sqlite::SqliteConnection,
        row = sqlx::sqlite::SqliteRow,
        // BEGIN IMMEDIATE already holds the write lock for the whole transaction.
        lock_rows = "",
        lock_organizations = "",
    );
}
