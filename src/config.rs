//! Settings the server runs with: plain data, built by the CLI in production and directly by
//! tests.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Context as _;
use orgdoor_domain::LinkToken;
use orgdoor_store::SecretsKey;
use secrecy::{ExposeSecret, SecretString};
use time::Duration;

use crate::transport::{ConnectionLimits, TlsFiles};

/// A URL that may carry a password (`scheme://user:password@host…`), which never reaches a
/// log line: `Debug` shows `scheme://***@host…`.
#[derive(Clone)]
pub struct SecretUrl(SecretString);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecretUrl {
    /// Keeps the scheme and location, not `user:password@`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.expose();
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                write!(f, "{}://***@{}", &url[..scheme_end], &url[at + 1..])
            }
            _ => f.write_str(url),
        }
    }
}

/// The store's URL (`sqlite://…`, `postgres://user:password@…`).
pub type DatabaseUrl = SecretUrl;

/// An SMTP server's URL (`smtp://[user:password@]host:port`, `?tls=required` for STARTTLS,
/// `smtps://` for TLS from the start).
pub type SmtpUrl = SecretUrl;

/// The base of the links in messages (`--public-url`): an `http` or `https` URL ending in `/`,
/// with no query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(Arc<str>);

impl PublicUrl {
    /// Reads a base URL; a missing final `/` is added.
    pub fn parse(text: &str) -> Result<Self, InvalidPublicUrl> {
        let rest = text
            .strip_prefix("http://")
            .or_else(|| text.strip_prefix("https://"))
            .ok_or(InvalidPublicUrl("it must start with http:// or https://"))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(InvalidPublicUrl("it names no host"));
        }
        if text.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '"' | '<' | '>' | '\\')
        }) {
            return Err(InvalidPublicUrl(
                "it may not hold white space, control characters, backslashes, a query or a fragment",
            ));
        }
        let with_slash = if text.ends_with('/') {
            text.to_owned()
        } else {
            format!("{text}/")
        };
        Ok(Self(with_slash.into()))
    }

    /// The server's own address, for when no public URL is given: loopback for a wildcard
    /// listen address.
    pub fn of_listener(mut address: SocketAddr, tls: bool) -> Self {
        if address.ip().is_unspecified() {
            address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let scheme = if tls { "https" } else { "http" };
        Self(format!("{scheme}://{address}/").into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The invitee's page for `token`.
    pub fn invitation_link(&self, token: &LinkToken) -> String {
        format!("{}invitations/{}", self.0, token.as_str())
    }
}

/// Why a `--public-url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a usable public URL: {0}")]
pub struct InvalidPublicUrl(&'static str);

/// How the worker delivers.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Where messages go; `None` keeps them in the outbox.
    pub smtp: Option<SmtpUrl>,
    /// PEM certificates trusted, besides the system's, for the SMTP server's TLS certificate
    /// (a private authority, a self-signed server).
    pub smtp_ca_file: Option<PathBuf>,
    /// The `From` of every message.
    pub from: String,
    /// How often the outbox is looked at when nothing wakes the worker (messages of other
    /// instances, retries falling due).
    pub poll_interval: StdDuration,
    /// The wait after a first failure; it doubles after each next one, up to `retry_ceiling`.
    pub retry_initial: Duration,
    pub retry_ceiling: Duration,
    /// How long a claimed message is this instance's alone; longer than one SMTP exchange.
    pub lease: Duration,
    /// The most one exchange with the SMTP server may take.
    pub smtp_timeout: StdDuration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            smtp: None,
            smtp_ca_file: None,
            from: "orgdoor <noreply@orgdoor.invalid>".into(),
            poll_interval: StdDuration::from_secs(2),
            retry_initial: Duration::seconds(5),
            retry_ceiling: Duration::minutes(10),
            lease: Duration::seconds(120),
            smtp_timeout: StdDuration::from_secs(30),
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
    /// The base of links in messages; the listen address when `None`.
    pub public_url: Option<PublicUrl>,
    pub delivery: DeliverySettings,
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
    fn a_store_in_memory_gets_a_key_that_is_never_written() {
        assert!(matches!(
            SecretsKeySource::default_for("sqlite::memory:"),
            SecretsKeySource::Fresh
        ));
        assert!(matches!(
            SecretsKeySource::default_for("sqlite:file:x?mode=memory&cache=shared"),
            SecretsKeySource::Fresh
        ));
        assert!(matches!(
            SecretsKeySource::default_for("sqlite://orgdoor.db"),
            SecretsKeySource::File(path) if path == std::path::Path::new("orgdoor.db.key")
        ));
    }

    #[test]
    fn public_urls_are_http_bases_ending_in_a_slash() {
        let url = PublicUrl::parse("https://invites.example.com/orgdoor").unwrap();
        assert_eq!(url.as_str(), "https://invites.example.com/orgdoor/");
        let token = LinkToken::parse(&"ab".repeat(32)).unwrap();
        assert_eq!(
            url.invitation_link(&token),
            format!(
                "https://invites.example.com/orgdoor/invitations/{}",
                "ab".repeat(32)
            )
        );
        assert_eq!(
            PublicUrl::parse("http://127.0.0.1:8080/").unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
        for refused in [
            "ftp://example.com/",
            "example.com",
            "http://",
            "http:///path",
            "http://example.com/?q=1",
            "http://example.com/#top",
            "http://exa mple.com/",
            "http://example.com/\n",
            "http://example.com/\"><script>",
            "http://example.com\\@evil.example/",
        ] {
            assert!(PublicUrl::parse(refused).is_err(), "{refused:?}");
        }
        assert_eq!(
            PublicUrl::of_listener("0.0.0.0:8080".parse().unwrap(), true).as_str(),
            "https://127.0.0.1:8080/"
        );
    }

    #[test]
    fn passwords_are_hidden_in_debug_output() {
        let url = DatabaseUrl::new("postgres://orgdoor:hunter2@db:5432/orgdoor");
        assert_eq!(format!("{url:?}"), "postgres://***@db:5432/orgdoor");
        let smtp = SmtpUrl::new("smtps://mailer:s3cret@mail.example.com:465");
        assert_eq!(format!("{smtp:?}"), "smtps://***@mail.example.com:465");
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
    /// A new random key, never written down: for a store in memory, which dies with it.
    Fresh,
}

impl SecretsKeySource {
    /// The default: a key file beside a SQLite store (`orgdoor.db.key`), or
    /// `orgdoor-secrets.key` in the working directory for a PostgreSQL store (instances that do
    /// not share a directory must be given the same key).
    pub fn default_for(database_url: &str) -> Self {
        if database_url.starts_with("sqlite:")
            && (database_url.contains(":memory:") || database_url.contains("mode=memory"))
        {
            return Self::Fresh;
        }
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
            Self::Fresh => Ok(SecretsKey::generate()),
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
