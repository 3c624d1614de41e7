//! `orgdoor backup` and `orgdoor restore`: a consistent copy of a SQLite store taken while it
//! serves, with its secrets key file beside it (`FILE.key`), and the way back. PostgreSQL
//! stores are copied with `pg_dump`/`pg_restore` instead (README, "Backups").

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use orgdoor_store::SecretsKey;
use orgdoor_store::backup::{backup_sqlite, restore_sqlite, sqlite_file};

use super::{StoreArgs, print_json};
use crate::config::SecretsKeySource;

#[derive(Debug, Args)]
pub(super) struct BackupArgs {
    /// The new file to write the copy to (an existing file is refused). The secrets key file
    /// is copied beside it as `FILE.key`: the copy's credentials open only with that key.
    #[arg(long)]
    to: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub(super) struct RestoreArgs {
    /// A file `orgdoor backup` wrote; its key file (`FILE.key`) is restored with it.
    #[arg(long)]
    from: PathBuf,
    /// Replace an existing store and key file. Stop every server on the store first.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    store: StoreArgs,
}

const POSTGRES_BACKUP: &str = "orgdoor backup copies SQLite stores; back up PostgreSQL with \
     `pg_dump -Fc` and restore with `pg_restore` (README, \"Backups\"), and keep the secrets key \
     file with the dump";

const IN_MEMORY: &str = "a store in memory lives and dies with its server's process: \
     there is no file to back up or restore";

pub(super) async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    if !args.store.database_url.starts_with("sqlite:") {
        bail!("{POSTGRES_BACKUP}");
    }
    let key_copy = key_file_beside(&args.to);
    let key_text = match args.store.key_source() {
        SecretsKeySource::File(path) => Some(read_key_file(&path).await?),
        SecretsKeySource::Hex(_) => None,
        SecretsKeySource::Fresh => bail!("{IN_MEMORY}"),
    };
    for file in [&args.to, &key_copy] {
        if tokio::fs::try_exists(file).await? {
            bail!(
                "{} already exists; a backup never overwrites a file",
                file.display()
            );
        }
    }
    backup_sqlite(&args.store.database_url, &args.to).await?;
    let key_file = match key_text {
        Some(text) => {
            if let Err(error) = write_key_file(&key_copy, &text).await {
                let _ = tokio::fs::remove_file(&args.to).await;
                return Err(error);
            }
            Some(key_copy)
        }
        None => {
            eprintln!(
                "the store's credentials are sealed with ORGDOOR_SECRETS_KEY: keep that key with \
                 the backup, the copy opens only with it"
            );
            None
        }
    };
    print_json(&serde_json::json!({
        "backup": args.to,
        "secretsKeyFile": key_file,
    }))
}

pub(super) async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    if !args.store.database_url.starts_with("sqlite:") {
        bail!("{POSTGRES_BACKUP}");
    }
    let store_file = sqlite_file(&args.store.database_url)?;
    if !args.force && tokio::fs::try_exists(&store_file).await? {
        bail!(
            "{} already exists; pass --force to replace it (stop every server on it first)",
            store_file.display()
        );
    }
    let backup_key_file = key_file_beside(&args.from);
    let backup_key = if tokio::fs::try_exists(&backup_key_file).await? {
        Some(read_key_file(&backup_key_file).await?)
    } else {
        eprintln!(
            "no {} beside the backup: the restored store opens only with the secrets key it was \
             backed up with",
            backup_key_file.display()
        );
        None
    };
    let key_destination = match (args.store.key_source(), &backup_key) {
        (SecretsKeySource::File(path), Some(text)) => {
            if !args.force && tokio::fs::try_exists(&path).await? {
                let existing = read_key_file(&path).await?;
                if existing != *text {
                    bail!(
                        "{} already holds another secrets key; pass --force to replace it",
                        path.display()
                    );
                }
            }
            Some(path)
        }
        (SecretsKeySource::Hex(hex), Some(text)) => {
            if SecretsKey::from_hex(&hex).map(|key| key.to_hex()).ok() != Some(text.clone()) {
                bail!(
                    "ORGDOOR_SECRETS_KEY is not the key in {}",
                    backup_key_file.display()
                );
            }
            None
        }
        (SecretsKeySource::Fresh, _) => bail!("{IN_MEMORY}"),
        (_, None) => None,
    };
    restore_sqlite(&args.from, &args.store.database_url, args.force).await?;
    if let (Some(path), Some(text)) = (&key_destination, &backup_key) {
        replace_key_file(path, text).await?;
    }
    // Opening applies migrations and proves the key opens the restored credentials; but with no
    // key at hand, opening would make a new key file, which would not open them.
    let key_at_hand = match args.store.key_source() {
        SecretsKeySource::File(path) => tokio::fs::try_exists(&path).await?,
        SecretsKeySource::Hex(_) => true,
        SecretsKeySource::Fresh => false,
    };
    if key_at_hand {
        args.store
            .open()
            .await
            .context("the restored store does not open")?;
    }
    print_json(&serde_json::json!({
        "restored": store_file,
        "secretsKeyFile": key_destination,
    }))
}

/// `FILE.key` for the file `FILE`.
fn key_file_beside(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// The key a key file holds, as 64 hexadecimal digits (checked).
async fn read_key_file(path: &Path) -> anyhow::Result<String> {
    let text = tokio::fs::read_to_string(path)
        .await
        .with_context(|| format!("reading the secrets key file {}", path.display()))?;
    let key = SecretsKey::from_hex(text.trim())
        .with_context(|| format!("{} does not hold a secrets key", path.display()))?;
    Ok(key.to_hex())
}

/// Writes a new key file, the owner's alone; an existing file is refused.
async fn write_key_file(path: &Path, hex: &str) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt as _;

    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(format!("{hex}\n").as_bytes()).await?;
    file.sync_all()
        .await
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes the key file `path`, replacing one that exists.
async fn replace_key_file(path: &Path, hex: &str) -> anyhow::Result<()> {
    let staging = key_file_beside(path).with_extension("restoring");
    let _ = tokio::fs::remove_file(&staging).await;
    write_key_file(&staging, hex).await?;
    tokio::fs::rename(&staging, path)
        .await
        .with_context(|| format!("replacing {}", path.display()))
}
