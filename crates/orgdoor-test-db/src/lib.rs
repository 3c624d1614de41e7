//! Throwaway databases for tests, one per test: a SQLite file in a temporary directory, or a
//! fresh schema in the PostgreSQL test database (`ORGDOOR_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`). A test that cannot reach PostgreSQL fails; it
//! never skips.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use sqlx::{Connection, PgConnection};
use tempfile::TempDir;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA_PREFIX: &str = "t_";
/// Schemas older than this are left over from earlier runs and are dropped.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL that lives as long as this value (the SQLite file's directory does).
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    _dir: Option<TempDir>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres().await,
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("orgdoor.db").display());
        Self {
            backend: Backend::Sqlite,
            url,
            _dir: Some(dir),
        }
    }

    /// A new, empty schema; the URL makes it the connection's `search_path`.
    pub async fn postgres() -> Self {
        let admin_url = postgres_url();
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "PostgreSQL is not reachable at {admin_url} ({error}); scripts/test starts one"
                )
            });
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        sweep_stale_schemas(&mut admin, now).await;
        let schema = format!(
            "{SCHEMA_PREFIX}{}_{:016x}",
            now.as_secs(),
            rand::rng().random::<u64>()
        );
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|error| panic!("creating schema {schema}: {error}"));
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
        Self {
            backend: Backend::Postgres,
            url,
            _dir: None,
        }
    }
}

/// The PostgreSQL server tests use.
pub fn postgres_url() -> String {
    std::env::var("ORGDOOR_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// Drops test schemas left by runs that ended more than [`STALE_AFTER`] ago.
async fn sweep_stale_schemas(admin: &mut PgConnection, now: Duration) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    let cutoff = now.saturating_sub(STALE_AFTER).as_secs();
    for name in names {
        let created = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|created| created < cutoff) {
            // Another process may sweep the same schema at the same time; either drop wins.
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .execute(&mut *admin)
                .await;
        }
    }
}
