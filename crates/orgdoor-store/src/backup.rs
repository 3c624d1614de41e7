//! Copies of a SQLite store: a backup taken while servers write to it, and a restore from one.
//!
//! Both go through SQLite's `VACUUM INTO`, which reads one snapshot of the source (in WAL mode a
//! reader never blocks the writer, and the writer never waits for it) and writes a complete,
//! compacted database. Neither touches the secrets key: the caller copies its file. PostgreSQL
//! stores are backed up with `pg_dump`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};

/// Why a backup or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; it is never overwritten")]
    TargetExists(PathBuf),
    #[error("{0} does not exist")]
    SourceMissing(PathBuf),
    #[error("{0}: the path is not UTF-8, which SQLite needs")]
    NotUtf8(PathBuf),
    #[error("not a SQLite URL: {0}")]
    NotSqlite(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a sound SQLite database: {report}")]
    Damaged { path: PathBuf, report: String },
    #[error("{path}: {source}")]
    Database { path: PathBuf, source: sqlx::Error },
}

/// The file a `sqlite:` URL names.
pub fn sqlite_file(database_url: &str) -> Result<PathBuf, BackupError> {
    if !database_url.starts_with("sqlite:") {
        return Err(BackupError::NotSqlite(database_url.to_owned()));
    }
    let options = SqliteConnectOptions::from_str(database_url)
        .map_err(|_| BackupError::NotSqlite(database_url.to_owned()))?;
    Ok(options.get_filename().to_path_buf())
}

/// Writes a consistent copy of the SQLite store `database_url` names into `target`, a new file
/// (created 0600, fsynced). The servers on the store go on reading and writing meanwhile.
pub async fn backup_sqlite(database_url: &str, target: &Path) -> Result<(), BackupError> {
    let source = sqlite_file(database_url)?;
    copy_database(&source, target).await
}

/// Replaces (with `replace`) or creates the SQLite store `database_url` names with a copy of
/// the backup `backup`, after checking the backup's integrity. No server may have the store
/// open: its write-ahead log is deleted with it.
pub async fn restore_sqlite(
    backup: &Path,
    database_url: &str,
    replace: bool,
) -> Result<(), BackupError> {
    let target = sqlite_file(database_url)?;
    if !replace && exists(&target).await? {
        return Err(BackupError::TargetExists(target));
    }
    check_integrity(backup).await?;
    // Copied beside the store first, so the store is replaced in one rename.
    let mut staging = target.clone().into_os_string();
    staging.push(format!(".restoring-{}", std::process::id()));
    let staging = PathBuf::from(staging);
    copy_database(backup, &staging).await?;
    // A log left from the replaced store would be replayed onto the restored one.
    for suffix in ["-wal", "-shm"] {
        let mut name = target.clone().into_os_string();
        name.push(suffix);
        remove_if_present(Path::new(&name)).await?;
    }
    tokio::fs::rename(&staging, &target)
        .await
        .map_err(|source| BackupError::Io {
            path: target.clone(),
            source,
        })
}

/// Runs `PRAGMA integrity_check` on the database file `path`; anything but `ok` is damage.
pub async fn check_integrity(path: &Path) -> Result<(), BackupError> {
    let mut connection = open_existing(path).await?;
    let report: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut connection)
        .await
        .map_err(|source| database_error(path, source))?;
    if report.len() == 1 && report[0] == "ok" {
        Ok(())
    } else {
        Err(BackupError::Damaged {
            path: path.to_path_buf(),
            report: report.join("; "),
        })
    }
}

/// `VACUUM INTO` from the existing database `source` into the new file `target`.
async fn copy_database(source: &Path, target: &Path) -> Result<(), BackupError> {
    let target_text = target
        .to_str()
        .ok_or_else(|| BackupError::NotUtf8(target.to_path_buf()))?;
    let mut connection = open_existing(source).await?;
    // Created here, empty, so that it is the owner's alone and never replaces a file (`VACUUM
    // INTO` fills an empty file).
    let io = |source| BackupError::Io {
        path: target.to_path_buf(),
        source,
    };
    match tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(target)
        .await
    {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(BackupError::TargetExists(target.to_path_buf()));
        }
        Err(error) => return Err(io(error)),
    }
    let copied = async {
        sqlx::query("VACUUM INTO ?")
            .bind(target_text)
            .execute(&mut connection)
            .await
            .map_err(|error| database_error(source, error))?;
        // `VACUUM INTO` does not sync what it wrote; a backup must survive a power loss.
        let file = tokio::fs::File::open(target).await.map_err(io)?;
        file.sync_all().await.map_err(io)
    }
    .await;
    if copied.is_err() {
        let _ = tokio::fs::remove_file(target).await;
    }
    copied
}

/// Opens a connection to a database file that must already exist.
async fn open_existing(path: &Path) -> Result<SqliteConnection, BackupError> {
    if !exists(path).await? {
        return Err(BackupError::SourceMissing(path.to_path_buf()));
    }
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .map_err(|source| database_error(path, source))
}

async fn exists(path: &Path) -> Result<bool, BackupError> {
    tokio::fs::try_exists(path)
        .await
        .map_err(|source| BackupError::Io {
            path: path.to_path_buf(),
            source,
        })
}

async fn remove_if_present(path: &Path) -> Result<(), BackupError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BackupError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn database_error(path: &Path, source: sqlx::Error) -> BackupError {
    BackupError::Database {
        path: path.to_path_buf(),
        source,
    }
}
