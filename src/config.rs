//! Settings the server runs with: plain data, built by the CLI in production and directly by
//! tests.

use std::fmt;
use std::net::SocketAddr;

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
    pub connection_limits: ConnectionLimits,
    /// HTTPS when set, else plain HTTP.
    pub tls: Option<TlsFiles>,
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
