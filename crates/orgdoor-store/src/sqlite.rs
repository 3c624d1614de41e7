//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a pool of one connection and `BEGIN IMMEDIATE` transactions, so writers
//! queue instead of failing on lock upgrades (other processes sharing the file wait up to the
//! busy timeout); reads use a separate pool and never block on writers. `synchronous=NORMAL`
//! in WAL mode keeps every committed transaction across a crash of the process (only a power
//! loss can drop the newest commits).

mod connections;

use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};

use self::connections::{Checkout, Connections, WriteTransaction};
use crate::StoreError;
use crate::metrics::{Wait, timed_acquire};
use crate::sealing::{Sealer, SecretsKey};
use crate::sql::{self, Backend, Connection, Param, Query, Record, StatementCache};

/// Creates the database file readable and writable by its owner only, or takes those rights
/// away from others on an existing one. SQLite gives its `-wal` and `-shm` files the database
/// file's permissions, so they follow.
#[expect(
    clippy::disallowed_methods,
    reason = "once, as the store opens, before it serves"
)]
fn create_private_file(path: &std::path::Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        return Ok(());
    }
    let io = |error: std::io::Error| StoreError::Internal(sqlx::Error::Io(error));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                let file = std::path::Path::new(&name);
                if let Ok(metadata) = std::fs::metadata(file)
                    && metadata.permissions().mode() & 0o077 != 0
                {
                    tracing::warn!(file = %file.display(), "restricting the store file to its owner");
                    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
                        .map_err(io)?;
                }
            }
            Ok(())
        }
        Err(error) => Err(io(error)),
    }
}

/// How long a request waits for the file lock or a pooled connection before giving up with 503.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Readers never wait for the writer, and a second lets one long list not hold up the short
/// reads. More did not read faster in the benchmarks (sqlx runs each connection on a thread of
/// its own, and the hand-offs, not SQLite, are the cost), while each can hold a large result
/// in memory at once: two keep the 10,000-invitation list under its memory target.
const READ_CONNECTIONS: usize = 2;

pub struct SqliteStore {
    writer: Connections,
    reader: Connections,
    sealer: Sealer,
}

impl SqliteStore {
    /// Opens (creating if missing) the file a `sqlite:` URL names and applies migrations.
    pub async fn connect(database_url: &str, secrets: &SecretsKey) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(database_url).map_err(StoreError::Internal)?;
        create_private_file(options.get_filename())?;
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = Connections::open(&options, 1, BUSY_TIMEOUT).await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut *writer.acquire().await?)
            .await?;
        let reader = Connections::open(&options, READ_CONNECTIONS, BUSY_TIMEOUT).await?;
        let store = Self {
            writer,
            reader,
            sealer: Sealer::new(secrets),
        };
        crate::housekeeping::prepare(&store, time::OffsetDateTime::now_utc()).await?;
        Ok(store)
    }
}

/// The `backend` label of this store's metrics.
const BACKEND: &str = "sqlite";

impl Backend for SqliteStore {
    type Connection = SqliteConnection;
    type Reader<'a> = Checkout<'a>;
    type Writer<'a> = WriteTransaction<'a>;

    async fn read(&self) -> Result<Checkout<'_>, StoreError> {
        timed_acquire(BACKEND, Wait::Read, self.reader.acquire()).await
    }

    async fn begin_write(&self) -> Result<WriteTransaction<'_>, StoreError> {
        timed_acquire(BACKEND, Wait::Transaction, self.writer.begin_immediate()).await
    }

    async fn write(&self) -> Result<Checkout<'_>, StoreError> {
        timed_acquire(BACKEND, Wait::Write, self.writer.acquire()).await
    }

    fn sealer(&self) -> &Sealer {
        &self.sealer
    }
}

impl sql::WriteTransaction<SqliteConnection> for WriteTransaction<'_> {
    async fn commit(self) -> Result<(), StoreError> {
        Ok(WriteTransaction::commit(self).await?)
    }
}

impl Connection for SqliteConnection {
    type Database = Sqlite;

    // BEGIN IMMEDIATE already holds the write lock for the whole transaction.
    const LOCK_ROWS: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
    const LOCK_ORGANIZATIONS: Option<&'static str> = None;
    const JSON_ARRAY: &'static str = "json_array";
    const JSON_AGG: &'static str = "json_group_array";
    // A subquery's JSON loses its JSON type in SQLite; `json()` restores it, so it nests.
    const JSON_NESTED: &'static str = "json";

    fn bind<'q, T: Param<'q>>(query: Query<'q, Sqlite>, value: T) -> Query<'q, Sqlite> {
        query.bind(value)
    }

    async fn execute<'q>(&mut self, query: Query<'q, Sqlite>) -> Result<u64, sqlx::Error> {
        Ok(query.execute(self).await?.rows_affected())
    }

    async fn fetch_all<'q, R: Record>(
        &mut self,
        query: Query<'q, Sqlite>,
    ) -> Result<Vec<R>, sqlx::Error> {
        query.try_map(|row| R::from_row(&row)).fetch_all(self).await
    }

    async fn fetch_optional<'q, R: Record>(
        &mut self,
        query: Query<'q, Sqlite>,
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
