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

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use self::connections::{Connections, WriteTransaction};
use crate::StoreError;
use crate::sealing::{Sealer, SecretsKey};

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
        store.seal_plaintext_secrets().await?;
        store
            .fold_project_invitations(time::OffsetDateTime::now_utc())
            .await?;
        Ok(store)
    }

    async fn begin_write(&self) -> Result<WriteTransaction<'_>, StoreError> {
        self.writer.begin_immediate().await
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
        json_array = "json_array",
        json_agg = "json_group_array",
        // A subquery's JSON loses its JSON type in SQLite; `json()` restores it, so it nests.
        json_nested = "json",
    );
}
