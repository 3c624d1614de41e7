//! Settings the server runs with: plain data, built by the CLI in production and directly by
//! tests.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use orgdoor_store::SecretsKey;
use secrecy::{ExposeSecret, SecretString};

use crate::transport::{ConnectionLimits, TlsFiles};

/// A database URL whose password never reaches a log line.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.expose();
        // Keep the scheme and location; hide `user:password@`.
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                write!(f, "{}://***@{}", &url[..scheme_end], &url[at + 1..])
            }
            _ => f.write_str(url),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: DatabaseUrl,
    pub secrets_key: SecretsKey,
    pub connection_limits: ConnectionLimits,
    /// HTTPS when set, else plain HTTP.
    pub tls: Option<TlsFiles>,
}

/// Whether and how hard requests are limited (`http::rate_limits` applies it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimitPolicy {
    /// No limits, no headers: for load tests and suites that flood one organization.
    #[default]
    Off,
    /// Atlas's documented limits.
    Atlas,
    /// Every bucket holds and refills this many tokens per period (for tests of the limits).
    Capacity(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_debug_output() {
        let url = DatabaseUrl::new("postgres://orgdoor:hunter2@db:5432/orgdoor");
        assert_eq!(format!("{url:?}"), "postgres://***@db:5432/orgdoor");
        assert_eq!(
            format!("{:?}", DatabaseUrl::new("sqlite://orgdoor.db")),
            "sqlite://orgdoor.db"
        );
    }
}

/// Where the key that seals stored secrets comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretsKeySource {
    /// 64 hexadecimal digits given directly (`ORGDOOR_SECRETS_KEY`), for fleets.
    Hex(String),
    /// A key file, created (0600) with a new random key if it does not exist.
    File(PathBuf),
}

impl SecretsKeySource {
    /// The default: a key file beside a SQLite store (`orgdoor.db.key`), or
    /// `orgdoor-secrets.key` in the working directory for a PostgreSQL store (instances that do
    /// not share a directory must be given the same key).
    pub fn default_for(database_url: &str) -> Self {
        match database_url.strip_prefix("sqlite:") {
            Some(rest) => {
                let path = rest.trim_start_matches("//");
                let path = path.split('?').next().unwrap_or(path);
                Self::File(PathBuf::from(format!("{path}.key")))
            }
            None => Self::File(PathBuf::from("orgdoor-secrets.key")),
        }
    }

    /// Reads the key, creating its file first if it does not exist yet.
    pub fn load(&self) -> anyhow::Result<SecretsKey> {
        match self {
            Self::Hex(text) => SecretsKey::from_hex(text)
                .context("ORGDOOR_SECRETS_KEY must be 64 hexadecimal digits"),
            Self::File(path) => load_or_create_key_file(path),
        }
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "once at startup, before the server serves"
)]
fn load_or_create_key_file(path: &Path) -> anyhow::Result<SecretsKey> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            let key = SecretsKey::generate();
            writeln!(file, "{}", key.to_hex())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing the new secrets key file {}", path.display()))?;
            tracing::info!(file = %path.display(), "created a secrets key file; keep it with the store, and secret");
            Ok(key)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let metadata = std::fs::metadata(path)
                .with_context(|| format!("reading the secrets key file {}", path.display()))?;
            if metadata.permissions().mode() & 0o077 != 0 {
                tracing::warn!(file = %path.display(), "the secrets key file was readable by others; restricting it to its owner");
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("restricting {}", path.display()))?;
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the secrets key file {}", path.display()))?;
            SecretsKey::from_hex(&text).with_context(|| {
                format!(
                    "{} does not hold a secrets key (64 hexadecimal digits)",
                    path.display()
                )
            })
        }
        Err(error) => {
            Err(error).with_context(|| format!("creating the secrets key file {}", path.display()))
        }
    }
}

#[cfg(test)]
mod key_file_tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "a test looking at the file it made"
    )]
    fn a_key_file_is_created_private_and_read_back() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("store.db.key");
        let source = SecretsKeySource::File(path.clone());
        let created = source.load().expect("created");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(source.load().expect("read").to_hex(), created.to_hex());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        source.load().expect("read again");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "tightened");
        std::fs::write(&path, "not a key").expect("write");
        let error = source.load().expect_err("garbage").to_string();
        assert!(error.contains("store.db.key"), "{error}");
    }

    #[test]
    fn the_default_key_file_sits_beside_a_sqlite_store() {
        assert_eq!(
            SecretsKeySource::default_for("sqlite:///var/lib/orgdoor/o.db?mode=rwc"),
            SecretsKeySource::File(PathBuf::from("/var/lib/orgdoor/o.db.key"))
        );
        assert_eq!(
            SecretsKeySource::default_for("sqlite://orgdoor.db"),
            SecretsKeySource::File(PathBuf::from("orgdoor.db.key"))
        );
        assert_eq!(
            SecretsKeySource::default_for("postgres://db/orgdoor"),
            SecretsKeySource::File(PathBuf::from("orgdoor-secrets.key"))
        );
        assert!(SecretsKeySource::Hex("12".into()).load().is_err());
    }
}
