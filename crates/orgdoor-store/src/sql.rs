//! The small abstraction the queries are written against, once for both databases.
//!
//! SQLite and PostgreSQL read the same statements (`$1`-style parameters, `ON CONFLICT`,
//! `RETURNING`). What differs is a handful of fragments — the row lock `FOR UPDATE` that
//! PostgreSQL needs for read-modify-write (SQLite's `BEGIN IMMEDIATE` already serializes
//! writers), the JSON functions — and how connections and write transactions are had. A
//! [`Connection`] carries the fragments and runs statements; a [`Backend`] hands out
//! connections. The aggregate modules (`organizations`, `invitations`, …) implement the store's
//! traits once, for every backend.
//!
//! The bounds sqlx needs to run a query differ by database; [`Param`] and [`Record`] name, once,
//! what a value bound or a row read must satisfy on *both*, so the shared code never spells out
//! sqlx's generic executor bounds.

use std::future::Future;
use std::ops::DerefMut;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use sqlx::postgres::{PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{Decode, Encode, FromRow, Type};

use crate::StoreError;
use crate::sealing::Sealer;

/// A statement with its parameters bound so far, as sqlx runs it.
pub(crate) type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>;

/// A value that can be bound to a statement parameter on both databases.
pub(crate) trait Param<'q>:
    Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres> + Send + 'q
{
}

impl<'q, T> Param<'q> for T where
    T: Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres> + Send + 'q
{
}

/// What a row is read into on both databases, through sqlx or on the SQLite writer's own
/// connection (the `rows` structs, tuples of columns).
pub(crate) trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + FromWriterRow + Send + Unpin
{
}

impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + FromWriterRow + Send + Unpin
{
}

/// Reads a row of the SQLite writer's connection (rusqlite), which sqlx's `FromRow` cannot
/// read: by column name, as the derived `FromRow` does.
pub(crate) trait FromWriterRow: Sized {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

impl<A: rusqlite::types::FromSql> FromWriterRow for (A,) {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?,))
    }
}

impl<A: rusqlite::types::FromSql, B: rusqlite::types::FromSql> FromWriterRow for (A, B) {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?))
    }
}

impl<A, B, C> FromWriterRow for (A, B, C)
where
    A: rusqlite::types::FromSql,
    B: rusqlite::types::FromSql,
    C: rusqlite::types::FromSql,
{
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    }
}

impl<A, B, C, D> FromWriterRow for (A, B, C, D)
where
    A: rusqlite::types::FromSql,
    B: rusqlite::types::FromSql,
    C: rusqlite::types::FromSql,
    D: rusqlite::types::FromSql,
{
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
    }
}

/// A column value read on its own (`SELECT COUNT(*)`, `SELECT id …`).
pub(crate) trait Scalar:
    for<'r> Decode<'r, Sqlite>
    + Type<Sqlite>
    + for<'r> Decode<'r, Postgres>
    + Type<Postgres>
    + rusqlite::types::FromSql
    + Send
    + Unpin
{
}

impl<T> Scalar for T where
    T: for<'r> Decode<'r, Sqlite>
        + Type<Sqlite>
        + for<'r> Decode<'r, Postgres>
        + Type<Postgres>
        + rusqlite::types::FromSql
        + Send
        + Unpin
{
}

/// A database connection as the queries see it: the dialect's fragments and four ways to run a
/// statement. Every method is one round trip.
pub(crate) trait Connection: Send + Sized + 'static {
    /// A statement with its parameters bound so far.
    type Query<'q>: Send;

    /// Appended to a `SELECT` that reads a row the transaction will change.
    const LOCK_ROWS: &'static str;
    /// Run before looking for any organization when only one instance may create the first.
    const LOCK_ORGANIZATIONS: Option<&'static str>;
    /// Appended to a subquery choosing rows to claim: skip those another transaction holds.
    const SKIP_LOCKED: &'static str;
    /// Follows a text column in `ORDER BY` so that it sorts by bytes, as lists always have,
    /// whatever collation the database was created with.
    const BYTE_ORDER: &'static str;
    /// Builds a JSON array of its arguments.
    const JSON_ARRAY: &'static str;
    /// Aggregates rows into a JSON array.
    const JSON_AGG: &'static str;
    /// Keeps a subquery's JSON as JSON when it is nested in another (SQLite turns it into text).
    const JSON_NESTED: &'static str;
    /// Names every table of the store's schema, one per row.
    const LIST_TABLES: &'static str;
    /// Whether a `WITH` clause may hold `INSERT`, `UPDATE` and `DELETE` (PostgreSQL's may,
    /// SQLite's may not): then a use case of several writes can be one statement.
    const DATA_MODIFYING_WITH: bool;
    /// Records `$1` in `org_changes` as changed.
    const RECORD_ORG_CHANGE: &'static str;
    /// Given `$1`, the cursor of the last reading (or NULL), reads the credential generation,
    /// a cursor for this reading, and the comma-separated ids of the organizations recorded
    /// as changed after `$1` (NULL when there are none).
    const READ_CHANGES: &'static str;
    /// Given `$1`, a cursor, deletes the records of changes that committed before it; `None`
    /// where the record needs no pruning.
    const PRUNE_CHANGES: Option<&'static str>;

    /// Statements that empty `tables` in one transaction, whichever references which.
    fn empty_tables(tables: &[&str]) -> Vec<String>;

    /// `sql`, with no parameter bound yet.
    fn prepare(sql: &str) -> Self::Query<'_>;

    fn bind<'q, T: Param<'q>>(query: Self::Query<'q>, value: T) -> Self::Query<'q>;

    /// Runs a statement; answers the number of rows it changed.
    fn execute<'q>(
        &mut self,
        query: Self::Query<'q>,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    fn fetch_all<'q, R: Record>(
        &mut self,
        query: Self::Query<'q>,
    ) -> impl Future<Output = Result<Vec<R>, sqlx::Error>> + Send;

    fn fetch_optional<'q, R: Record>(
        &mut self,
        query: Self::Query<'q>,
    ) -> impl Future<Output = Result<Option<R>, sqlx::Error>> + Send;

    /// Gives back buffers grown to hold one large result.
    fn shrink_buffers(&mut self);

    /// This dialect's statements that are built once (see [`StatementCache`]).
    fn statement_cache() -> &'static StatementCache;

    /// Starts a statement on this connection.
    fn query<'q>(&mut self, sql: &'q str) -> Statement<'q, '_, Self> {
        Statement {
            connection: self,
            query: Self::prepare(sql),
        }
    }
}

/// Statements of the most frequent requests whose text depends on the dialect, built on first
/// use, once per dialect.
pub(crate) struct StatementCache {
    /// An organization with its pending invitations.
    pub(crate) pending_invitations: OnceLock<String>,
    /// An organization with its pending invitation to one address.
    pub(crate) pending_invitation_to: OnceLock<String>,
    /// Inviting in one statement (`tables::invitations::invite_at_once`), without and with
    /// a letter.
    pub(crate) invite: OnceLock<String>,
    pub(crate) invite_with_letter: OnceLock<String>,
}

impl StatementCache {
    pub(crate) const fn new() -> Self {
        Self {
            pending_invitations: OnceLock::new(),
            pending_invitation_to: OnceLock::new(),
            invite: OnceLock::new(),
            invite_with_letter: OnceLock::new(),
        }
    }
}

/// A statement being bound, run on the connection it was started on.
pub(crate) struct Statement<'q, 'c, C: Connection> {
    connection: &'c mut C,
    query: C::Query<'q>,
}

impl<'q, C: Connection> Statement<'q, '_, C> {
    pub(crate) fn bind<T: Param<'q>>(mut self, value: T) -> Self {
        self.query = C::bind(self.query, value);
        self
    }

    /// Runs it; answers the number of rows it changed.
    pub(crate) async fn execute(self) -> Result<u64, sqlx::Error> {
        self.connection.execute(self.query).await
    }

    pub(crate) async fn fetch_all<R: Record>(self) -> Result<Vec<R>, sqlx::Error> {
        self.connection.fetch_all(self.query).await
    }

    pub(crate) async fn fetch_optional<R: Record>(self) -> Result<Option<R>, sqlx::Error> {
        self.connection.fetch_optional(self.query).await
    }

    /// The one row the statement answers (`RowNotFound` for none).
    pub(crate) async fn fetch_one<R: Record>(self) -> Result<R, sqlx::Error> {
        self.fetch_optional().await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// The first column of the row the statement answers, if it answers one.
    pub(crate) async fn fetch_optional_scalar<T: Scalar>(self) -> Result<Option<T>, sqlx::Error>
    where
        (T,): Record,
    {
        Ok(self.fetch_optional::<(T,)>().await?.map(|(value,)| value))
    }

    /// The first column of the one row the statement answers.
    pub(crate) async fn fetch_scalar<T: Scalar>(self) -> Result<T, sqlx::Error>
    where
        (T,): Record,
    {
        Ok(self.fetch_one::<(T,)>().await?.0)
    }

    /// The first column of every row.
    pub(crate) async fn fetch_all_scalars<T: Scalar>(self) -> Result<Vec<T>, sqlx::Error>
    where
        (T,): Record,
    {
        let rows: Vec<(T,)> = self.fetch_all().await?;
        Ok(rows.into_iter().map(|(value,)| value).collect())
    }
}

/// What a write transaction does with its connection: a use case's statements and the
/// decisions between them, as one unit of work the backend runs where its writes run.
pub(crate) type WriteWork<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

/// Where a store gets its connections: one to read with (no transaction; each statement sees
/// committed data), a read snapshot, or a write transaction run where the backend runs its
/// writes. Implemented by
/// [`crate::SqliteStore`] and [`crate::PostgresStore`]; the store's traits are implemented once
/// for every backend.
pub(crate) trait Backend: Send + Sync + 'static {
    type Connection: Connection;
    /// The connection write transactions run on; the same kind as [`Self::Connection`]
    /// except on SQLite, whose writer has a connection of its own (see `sqlite::writer`).
    type WriteConnection: Connection;
    type Reader<'a>: DerefMut<Target = Self::Connection> + Send
    where
        Self: 'a;
    type Snapshot<'a>: DerefMut<Target = Self::Connection> + Send
    where
        Self: 'a;

    fn read(&self) -> impl Future<Output = Result<Self::Reader<'_>, StoreError>> + Send;

    /// The connection kept for reading what changed in the store. Not from the pool requests
    /// share: when slow reads hold all of those, the readings that keep what is held in memory
    /// fresh would wait behind them, everything held would go stale, and every request would
    /// go to the store, holding the pool longer still.
    fn follow(&self) -> impl Future<Output = Result<Self::Reader<'_>, StoreError>> + Send;

    /// A read-only transaction whose statements all see one state of the store, for a result
    /// that several statements build; rolled back when dropped.
    fn read_snapshot(&self) -> impl Future<Output = Result<Self::Snapshot<'_>, StoreError>> + Send;

    /// Runs `work` in one write transaction and answers once what it wrote is committed;
    /// nothing of it is kept if it fails, and a caller that stops waiting leaves it whole or
    /// undone, never half-written. `work` owns what it needs (`'static`), so a backend can run
    /// the whole use case where its writes run, in one hand-off, rather than statement by
    /// statement from the caller's task. On SQLite, `work` must await nothing but its
    /// connection.
    fn write_transaction<T, F>(
        &self,
        work: F,
    ) -> impl Future<Output = Result<T, StoreError>> + Send
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Self::WriteConnection) -> WriteWork<'c, T> + Send + 'static;

    /// Runs `work`, which writes with one statement, as [`Self::write_transaction`] runs a
    /// transaction. Where one statement is a transaction by itself (PostgreSQL), it runs
    /// without `BEGIN` and `COMMIT`: one round trip instead of three.
    fn write_statement<T, F>(&self, work: F) -> impl Future<Output = Result<T, StoreError>> + Send
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Self::WriteConnection) -> WriteWork<'c, T> + Send + 'static,
    {
        self.write_transaction(work)
    }

    /// Seals and opens the secrets kept in the store.
    fn sealer(&self) -> &Arc<Sealer>;
}

/// The values of a statement whose conditions are built at run time: each one added gives the
/// placeholder (`$1`, `$2`, …) to write where it goes.
#[derive(Debug, Default)]
pub(crate) struct Parameters(Vec<Parameter>);

#[derive(Debug)]
enum Parameter {
    Text(String),
    Number(i64),
}

impl Parameters {
    pub(crate) fn text(&mut self, value: impl Into<String>) -> String {
        self.push(Parameter::Text(value.into()))
    }

    pub(crate) fn number(&mut self, value: i64) -> String {
        self.push(Parameter::Number(value))
    }

    /// The placeholders of `values`, comma-separated, for an `IN (…)` list.
    pub(crate) fn texts<'v>(&mut self, values: impl IntoIterator<Item = &'v str>) -> String {
        let placeholders: Vec<String> = values.into_iter().map(|value| self.text(value)).collect();
        placeholders.join(", ")
    }

    fn push(&mut self, parameter: Parameter) -> String {
        self.0.push(parameter);
        format!("${}", self.0.len())
    }

    /// Binds every value, in the order they were added.
    pub(crate) fn bind<'q, 'c, C: Connection>(
        &self,
        mut statement: Statement<'q, 'c, C>,
    ) -> Statement<'q, 'c, C> {
        for parameter in &self.0 {
            statement = match parameter {
                Parameter::Text(text) => statement.bind(text.clone()),
                Parameter::Number(number) => statement.bind(*number),
            };
        }
        statement
    }
}
