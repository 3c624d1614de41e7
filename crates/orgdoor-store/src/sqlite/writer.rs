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

/// Hands write use cases to the writer thread. The thread ends, closing its connection, once
/// this is dropped and the writes queued before have been answered.
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    busy_timeout: Duration,
    /// Transactions committed, for tests.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by tests"))]
    commits: Arc<AtomicU64>,
}

/// A write as the thread runs it: runs the use case in the open transaction (or, given no
/// connection, does not run it: no transaction could begin) and says whether it succeeded,
/// with what answers its caller once the transaction has ended.
type Job = Box<dyn FnOnce(Option<&mut WriterConnection>) -> Ran + Send>;

struct Ran {
    succeeded: bool,
    answer: Box<dyn FnOnce(Result<(), CommitFailure>) + Send>,
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
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(WriterConnection { connection }, queue, &counted))
            .map_err(|error| StoreError::Unavailable(sqlx::Error::Io(error)))?;
        Ok(Self {
            jobs,
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
        // The request's actor travels with its task; the thread runs the use case as them.
        let context = audit::current();
        let asked = Instant::now();
        let (answer, answered) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |connection| {
            record_wait(BACKEND, Wait::Transaction, asked.elapsed());
            let outcome = match connection {
                // Once nobody waits for it, it is not run at all.
                Some(connection) if !answer.is_closed() => {
                    Some(run_to_end(connection, context, work))
                }
                _ => None,
            };
            Ran {
                succeeded: !matches!(outcome, Some(Err(_))),
                answer: Box::new(move |committed| {
                    let reply = match (outcome, committed) {
                        (Some(Ok(done)), Ok(())) => Ok(done),
                        (Some(Err(error)), _) => Err(error),
                        (_, Err(failure)) => Err(failure.into_error()),
                        (None, Ok(())) => return,
                    };
                    let _ = answer.send(reply);
                }),
            }
        });
        let queued = tokio::time::timeout(self.busy_timeout, self.jobs.send(job)).await;
        match queued {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(CommitFailure::stopped().into_error()),
            Err(_) => return Err(CommitFailure::busy().into_error()),
        }
        answered
            .await
            .unwrap_or_else(|_| Err(CommitFailure::stopped().into_error()))
    }
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
fn run(mut connection: WriterConnection, mut queue: mpsc::Receiver<Job>, commits: &AtomicU64) {
    while let Some(first) = queue.blocking_recv() {
        let mut answers = Vec::new();
        if let Err(error) = connection.run_plain("BEGIN IMMEDIATE") {
            (first(None).answer)(Err(CommitFailure::of(&error)));
            continue;
        }
        let mut next = Some(first);
        let mut members = 0_usize;
        let mut broken = None;
        while let Some(job) = next.take() {
            members += 1;
            match connection.run_member(job) {
                Ok(ran) => answers.push(ran.answer),
                Err((ran, error)) => {
                    answers.push(ran.answer);
                    broken = Some(CommitFailure::of(&error));
                    break;
                }
            }
            if members < MAX_MEMBERS {
                next = queue.try_recv().ok();
            }
        }
        let outcome = match broken {
            Some(failure) => Err(failure),
            None => connection
                .run_plain("COMMIT")
                .map_err(|error| CommitFailure::of(&error)),
        };
        if outcome.is_err() && !connection.connection.is_autocommit() {
            // A failed COMMIT (or a member that broke the transaction) leaves it open.
            let _ = connection.run_plain("ROLLBACK");
        }
        if outcome.is_ok() {
            commits.fetch_add(1, Ordering::Relaxed);
            metrics::histogram!(SHARED_COMMIT_WRITES).record(members as f64);
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

    fn busy() -> Self {
        Self {
            code: ffi::SQLITE_BUSY,
            message: "the store's writer is busy".into(),
        }
    }

    fn stopped() -> Self {
        Self {
            code: ffi::SQLITE_ERROR,
            message: "the store's writer has stopped".into(),
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
    /// Runs a statement that takes no parameters and answers no rows.
    fn run_plain(&self, sql: &str) -> rusqlite::Result<()> {
        self.connection.prepare_cached(sql)?.raw_execute().map(drop)
    }

    /// Runs one write in a savepoint of the open transaction: kept if it succeeds, undone if
    /// it fails. `Err` when the transaction itself broke (SQLite rolled it back, or a
    /// savepoint statement failed), which takes the writes before with it.
    fn run_member(&mut self, job: Job) -> Result<Ran, (Ran, rusqlite::Error)> {
        if let Err(error) = self.run_plain(SAVEPOINT) {
            return Err((job(None), error));
        }
        let ran = job(Some(self));
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
    fn pause<C: Connection>(_: &mut C, time: Duration) -> WriteWork<'_, ()> {
        Box::pin(async move {
            std::thread::sleep(time);
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
    fn insert_pause_insert<C: Connection>(c: &mut C) -> WriteWork<'_, ()> {
        Box::pin(async move {
            c.query("INSERT INTO t (n) VALUES (1)").execute().await?;
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
        let directory = tempfile::tempdir().expect("a directory");
        let writer = Writer::start(&directory.path().join("w.db"), Duration::from_secs(5))
            .expect("a writer");
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
    async fn occupy(writer: &Arc<Writer>, time: Duration) -> tokio::task::JoinHandle<()> {
        let writer = Arc::clone(writer);
        let busy = tokio::spawn(async move {
            writer
                .write(move |c| pause(c, time))
                .await
                .expect("the pause");
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
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
        busy.await.expect("the pause");
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
        busy.await.expect("the pause");
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
        busy.await.expect("the pause");
        insert(&writer, 8).await.expect("a later write");
        assert_eq!(stored(&writer).await, vec![8]);
    }

    #[tokio::test]
    async fn a_write_whose_caller_leaves_while_it_runs_is_kept_whole() {
        let (_directory, writer) = writer().await;
        let slow = writer.write(insert_pause_insert);
        let left = tokio::time::timeout(Duration::from_millis(50), slow).await;
        assert!(left.is_err(), "the caller gave up while the write ran");
        assert_eq!(stored(&writer).await, vec![1, 2]);
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
