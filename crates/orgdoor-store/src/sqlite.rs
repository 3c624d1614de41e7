//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through one connection, owned by a thread of its own that runs each write use case
//! whole, in `BEGIN IMMEDIATE` transactions that the writes queued together share ([`writer`]),
//! so writers queue instead of failing on lock upgrades (other processes sharing the file wait
//! up to the busy timeout); reads use separate connections (sqlx's) and never block on the
//! writer. `synchronous=NORMAL` in WAL mode keeps every committed transaction across a crash of
//! the process (only a power loss can drop the newest commits).
//!
//! A store "in memory" is a file in a directory of its own under the system's temporary
//! directory, removed with the store: the writer's connection and sqlx's cannot share a
//! database that lives in memory only.

mod connections;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};

use self::connections::{Checkout, Connections, Transaction};
use self::writer::{Writer, WriterConnection};
use crate::StoreError;
use crate::metrics::{Wait, timed_acquire};
use crate::sealing::{Sealer, SecretsKey};
use crate::sql::{Backend, Connection, Param, Query, Record, StatementCache, WriteWork};

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
    let io = |source: std::io::Error| StoreError::File {
        path: path.to_owned(),
        source,
    };
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
    writer: Writer,
    reader: Connections,
    /// The connection kept for reading what changed (`Backend::follow`).
    follower: Connections,
    sealer: Arc<Sealer>,
    /// The directory of a store "in memory", removed with it (declared last: the writer's
    /// thread has closed its connection by then; a reader closing later keeps its open file).
    _scratch: Option<tempfile::TempDir>,
}

/// Whether a `sqlite:` URL names a database in memory (`sqlite::memory:`, `mode=memory`).
fn is_in_memory(database_url: &str) -> bool {
    database_url.contains(":memory:") || database_url.contains("mode=memory")
}

impl SqliteStore {
    /// Opens (creating if missing) the file a `sqlite:` URL names and applies migrations.
    pub async fn connect(database_url: &str, secrets: &SecretsKey) -> Result<Self, StoreError> {
        let (options, scratch) = if is_in_memory(database_url) {
            use std::os::unix::fs::PermissionsExt;
            let scratch = tempfile::Builder::new()
                .prefix("orgdoor-memory-")
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir()
                .map_err(|source| StoreError::File {
                    path: std::env::temp_dir(),
                    source,
                })?;
            let file = scratch.path().join("store.db");
            (SqliteConnectOptions::new().filename(file), Some(scratch))
        } else {
            let options =
                SqliteConnectOptions::from_str(database_url).map_err(StoreError::Internal)?;
            (options, None)
        };
        create_private_file(options.get_filename())?;
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // A long list's sort and JSON aggregate in memory, not in a temporary file.
            .pragma("temp_store", "memory");
        let follower = Connections::open(&options, 1, BUSY_TIMEOUT).await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut *follower.acquire().await?)
            .await?;
        let store = Self {
            writer: Writer::start(options.get_filename(), BUSY_TIMEOUT)?,
            reader: Connections::open(&options, READ_CONNECTIONS, BUSY_TIMEOUT).await?,
            follower,
            sealer: Arc::new(Sealer::new(secrets)),
            _scratch: scratch,
        };
        crate::housekeeping::prepare(&store, time::OffsetDateTime::now_utc()).await?;
        Ok(store)
    }
}

/// The `backend` label of this store's metrics.
const BACKEND: &str = "sqlite";

impl Backend for SqliteStore {
    type Connection = SqliteConnection;
    type WriteConnection = WriterConnection;
    type Reader<'a> = Checkout<'a>;
    type Snapshot<'a> = Transaction<'a>;

    async fn read(&self) -> Result<Checkout<'_>, StoreError> {
        timed_acquire(BACKEND, Wait::Read, self.reader.acquire()).await
    }

    async fn follow(&self) -> Result<Checkout<'_>, StoreError> {
        timed_acquire(BACKEND, Wait::Follow, self.follower.acquire()).await
    }

    async fn read_snapshot(&self) -> Result<Transaction<'_>, StoreError> {
        timed_acquire(BACKEND, Wait::Read, self.reader.begin_snapshot()).await
    }

    async fn write_transaction<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut WriterConnection) -> WriteWork<'c, T> + Send + 'static,
    {
        self.writer.write(work).await
    }

    fn sealer(&self) -> &Arc<Sealer> {
        &self.sealer
    }
}

impl Connection for SqliteConnection {
    type Query<'q> = Query<'q, Sqlite>;

    // BEGIN IMMEDIATE already holds the write lock for the whole transaction.
    const LOCK_ROWS: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
    const LOCK_ORGANIZATIONS: Option<&'static str> = None;
    // SQLite's default collation, BINARY, already compares bytes.
    const BYTE_ORDER: &'static str = "";
    const JSON_ARRAY: &'static str = "json_array";
    const JSON_AGG: &'static str = "json_group_array";
    // A subquery's JSON loses its JSON type in SQLite; `json()` restores it, so it nests.
    const JSON_NESTED: &'static str = "json";
    const LIST_TABLES: &'static str =
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'";
    const DATA_MODIFYING_WITH: bool = false;

    // One row per organization, numbered in commit order (one writer): the cursor is the
    // highest number read.
    const RECORD_ORG_CHANGE: &'static str = "INSERT INTO org_change_marks (org_id) VALUES ($1)";
    const READ_CHANGES: &'static str = "SELECT \
         (SELECT generation FROM credential_generation WHERE id = 1), \
         CAST(coalesce((SELECT max(seq) FROM org_changes), 0) AS TEXT), \
         (SELECT group_concat(org_id) FROM org_changes \
          WHERE $1 IS NOT NULL AND seq > CAST($1 AS INTEGER))";
    const PRUNE_CHANGES: Option<&'static str> = None;

    fn empty_tables(tables: &[&str]) -> Vec<String> {
        // Foreign keys are deferred while the tables empty one by one, in no particular order.
        // Once all are empty nothing can violate one, and checks go back to immediate for the
        // writes that share the transaction after this one (switching deferral off forgets
        // what was deferred, which is nothing by then).
        std::iter::once("PRAGMA defer_foreign_keys = ON".to_owned())
            .chain(
                tables
                    .iter()
                    .map(|table| format!("DELETE FROM \"{table}\"")),
            )
            .chain(std::iter::once(
                "PRAGMA defer_foreign_keys = OFF".to_owned(),
            ))
            .collect()
    }

    fn prepare(sql: &str) -> Query<'_, Sqlite> {
        sqlx::query(sql)
    }

    fn bind<'q, T: Param<'q>>(query: Self::Query<'q>, value: T) -> Query<'q, Sqlite> {
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

#[cfg(test)]
mod tests {
    use crate::{ControlStore, HousekeepingStore, SecretsKey};

    use super::*;

    #[tokio::test]
    #[expect(
        clippy::disallowed_methods,
        reason = "counts the files in the working directory, before and after"
    )]
    async fn an_in_memory_store_keeps_its_data_and_leaves_no_file() {
        let before: Vec<_> = std::fs::read_dir(".")
            .expect("the working directory")
            .collect();
        let store = SqliteStore::connect("sqlite::memory:", &SecretsKey::generate())
            .await
            .expect("an in-memory store");
        store.set_clock_offset(42).await.expect("a write");
        let scratch = store
            ._scratch
            .as_ref()
            .expect("a directory of its own")
            .path()
            .to_owned();
        let mode = std::fs::metadata(&scratch)
            .expect("the directory")
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700,
            "its owner's only"
        );
        // Reads and writes at once wait for each other instead of failing.
        let store = std::sync::Arc::new(store);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..16 {
            let store = std::sync::Arc::clone(&store);
            tasks.spawn(async move {
                if i % 2 == 0 {
                    store.set_clock_offset(42).await
                } else {
                    store.ping().await
                }
            });
        }
        while let Some(outcome) = tasks.join_next().await {
            outcome.expect("the task").expect("no refusal");
        }
        assert_eq!(
            store.control_state().await.expect("a read").clock_offset_ms,
            42
        );
        let after: Vec<_> = std::fs::read_dir(".")
            .expect("the working directory")
            .collect();
        assert_eq!(before.len(), after.len(), "no file was created");
        drop(std::sync::Arc::into_inner(store).expect("the last handle"));
        assert!(!scratch.exists(), "the directory goes with the store");
    }
}
