//! Seeding what the scenarios need: through the API where a client would (organizations, keys,
//! a service account and its token, a few invitations), and straight into the store's tables
//! for the large populations (100,000 or 1,000,000 invitations), which the API would take
//! minutes to create. Bulk rows are written as the store writes them: ids of 24 hex digits,
//! lower-cased address keys, UTC seconds.

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::Backend;
use crate::load::{Auth, request_once};

pub(crate) const V2023: &str = "application/vnd.atlas.2023-01-01+json";
pub(crate) const V2024: &str = "application/vnd.atlas.2024-08-05+json";

/// An organization the benchmark drives, and how to reach it.
#[derive(Debug, Clone)]
pub(crate) struct Org {
    pub(crate) id: String,
    pub(crate) digest: Auth,
}

/// Sends one authenticated request and insists on success; returns the JSON answer.
pub(crate) async fn call(
    address: &str,
    method: &str,
    path: &str,
    accept: &str,
    body: Option<Value>,
    auth: &Auth,
) -> anyhow::Result<Value> {
    let body = body.map(|body| body.to_string());
    let (status, text) = request_once(address, method, path, accept, body.as_deref(), auth).await?;
    if !status.is_success() {
        bail!("{method} {path}: {status} {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A new organization with its own Organization Owner key, made by `owner`'s organization.
pub(crate) async fn organization(address: &str, owner: &Auth, name: &str) -> anyhow::Result<Org> {
    let created = call(
        address,
        "POST",
        "/api/atlas/v2/orgs",
        V2023,
        Some(
            json!({"name": name, "orgOwnerId": "5f0000000000000000000001",
                     "apiKey": {"desc": "bench", "roles": ["ORG_OWNER"]}}),
        ),
        owner,
    )
    .await?;
    let text = |pointer: &str| {
        created
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no {pointer} in {created}"))
    };
    Ok(Org {
        id: text("/organization/id")?,
        digest: Auth::DigestReuse {
            user: text("/apiKey/publicKey")?,
            password: text("/apiKey/privateKey")?,
        },
    })
}

/// The path of the invitee's page for the newest invitation message of `org`'s outbox.
pub(crate) async fn invitation_page(address: &str, org: &Org) -> anyhow::Result<String> {
    let outbox = call(
        address,
        "GET",
        &format!("/api/orgdoor/v1/orgs/{}/outbox?itemsPerPage=1", org.id),
        "application/json",
        None,
        &org.digest,
    )
    .await?;
    let link = outbox
        .pointer("/results/0/acceptUrl")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("no message in the outbox: {outbox}"))?;
    let start = link
        .find("/invitations/")
        .ok_or_else(|| anyhow!("not an invitation link: {link}"))?;
    Ok(link[start..].to_owned())
}

/// A Bearer token of a new Organization Owner service account.
pub(crate) async fn bearer_token(address: &str, org: &Org) -> anyhow::Result<String> {
    let account = call(
        address,
        "POST",
        &format!("/api/atlas/v2/orgs/{}/serviceAccounts", org.id),
        V2024,
        Some(
            json!({"name": "bench", "description": "bench", "roles": ["ORG_OWNER"],
                     "secretExpiresAfterHours": 24}),
        ),
        &org.digest,
    )
    .await?;
    let client_id = account["clientId"]
        .as_str()
        .ok_or_else(|| anyhow!("no clientId"))?;
    let secret = account["secrets"][0]["secret"]
        .as_str()
        .ok_or_else(|| anyhow!("no secret"))?;
    let (status, text) = request_once(
        address,
        "POST",
        "/api/oauth/token",
        "application/json",
        Some("grant_type=client_credentials"),
        &Auth::Basic {
            user: client_id.to_owned(),
            password: secret.to_owned(),
        },
    )
    .await?;
    if !status.is_success() {
        bail!("token: {status} {text}");
    }
    let token: Value = serde_json::from_str(&text)?;
    token["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no access_token in {text}"))
}

/// Invites `count` addresses `prefix{i}@example.com` through the API; returns the last id.
pub(crate) async fn invitations(
    address: &str,
    org: &Org,
    prefix: &str,
    count: usize,
) -> anyhow::Result<String> {
    let mut last = String::new();
    for i in 0..count {
        let invitation = call(
            address,
            "POST",
            &format!("/api/atlas/v2/orgs/{}/invites", org.id),
            V2023,
            Some(json!({"username": format!("{prefix}{i}@example.com"), "roles": ["ORG_MEMBER"]})),
            &org.digest,
        )
        .await?;
        last = invitation["id"].as_str().unwrap_or_default().to_owned();
    }
    Ok(last)
}

/// Writes `count` pending invitations into `org` straight into the store, numbered from
/// `first` (so several batches never collide).
pub(crate) async fn bulk_invitations(
    backend: Backend,
    database_url: &str,
    org: &str,
    first: u64,
    count: u64,
) -> anyhow::Result<()> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expires = now + 30 * 24 * 3600;
    let last = first + count - 1;
    match backend {
        Backend::Sqlite => {
            let mut connection = sqlx::SqliteConnection::connect(database_url).await?;
            sqlx::query(
                "WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
                 INSERT INTO invitations (id, user_id, org_id, username, username_key, roles, \
                     inviter_username, created_at, expires_at) \
                 SELECT printf('%024x', i), printf('1%023x', i), $3, \
                     'bulk' || i || '@example.com', 'bulk' || i || '@example.com', 'ORG_MEMBER', \
                     'bench', $4, $5 FROM n",
            )
            .bind(i64::try_from(first)?)
            .bind(i64::try_from(last)?)
            .bind(org)
            .bind(now)
            .bind(expires)
            .execute(&mut connection)
            .await
            .context("bulk invitations (SQLite)")?;
            // Fold the inserted pages into the database file now, not during a measurement.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut connection)
                .await?;
        }
        Backend::Postgres => {
            let mut connection = sqlx::PgConnection::connect(database_url).await?;
            sqlx::query(
                "INSERT INTO invitations (id, user_id, org_id, username, username_key, roles, \
                     inviter_username, created_at, expires_at) \
                 SELECT lpad(to_hex(i), 24, '0'), '1' || lpad(to_hex(i), 23, '0'), $3, \
                     'bulk' || i || '@example.com', 'bulk' || i || '@example.com', 'ORG_MEMBER', \
                     'bench', $4, $5 FROM generate_series($1::bigint, $2::bigint) AS i",
            )
            .bind(i64::try_from(first)?)
            .bind(i64::try_from(last)?)
            .bind(org)
            .bind(now)
            .bind(expires)
            .execute(&mut connection)
            .await
            .context("bulk invitations (PostgreSQL)")?;
            // Vacuum the inserted rows and write them back now, not during a measurement: a
            // million inserts set autovacuum going (PostgreSQL 13+ vacuums after inserts
            // too) and fill the WAL until a checkpoint writes them out, and on two cores
            // either would take from the scenarios measured next. (SQLite's branch folds its
            // WAL alike.)
            // Two messages: several statements in one run in a transaction, where `VACUUM`
            // may not.
            for statement in ["VACUUM (ANALYZE) invitations", "CHECKPOINT"] {
                sqlx::raw_sql(statement).execute(&mut connection).await?;
            }
        }
    }
    Ok(())
}

/// A fresh PostgreSQL database on the server `admin_url` names; returns its URL.
pub(crate) async fn postgres_database(admin_url: &str) -> anyhow::Result<String> {
    let name = format!(
        "orgdoor_bench_{}",
        time::OffsetDateTime::now_utc().unix_timestamp()
    );
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("PostgreSQL at {admin_url}"))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let (base, _) = admin_url
        .rsplit_once('/')
        .ok_or_else(|| anyhow!("no database in {admin_url}"))?;
    Ok(format!("{base}/{name}"))
}

/// Drops a database made by [`postgres_database`].
pub(crate) async fn drop_postgres_database(admin_url: &str, url: &str) -> anyhow::Result<()> {
    let name = url.rsplit('/').next().unwrap_or_default();
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    Ok(())
}
