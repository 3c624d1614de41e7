//! The SQLite writer: one thread owns the store's write connection and runs every write use
//! case on it whole — its statements and the decisions between them — so a write costs one
//! hand-off between the request's task and the connection, not two per statement (which is
//! what running statements through sqlx's worker thread costs, and was most of a write's time).
//!
//! Writes that queue while one runs share one `BEGIN IMMEDIATE … COMMIT` (group commit): a
//! commit writes every page its transaction dirtied to the WAL, and consecutive invitations
//! dirty mostly the same pages, so one commit for many writes each of them once. Each write
//! runs in a savepoint of its own; one that fails is undone alone. Every write is answered only
//! after the commit it shared, with that commit's outcome, so an answered write is durable.
//!
//! A caller that stops waiting cannot leave a write half-done: the thread runs a use case to
//! its end or, if the caller left before it started, not at all.
//!
//! The connection is rusqlite's, on the same file and the same SQLite library as sqlx's
//! readers. Statements are written once for both databases against [`Connection`]; here they
//! run synchronously, so a use case's future is ready the first time it is polled.

use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSql, ToSqlOutput, Value, ValueRef};
use rusqlite::{OpenFlags, ffi};
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::sqlite::{Sqlite, SqliteArgumentValue, SqliteConnection};
use sqlx::{Encode, encode::IsNull};
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::audit::{self, AuditContext};
use crate::metrics::{SHARED_COMMIT_WRITES, Wait, record_wait};
use crate::sql::{Connection, Param, Record, StatementCache, WriteWork};

/// The most writes one transaction takes before it commits, so a steady stream of writes is
/// still answered in bounded time.
pub(crate) const MAX_MEMBERS: usize = 64;
/// Writes waiting for the thread at most; a request that finds the queue full waits for room
/// (its own timeout bounds that), so memory held by queued writes is bounded.
const QUEUED_WRITES: usize = 1024;
/// Statements kept prepared on the writer's connection.
const PREPARED_STATEMENTS: usize = 256;

/// The savepoint a write runs in. One name serves all: writes run one after another, and each
/// one's savepoint is released or undone before the next starts.
const SAVEPOINT: &str = "SAVEPOINT member";
const RELEASE: &str = "RELEASE member";
const ROLLBACK_TO: &str = "ROLLBACK TO member";
/// A write that defers its foreign keys (a reset does) switches that off again before it ends;
/// one that failed on the way may not have, and the writes after it in the transaction must
/// not inherit it. Only then is it run: setting a pragma flag expires every prepared statement
/// of the connection, and each would be compiled again.
const CHECK_FOREIGN_KEYS_NOW: &str = "PRAGMA defer_foreign_keys = OFF";

/// Hands write use cases to the writer thread. Dropping it lets the thread answer the writes
/// queued before, close its connection and end, and waits for that.
pub(crate) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    busy_timeout: Duration,
    /// Transactions committed, for tests.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by tests"))]
    commits: Arc<AtomicU64>,
}

/// A write waiting for the thread.
trait Job: Send {
    /// Whether its caller stopped waiting: it is then not run at all.
    fn abandoned(&self) -> bool;

    /// Runs the use case in the open transaction and says whether it succeeded, with what
    /// answers its caller once the transaction has ended.
    fn run(self: Box<Self>, connection: &mut WriterConnection) -> Ran;

    /// Answers without running: no transaction could begin.
    fn refuse(self: Box<Self>, failure: CommitFailure);
}

struct Ran {
    succeeded: bool,
    answer: Box<dyn FnOnce(Result<(), CommitFailure>) + Send>,
}

/// A use case and where its answer goes.
struct Pending<T, F> {
    work: F,
    /// The request's actor: it travels with its task, and the thread runs the use case as them.
    context: AuditContext,
    asked: Instant,
    answer: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut WriterConnection) -> WriteWork<'c, T> + Send + 'static,
{
    fn abandoned(&self) -> bool {
        self.answer.is_closed()
    }

    fn run(self: Box<Self>, connection: &mut WriterConnection) -> Ran {
        let Pending {
            work,
            context,
            asked,
            answer,
        } = *self;
        record_wait(BACKEND, Wait::Transaction, asked.elapsed());
        if answer.is_closed() {
            return Ran {
                succeeded: true,
                answer: Box::new(|_| {}),
            };
        }
        let outcome = run_to_end(connection, context, work);
        Ran {
            succeeded: outcome.is_ok(),
            answer: Box::new(move |committed| {
                let reply = match (outcome, committed) {
                    (Ok(done), Ok(())) => Ok(done),
                    (Ok(_), Err(failure)) => Err(failure.into_error()),
                    (Err(error), _) => Err(error),
                };
                let _ = answer.send(reply);
            }),
        }
    }

    fn refuse(self: Box<Self>, failure: CommitFailure) {
        record_wait(BACKEND, Wait::Transaction, self.asked.elapsed());
        let _ = self.answer.send(Err(failure.into_error()));
    }
}

impl Writer {
    /// Opens the writer's connection to the file at `path` and starts its thread.
    pub(crate) fn start(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        let connection = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(unavailable)?;
        connection.busy_timeout(busy_timeout).map_err(unavailable)?;
        connection.set_prepared_statement_cache_capacity(PREPARED_STATEMENTS);
        // As the readers have it (`SqliteStore::connect`): WAL, which keeps every committed
        // transaction across a crash of the process with `synchronous=NORMAL`; foreign keys
        // enforced; a savepoint's sub-journal kept in memory.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
            )
            .map_err(unavailable)?;
        let (jobs, queue) = mpsc::channel(QUEUED_WRITES);
        let commits = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&commits);
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(WriterConnection { connection }, queue, &counted))
            .map_err(|error| StoreError::Unavailable(sqlx::Error::Io(error)))?;
        Ok(Self {
            jobs,
            thread: Some(thread),
            busy_timeout,
            commits,
        })
    }

    /// How many transactions the writer has committed.
    #[cfg(test)]
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `work` on the writer thread in the transaction writes share, and answers once that
    /// transaction has committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut WriterConnection) -> WriteWork<'c, T> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job = Box::new(Pending {
            work,
            context: audit::current(),
            asked: Instant::now(),
            answer,
        });
        match tokio::time::timeout(self.busy_timeout, self.jobs.send(job)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(stopped()),
            Err(_) => return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
        }
        answered.await.unwrap_or_else(|_| Err(stopped()))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has answered what is queued.
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.jobs, closed));
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the SQLite writer's thread ended in a panic");
        }
    }
}

/// What a write is told when the writer's thread is gone.
fn stopped() -> StoreError {
    StoreError::Unavailable(sqlx::Error::PoolClosed)
}

/// The `backend` label of this store's metrics.
const BACKEND: &str = "sqlite";

/// Runs a use case's future to its end on this thread, as `context`'s actor. Its statements
/// run as they are called, so it never waits; a use case that awaits anything else is a bug,
/// reported as an error rather than left hanging. So is a panic: the write is undone and the
/// thread goes on.
fn run_to_end<T, F>(
    connection: &mut WriterConnection,
    context: AuditContext,
    work: F,
) -> Result<T, StoreError>
where
    F: for<'c> FnOnce(&'c mut WriterConnection) -> WriteWork<'c, T>,
{
    let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
        audit::sync_scope(context, || {
            let mut future = pin!(work(connection));
            match future
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
            {
                Poll::Ready(outcome) => outcome,
                Poll::Pending => Err(StoreError::Corrupt(
                    "a write waited for something other than its connection".into(),
                )),
            }
        })
    }));
    polled.unwrap_or_else(|_| Err(StoreError::Corrupt("a write failed unexpectedly".into())))
}

/// The thread: takes the first write that comes, opens a transaction for it, lets the writes
/// that queued meanwhile join (up to [`MAX_MEMBERS`]), commits, answers them all.
fn run(
    mut connection: WriterConnection,
    mut queue: mpsc::Receiver<Box<dyn Job>>,
    commits: &AtomicU64,
) {
    while let Some(first) = queue.blocking_recv() {
        if first.abandoned() {
            continue;
        }
        connection.end_any_transaction();
        if let Err(error) = connection.run_plain("BEGIN IMMEDIATE") {
            // The file is locked elsewhere beyond the busy timeout (or broken): the writes
            // queued now would each wait as long again, so they are refused with this one.
            // Only those: a write queued while they are answered (its caller may have seen the
            // lock let go) gets a transaction of its own.
            let failure = CommitFailure::of(&error);
            let queued_now = queue.len();
            first.refuse(failure.clone());
            for _ in 0..queued_now {
                if let Ok(queued) = queue.try_recv() {
                    queued.refuse(failure.clone());
                }
            }
            continue;
        }
        let mut answers = Vec::new();
        let mut next = Some(first);
        let mut broken = None;
        while let Some(job) = next.take() {
            match connection.run_member(job) {
                Ok(ran) => answers.push(ran.answer),
                Err((ran, error)) => {
                    answers.push(ran.answer);
                    broken = Some(CommitFailure::of(&error));
                    break;
                }
            }
            if answers.len() < MAX_MEMBERS {
                next = queue.try_recv().ok();
            }
        }
        let outcome = match broken {
            Some(failure) => Err(failure),
            None => connection
                .run_plain("COMMIT")
                .map_err(|error| CommitFailure::of(&error)),
        };
        // A failed COMMIT, or a write that broke the transaction, may leave it open.
        connection.end_any_transaction();
        if outcome.is_ok() {
            commits.fetch_add(1, Ordering::Relaxed);
            metrics::histogram!(SHARED_COMMIT_WRITES).record(answers.len() as f64);
        }
        for answer in answers {
            answer(outcome.clone());
        }
    }
}

/// Why a shared transaction did not commit, given to each of its writes.
#[derive(Debug, Clone)]
struct CommitFailure {
    code: i32,
    message: String,
}

impl CommitFailure {
    fn of(error: &rusqlite::Error) -> Self {
        match error {
            rusqlite::Error::SqliteFailure(failure, message) => Self {
                code: failure.extended_code,
                message: message.clone().unwrap_or_else(|| failure.to_string()),
            },
            other => Self {
                code: ffi::SQLITE_ERROR,
                message: other.to_string(),
            },
        }
    }

    fn into_error(self) -> StoreError {
        StoreError::from(sqlx::Error::Database(Box::new(WriterError {
            code: self.code,
            message: self.message,
        })))
    }
}

/// A failure SQLite reported on the writer's connection, as sqlx reports one on its own, so
/// that the store tells a constraint, a busy file and a broken one apart the same way.
#[derive(Debug)]
struct WriterError {
    /// SQLite's extended result code.
    code: i32,
    message: String,
}

impl std::fmt::Display for WriterError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for WriterError {}

impl DatabaseError for WriterError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// A rusqlite failure as the sqlx error the queries expect.
fn sqlx_error(error: rusqlite::Error) -> sqlx::Error {
    match error {
        rusqlite::Error::QueryReturnedNoRows => sqlx::Error::RowNotFound,
        rusqlite::Error::SqliteFailure(..) => {
            let CommitFailure { code, message } = CommitFailure::of(&error);
            sqlx::Error::Database(Box::new(WriterError { code, message }))
        }
        other => sqlx::Error::Decode(Box::new(other)),
    }
}

fn unavailable(error: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(sqlx_error(error))
}

/// The writer thread's connection, as the queries see it.
pub(crate) struct WriterConnection {
    connection: rusqlite::Connection,
}

impl WriterConnection {
    /// Rolls back a transaction left open, so that the next can begin.
    fn end_any_transaction(&self) {
        if !self.connection.is_autocommit()
            && let Err(error) = self.run_plain("ROLLBACK")
        {
            tracing::error!(%error, "the SQLite writer could not roll back");
        }
    }

    /// Runs a statement that takes no parameters and answers no rows.
    fn run_plain(&self, sql: &str) -> rusqlite::Result<()> {
        self.connection.prepare_cached(sql)?.raw_execute().map(drop)
    }

    /// Runs one write in a savepoint of the open transaction: kept if it succeeds, undone if
    /// it fails. `Err` when the transaction itself broke (SQLite rolled it back, or a
    /// savepoint statement failed), which takes the writes before with it.
    fn run_member(&mut self, job: Box<dyn Job>) -> Result<Ran, (Ran, rusqlite::Error)> {
        if let Err(error) = self.run_plain(SAVEPOINT) {
            let failure = CommitFailure::of(&error);
            job.refuse(failure);
            let refused = Ran {
                succeeded: false,
                answer: Box::new(|_| {}),
            };
            return Err((refused, error));
        }
        let ran = job.run(self);
        if self.connection.is_autocommit() {
            // SQLite rolled the whole transaction back (a full disk, an I/O error).
            let error = rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_ABORT),
                Some("the shared transaction was rolled back".into()),
            );
            return Err((ran, error));
        }
        let ended = if ran.succeeded {
            self.run_plain(RELEASE)
        } else {
            self.run_plain(ROLLBACK_TO)
                .and_then(|()| self.run_plain(RELEASE))
                .and_then(|()| self.run_plain(CHECK_FOREIGN_KEYS_NOW))
        };
        match ended {
            Ok(()) => Ok(ran),
            Err(error) => Err((ran, error)),
        }
    }

    /// Prepares `query` (kept prepared for the next time) and binds its parameters by number,
    /// as sqlx does: `$n` takes the n-th value bound, wherever and however often it appears.
    fn prepared<'c>(
        &'c self,
        query: &WriterQuery<'_>,
    ) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
        if let Some(failure) = &query.failure {
            return Err(rusqlite::Error::ToSqlConversionFailure(
                failure.to_string().into(),
            ));
        }
        if self.connection.is_autocommit() {
            // SQLite rolled the write's transaction back: what follows must not commit alone.
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_ABORT),
                Some("the transaction was rolled back".into()),
            ));
        }
        let mut statement = self.connection.prepare_cached(query.sql)?;
        for index in 1..=statement.parameter_count() {
            let position = statement
                .parameter_name(index)
                .and_then(|name| name.strip_prefix('$'))
                .and_then(|number| number.parse::<usize>().ok())
                .unwrap_or(index);
            match query.arguments.get(position.wrapping_sub(1)) {
                Some(argument) => statement.raw_bind_parameter(index, Argument(argument))?,
                // As sqlx: a parameter given no value is NULL.
                None => statement.raw_bind_parameter(index, Value::Null)?,
            }
        }
        Ok(statement)
    }

    fn rows<R: Record>(&self, query: &WriterQuery<'_>, limit: usize) -> rusqlite::Result<Vec<R>> {
        let mut statement = self.prepared(query)?;
        let mut rows = statement.raw_query();
        let mut read = Vec::new();
        while let Some(row) = rows.next()? {
            if read.len() < limit {
                read.push(R::from_writer_row(row)?);
            }
        }
        Ok(read)
    }
}

/// A statement and the values bound to it so far, encoded as sqlx encodes them for SQLite.
pub(crate) struct WriterQuery<'q> {
    sql: &'q str,
    arguments: Vec<SqliteArgumentValue<'q>>,
    /// A value that could not be encoded; the statement fails with it when run.
    failure: Option<String>,
}

/// One bound value, handed to rusqlite.
struct Argument<'a>(&'a SqliteArgumentValue<'a>);

impl ToSql for Argument<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            SqliteArgumentValue::Null => ToSqlOutput::Owned(Value::Null),
            SqliteArgumentValue::Text(text) => {
                ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes()))
            }
            SqliteArgumentValue::Blob(blob) => ToSqlOutput::Borrowed(ValueRef::Blob(blob)),
            SqliteArgumentValue::Double(number) => ToSqlOutput::Owned(Value::Real(*number)),
            SqliteArgumentValue::Int(number) => {
                ToSqlOutput::Owned(Value::Integer(i64::from(*number)))
            }
            SqliteArgumentValue::Int64(number) => ToSqlOutput::Owned(Value::Integer(*number)),
        })
    }
}

impl Connection for WriterConnection {
    type Query<'q> = WriterQuery<'q>;

    // The same dialect as the readers'.
    const LOCK_ROWS: &'static str = SqliteConnection::LOCK_ROWS;
    const LOCK_ORGANIZATIONS: Option<&'static str> = SqliteConnection::LOCK_ORGANIZATIONS;
    const SKIP_LOCKED: &'static str = SqliteConnection::SKIP_LOCKED;
    const BYTE_ORDER: &'static str = SqliteConnection::BYTE_ORDER;
    const JSON_ARRAY: &'static str = SqliteConnection::JSON_ARRAY;
    const JSON_AGG: &'static str = SqliteConnection::JSON_AGG;
    const JSON_NESTED: &'static str = SqliteConnection::JSON_NESTED;
    const LIST_TABLES: &'static str = SqliteConnection::LIST_TABLES;
    const DATA_MODIFYING_WITH: bool = SqliteConnection::DATA_MODIFYING_WITH;
    const RECORD_ORG_CHANGE: &'static str = SqliteConnection::RECORD_ORG_CHANGE;
    const READ_CHANGES: &'static str = SqliteConnection::READ_CHANGES;
    const PRUNE_CHANGES: Option<&'static str> = SqliteConnection::PRUNE_CHANGES;

    fn empty_tables(tables: &[&str]) -> Vec<String> {
        SqliteConnection::empty_tables(tables)
    }

    fn prepare(sql: &str) -> WriterQuery<'_> {
        WriterQuery {
            sql,
            arguments: Vec::new(),
            failure: None,
        }
    }

    fn bind<'q, T: Param<'q>>(mut query: Self::Query<'q>, value: T) -> WriterQuery<'q> {
        let before = query.arguments.len();
        match Encode::<Sqlite>::encode(value, &mut query.arguments) {
            Ok(IsNull::Yes) => query.arguments.push(SqliteArgumentValue::Null),
            Ok(IsNull::No) => {}
            Err(error) => {
                query.arguments.truncate(before);
                query.arguments.push(SqliteArgumentValue::Null);
                query.failure.get_or_insert(error.to_string());
            }
        }
        query
    }

    async fn execute<'q>(&mut self, query: Self::Query<'q>) -> Result<u64, sqlx::Error> {
        let run = || -> rusqlite::Result<u64> {
            let mut statement = self.prepared(&query)?;
            let mut rows = statement.raw_query();
            while rows.next()?.is_some() {}
            Ok(self.connection.changes())
        };
        run().map_err(sqlx_error)
    }

    async fn fetch_all<'q, R: Record>(
        &mut self,
        query: Self::Query<'q>,
    ) -> Result<Vec<R>, sqlx::Error> {
        self.rows(&query, usize::MAX).map_err(sqlx_error)
    }

    async fn fetch_optional<'q, R: Record>(
        &mut self,
        query: Self::Query<'q>,
    ) -> Result<Option<R>, sqlx::Error> {
        let rows = self.rows(&query, 1).map_err(sqlx_error)?;
        Ok(rows.into_iter().next())
    }

    fn shrink_buffers(&mut self) {}

    fn statement_cache() -> &'static StatementCache {
        SqliteConnection::statement_cache()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Rejection;

    // The writes are generic over the connection, as the store's own are: that is how their
    // futures are known to be `Send`.

    fn create_table<C: Connection>(c: &mut C) -> WriteWork<'_, ()> {
        Box::pin(async move {
            c.query("CREATE TABLE t (n INTEGER PRIMARY KEY, note TEXT)")
                .execute()
                .await?;
            Ok(())
        })
    }

    fn insert_row<C: Connection>(c: &mut C, n: i64) -> WriteWork<'_, ()> {
        Box::pin(async move {
            c.query("INSERT INTO t (n) VALUES ($1)")
                .bind(n)
                .execute()
                .await?;
            Ok(())
        })
    }

    fn rows<C: Connection>(c: &mut C) -> WriteWork<'_, Vec<i64>> {
        Box::pin(async move {
            Ok(c.query("SELECT n FROM t ORDER BY n")
                .fetch_all_scalars()
                .await?)
        })
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "keeps the writer's own thread busy"
    )]
    fn pause<C: Connection>(
        _: &mut C,
        time: Duration,
        started: oneshot::Sender<()>,
    ) -> WriteWork<'_, ()> {
        Box::pin(async move {
            let _ = started.send(());
            std::thread::sleep(time);
            Ok(())
        })
    }

    /// Ends the transaction it runs in, as SQLite does by itself on a full disk.
    fn insert_then_roll_back<C: Connection>(c: &mut C) -> WriteWork<'_, ()> {
        Box::pin(async move {
            c.query("INSERT INTO t (n) VALUES (2)").execute().await?;
            c.query("ROLLBACK").execute().await?;
            c.query("INSERT INTO t (n) VALUES (20)").execute().await?;
            Ok(())
        })
    }

    fn insert_then_refuse<C: Connection>(c: &mut C) -> WriteWork<'_, ()> {
        Box::pin(async move {
            c.query("INSERT INTO t (n) VALUES (2)").execute().await?;
            Err(Rejection::LastRole.into())
        })
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "keeps the writer's own thread busy"
    )]
    fn insert_pause_insert<C: Connection>(
        c: &mut C,
        started: oneshot::Sender<()>,
    ) -> WriteWork<'_, ()> {
        Box::pin(async move {
            c.query("INSERT INTO t (n) VALUES (1)").execute().await?;
            let _ = started.send(());
            std::thread::sleep(Duration::from_millis(200));
            c.query("INSERT INTO t (n) VALUES (2)").execute().await?;
            Ok(())
        })
    }

    fn insert_then_yield<C: Connection>(c: &mut C) -> WriteWork<'_, ()> {
        Box::pin(async move {
            c.query("INSERT INTO t (n) VALUES (1)").execute().await?;
            tokio::task::yield_now().await;
            Ok(())
        })
    }

    fn insert_then_panic<C: Connection>(c: &mut C) -> WriteWork<'_, ()> {
        Box::pin(async move {
            c.query("INSERT INTO t (n) VALUES (1)").execute().await?;
            let one: i64 = c.query("SELECT 1").fetch_scalar().await?;
            assert_ne!(one, 1, "a bug in a use case");
            Ok(())
        })
    }

    fn insert_duplicate<C: Connection>(c: &mut C) -> WriteWork<'_, bool> {
        Box::pin(async move {
            match c.query("INSERT INTO t (n) VALUES (1)").execute().await {
                Err(error) => Ok(crate::error::is_unique_violation(&error)),
                Ok(_) => Ok(false),
            }
        })
    }

    type Noted = Vec<(i64, Option<String>)>;

    fn bind_by_number<C: Connection>(c: &mut C) -> WriteWork<'_, Noted> {
        Box::pin(async move {
            c.query("INSERT INTO t (n, note) VALUES ($2, $1 || '-' || $1)")
                .bind("a")
                .bind(5_i64)
                .execute()
                .await?;
            c.query("INSERT INTO t (n, note) VALUES ($1, $2)")
                .bind(6_i64)
                .bind(None::<String>)
                .execute()
                .await?;
            Ok(c.query("SELECT n, note FROM t ORDER BY n")
                .fetch_all()
                .await?)
        })
    }

    async fn writer() -> (tempfile::TempDir, Arc<Writer>) {
        writer_waiting(Duration::from_secs(5)).await
    }

    async fn writer_waiting(busy_timeout: Duration) -> (tempfile::TempDir, Arc<Writer>) {
        let directory = tempfile::tempdir().expect("a directory");
        let writer = Writer::start(&directory.path().join("w.db"), busy_timeout).expect("a writer");
        writer.write(create_table).await.expect("a table");
        (directory, Arc::new(writer))
    }

    async fn insert(writer: &Writer, n: i64) -> Result<(), StoreError> {
        writer.write(move |c| insert_row(c, n)).await
    }

    async fn stored(writer: &Writer) -> Vec<i64> {
        writer.write(rows).await.expect("the rows")
    }

    /// Keeps the writer's thread busy for `time`, so that writes asked meanwhile queue; returns
    /// once the thread is busy.
    async fn occupy(
        writer: &Arc<Writer>,
        time: Duration,
    ) -> tokio::task::JoinHandle<Result<(), StoreError>> {
        let writer = Arc::clone(writer);
        let (started, has_started) = oneshot::channel();
        let busy =
            tokio::spawn(async move { writer.write(move |c| pause(c, time, started)).await });
        has_started.await.expect("the pause starts");
        busy
    }

    #[tokio::test]
    async fn writes_that_queue_together_share_one_commit_and_all_are_kept() {
        let (_directory, writer) = writer().await;
        let busy = occupy(&writer, Duration::from_millis(300)).await;
        let before = writer.commits();
        let mut writes = tokio::task::JoinSet::new();
        for n in 0..20 {
            let writer = Arc::clone(&writer);
            writes.spawn(async move { insert(&writer, n).await });
        }
        while let Some(written) = writes.join_next().await {
            written.expect("the task").expect("the write");
        }
        busy.await.expect("the task").expect("the pause");
        assert_eq!(stored(&writer).await, (0..20).collect::<Vec<_>>());
        // Twenty writes and the pause: the pause's commit and one or two shared ones.
        let commits = writer.commits() - before;
        assert!(commits <= 3, "{commits} commits");
    }

    #[tokio::test]
    async fn a_failing_write_is_undone_alone_and_the_others_in_its_transaction_kept() {
        let (_directory, writer) = writer().await;
        let busy = occupy(&writer, Duration::from_millis(200)).await;
        let before = writer.commits();
        let spawn_insert = |n| {
            let writer = Arc::clone(&writer);
            tokio::spawn(async move { insert(&writer, n).await })
        };
        let first = spawn_insert(1);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let refused = tokio::spawn({
            let writer = Arc::clone(&writer);
            async move { writer.write(insert_then_refuse).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let third = spawn_insert(3);
        first.await.expect("the task").expect("the first write");
        let refused = refused.await.expect("the task");
        assert!(
            matches!(refused, Err(StoreError::Rejected(Rejection::LastRole))),
            "{refused:?}"
        );
        third.await.expect("the task").expect("the third write");
        busy.await.expect("the task").expect("the pause");
        assert_eq!(
            writer.commits() - before,
            1,
            "one transaction held all three"
        );
        assert_eq!(stored(&writer).await, vec![1, 3]);
    }

    #[tokio::test]
    async fn a_write_whose_caller_left_before_it_ran_is_not_run() {
        let (_directory, writer) = writer().await;
        let busy = occupy(&writer, Duration::from_millis(200)).await;
        let left = tokio::time::timeout(Duration::from_millis(20), insert(&writer, 7)).await;
        assert!(left.is_err(), "the caller gave up while the write queued");
        busy.await.expect("the task").expect("the pause");
        insert(&writer, 8).await.expect("a later write");
        assert_eq!(stored(&writer).await, vec![8]);
    }

    #[tokio::test]
    async fn a_write_whose_caller_leaves_while_it_runs_is_kept_whole() {
        let (_directory, writer) = writer().await;
        let (started, has_started) = oneshot::channel();
        let slow = writer.write(move |c| insert_pause_insert(c, started));
        tokio::select! {
            done = slow => panic!("the write ended before its caller left: {done:?}"),
            _ = has_started => {}
        }
        // The caller has left (its future is gone) halfway through the write.
        assert_eq!(stored(&writer).await, vec![1, 2]);
    }

    #[tokio::test]
    async fn a_write_that_ends_the_transaction_fails_it_for_every_write_it_held() {
        let (_directory, writer) = writer().await;
        let busy = occupy(&writer, Duration::from_millis(200)).await;
        let before = writer.commits();
        let first = tokio::spawn({
            let writer = Arc::clone(&writer);
            async move { insert(&writer, 1).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let breaking = tokio::spawn({
            let writer = Arc::clone(&writer);
            async move { writer.write(insert_then_roll_back).await }
        });
        // The pause, the first insert and the breaking write share the transaction it ends.
        busy.await
            .expect("the task")
            .expect_err("the pause's transaction is gone");
        first
            .await
            .expect("the task")
            .expect_err("the first write is gone");
        breaking
            .await
            .expect("the task")
            .expect_err("the breaking write");
        assert_eq!(writer.commits(), before, "nothing committed");
        insert(&writer, 3)
            .await
            .expect("the next transaction begins");
        assert_eq!(
            stored(&writer).await,
            vec![3],
            "no statement committed alone"
        );
    }

    #[tokio::test]
    async fn writes_queued_while_the_file_is_locked_elsewhere_are_refused_together() {
        let timeout = Duration::from_millis(300);
        let (directory, writer) = writer_waiting(timeout).await;
        let other = rusqlite::Connection::open(directory.path().join("w.db")).expect("a second");
        other.execute_batch("BEGIN IMMEDIATE").expect("the lock");
        let started = Instant::now();
        let mut writes = tokio::task::JoinSet::new();
        for n in 0..5 {
            let writer = Arc::clone(&writer);
            writes.spawn(async move { insert(&writer, n).await });
        }
        while let Some(written) = writes.join_next().await {
            let refused = written.expect("the task");
            assert!(
                matches!(refused, Err(StoreError::Unavailable(_))),
                "{refused:?}"
            );
        }
        // Refused after one busy timeout, not one each.
        assert!(started.elapsed() < timeout * 3, "{:?}", started.elapsed());
        other.execute_batch("ROLLBACK").expect("the lock let go");
        insert(&writer, 9).await.expect("writes go on");
    }

    fn insert_nine<C: Connection>(c: &mut C) -> WriteWork<'_, ()> {
        insert_row(c, 9)
    }

    /// A write whose caller reacts to its refusal at once, as a client may: it lets go of the
    /// other connection's lock and asks for another write, which reaches the queue while the
    /// writer is still answering the refused ones.
    struct RefusedThenRetried {
        lock_holder: rusqlite::Connection,
        jobs: mpsc::Sender<Box<dyn Job>>,
        retried: oneshot::Sender<Result<(), StoreError>>,
    }

    impl Job for RefusedThenRetried {
        fn abandoned(&self) -> bool {
            false
        }

        fn run(self: Box<Self>, _: &mut WriterConnection) -> Ran {
            panic!("ran while the file was locked elsewhere");
        }

        fn refuse(self: Box<Self>, _: CommitFailure) {
            self.lock_holder
                .execute_batch("ROLLBACK")
                .expect("the lock let go");
            let retry = Box::new(Pending {
                work: insert_nine::<WriterConnection>,
                context: audit::current(),
                asked: Instant::now(),
                answer: self.retried,
            });
            assert!(self.jobs.try_send(retry).is_ok(), "room in the queue");
        }
    }

    #[tokio::test]
    async fn a_write_queued_after_a_refusal_gets_a_transaction_of_its_own() {
        let (directory, writer) = writer_waiting(Duration::from_millis(100)).await;
        let lock_holder =
            rusqlite::Connection::open(directory.path().join("w.db")).expect("a second");
        lock_holder
            .execute_batch("BEGIN IMMEDIATE")
            .expect("the lock");
        let (retried, retry_answered) = oneshot::channel();
        let refused = Box::new(RefusedThenRetried {
            lock_holder,
            jobs: writer.jobs.clone(),
            retried,
        });
        assert!(writer.jobs.send(refused).await.is_ok(), "queued");
        retry_answered
            .await
            .expect("an answer")
            .expect("the retry, queued after the lock was let go, is written");
        assert_eq!(stored(&writer).await, vec![9]);
    }

    #[tokio::test]
    async fn a_write_that_awaits_anything_but_its_connection_is_refused_and_undone() {
        let (_directory, writer) = writer().await;
        let waited = writer.write(insert_then_yield).await;
        assert!(matches!(waited, Err(StoreError::Corrupt(_))), "{waited:?}");
        insert(&writer, 2).await.expect("the writer goes on");
        assert_eq!(stored(&writer).await, vec![2]);
    }

    #[tokio::test]
    async fn a_write_that_panics_is_undone_and_the_writer_goes_on() {
        let (_directory, writer) = writer().await;
        let panicked = writer.write(insert_then_panic).await;
        assert!(
            matches!(panicked, Err(StoreError::Corrupt(_))),
            "{panicked:?}"
        );
        insert(&writer, 2).await.expect("the writer goes on");
        assert_eq!(stored(&writer).await, vec![2]);
    }

    #[tokio::test]
    async fn a_constraint_failure_reads_as_sqlx_reports_it() {
        let (_directory, writer) = writer().await;
        insert(&writer, 1).await.expect("a row");
        let duplicate = writer.write(insert_duplicate).await;
        assert!(matches!(duplicate, Ok(true)), "{duplicate:?}");
    }

    #[tokio::test]
    async fn parameters_bind_by_number_wherever_and_however_often_they_appear() {
        let (_directory, writer) = writer().await;
        let noted = writer.write(bind_by_number).await.expect("the rows");
        assert_eq!(noted, vec![(5, Some("a-a".to_owned())), (6, None)]);
    }
}
