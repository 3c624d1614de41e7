//! Group commit on the SQLite writer: writes that queue for the writer meanwhile share one
//! `BEGIN IMMEDIATE … COMMIT`.
//!
//! Why: a commit writes every page its transaction dirtied to the WAL, and an invitation
//! dirties some twenty B-tree pages, most of them the same rightmost leaves as the invitation
//! before it. One commit per write spent the writer's time copying those pages again and again
//! (and checkpointing them back); a shared commit writes each once.
//!
//! How: the first write to find no transaction open opens one and runs in it directly (its
//! opener); a write that finds one open joins it inside a savepoint. A write that succeeds
//! leaves its changes in the transaction, lets the connection go and waits for the commit; one
//! that fails or is cut off is undone — to its savepoint, or, for the opener, alone in its
//! transaction, whole — before anyone else uses the connection. The transaction commits once
//! the connection would sit idle in it (no write waiting for it), or when it holds
//! [`MAX_MEMBERS`] writes; every member is answered only after that commit, with its outcome,
//! so an answered write is as durable as before.
//!
//! The commit itself runs on a task of its own, the closer, which no request can cut off: a
//! request dropped at any await leaves behind at most an undo that the next holder of the
//! connection applies first, never a transaction that nobody will finish.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use sqlx::sqlite::SqliteConnection;
use tokio::sync::{Notify, mpsc, oneshot, watch};

use super::connections::{Checkout, Connections, Transaction};
use crate::StoreError;
use crate::metrics::SHARED_COMMIT_WRITES;

/// The most writes one transaction takes before it commits, so a steady stream of writes is
/// still answered in bounded time.
pub(crate) const MAX_MEMBERS: usize = 64;

/// The savepoint a joining write runs in. One name serves all: members run one after another,
/// and a member's savepoint is released or undone before the next member starts.
const SAVEPOINT: &str = "SAVEPOINT group_member";
const RELEASE: &str = "RELEASE group_member";
const ROLLBACK_TO: &str = "ROLLBACK TO group_member";
/// A write may have deferred its foreign keys (a reset does); the writes after it in the
/// transaction must not inherit that.
const CHECK_FOREIGN_KEYS_NOW: &str = "PRAGMA defer_foreign_keys = OFF";

/// The writer's connection, shared by write transactions.
pub(crate) struct GroupWriter {
    connections: Connections,
    state: Mutex<State>,
    /// Set by SQLite's rollback hook: the transaction ended in a rollback, ours or one SQLite
    /// made itself after a failed statement (a full disk, an I/O error, no memory), which takes
    /// every member's writes with it. Cleared as a transaction begins.
    rolled_back: Arc<AtomicBool>,
    /// Asks the closer to commit the open transaction with a connection a task holds. Only the
    /// connection's holder sends, handing it over, so at most one request is ever queued.
    close_requests: mpsc::UnboundedSender<CloseRequest>,
}

#[derive(Default)]
struct State {
    open: Option<OpenTransaction>,
    /// What writes cut off (or failed) left to undo, oldest first. Applying one twice is
    /// harmless: a savepoint rolled back and released, or a transaction rolled back, is gone,
    /// and the statement fails without effect.
    undo: Vec<Undo>,
    /// Transactions committed, and members they held, for tests and diagnostics.
    commits: u64,
    committed_members: u64,
}

struct OpenTransaction {
    /// Writes that joined it, undone ones included.
    members: usize,
    outcome: watch::Sender<Option<Outcome>>,
}

impl OpenTransaction {
    fn fail(self, failure: CommitFailure) {
        self.outcome.send_replace(Some(Err(failure)));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Undo {
    /// The opener's transaction: it held no one else's writes yet.
    Transaction,
    /// A joining member's savepoint.
    Savepoint,
}

/// How a shared transaction ended.
type Outcome = Result<(), CommitFailure>;

/// Why a shared commit failed, for every member it held.
#[derive(Debug, Clone)]
struct CommitFailure {
    unavailable: bool,
    message: String,
}

impl CommitFailure {
    fn rolled_back() -> Self {
        Self {
            unavailable: false,
            message: "the transaction was rolled back".into(),
        }
    }

    fn new(error: sqlx::Error) -> Self {
        Self {
            message: error.to_string(),
            unavailable: matches!(StoreError::from(error), StoreError::Unavailable(_)),
        }
    }

    fn into_store_error(self) -> StoreError {
        let error = sqlx::Error::Protocol(format!("the shared commit failed: {}", self.message));
        if self.unavailable {
            StoreError::Unavailable(error)
        } else {
            StoreError::Internal(error)
        }
    }
}

/// A connection handed to the closer to commit the open transaction with; it comes back by
/// `reply`, or goes back idle if the asker is gone.
struct CloseRequest {
    connection: SqliteConnection,
    reply: oneshot::Sender<SqliteConnection>,
}

impl GroupWriter {
    /// Shares `connections` (one connection: SQLite has one writer) among write transactions,
    /// and starts the closer.
    pub(crate) async fn start(connections: Connections) -> Result<Arc<Self>, StoreError> {
        let rolled_back = Arc::new(AtomicBool::new(false));
        {
            let mut connection = connections.acquire().await?;
            let flag = Arc::clone(&rolled_back);
            connection
                .lock_handle()
                .await?
                .set_rollback_hook(move || flag.store(true, Ordering::Release));
        }
        let went_idle = connections.went_idle();
        let (close_requests, requests) = mpsc::unbounded_channel();
        let writer = Arc::new(Self {
            connections,
            state: Mutex::new(State::default()),
            rolled_back,
            close_requests,
        });
        tokio::spawn(close_transactions(
            Arc::downgrade(&writer),
            went_idle,
            requests,
        ));
        Ok(writer)
    }

    /// The connection outside any transaction, for one statement or a read (the open shared
    /// transaction is committed first).
    pub(crate) async fn acquire(&self) -> Result<Checkout<'_>, StoreError> {
        let mut checkout = self.undone_connection().await?;
        if self.lock().open.is_some() {
            checkout = self.commit_through_closer(checkout).await?;
        }
        Ok(checkout)
    }

    /// A read transaction on the writer's connection (an in-memory store has no other).
    pub(crate) async fn begin_snapshot(&self) -> Result<Transaction<'_>, StoreError> {
        Transaction::begin_snapshot(self.acquire().await?).await
    }

    /// A write transaction: joins the open shared transaction, or opens one.
    pub(crate) async fn begin(&self) -> Result<Member<'_>, StoreError> {
        let mut checkout = self.undone_connection().await?;
        if self
            .lock()
            .open
            .as_ref()
            .is_some_and(|open| open.members >= MAX_MEMBERS)
        {
            checkout = self.commit_through_closer(checkout).await?;
        }
        let (role, outcome) = {
            let mut state = self.lock();
            if self.rolled_back.load(Ordering::Acquire)
                && let Some(open) = state.open.take()
            {
                // Joining would run outside any transaction: the writes in it are gone.
                open.fail(CommitFailure::rolled_back());
            }
            match &mut state.open {
                Some(open) => {
                    open.members += 1;
                    (Undo::Savepoint, open.outcome.subscribe())
                }
                None => {
                    self.rolled_back.store(false, Ordering::Release);
                    let (outcome, receiver) = watch::channel(None);
                    state.open = Some(OpenTransaction {
                        members: 1,
                        outcome,
                    });
                    (Undo::Transaction, receiver)
                }
            }
        };
        // From here a cut-off or failure is undone by the member's drop.
        let mut member = Member {
            writer: self,
            checkout: Some(checkout),
            role,
            outcome,
        };
        let begin = match role {
            Undo::Transaction => "BEGIN IMMEDIATE",
            Undo::Savepoint => SAVEPOINT,
        };
        sqlx::query(begin).execute(&mut *member).await?;
        Ok(member)
    }

    /// Transactions committed so far, and the writes they held.
    #[cfg(test)]
    pub(crate) fn commits(&self) -> (u64, u64) {
        let state = self.lock();
        (state.commits, state.committed_members)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change to the state is whole, so a holder that panicked left it consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection, with what cut-off writes left to undo applied first.
    async fn undone_connection(&self) -> Result<Checkout<'_>, StoreError> {
        let mut checkout = self.connections.acquire().await?;
        self.apply_undo(&mut checkout).await;
        Ok(checkout)
    }

    /// Applies what cut-off writes left to undo. An undo is forgotten only once applied, so a
    /// holder cut off here leaves it to the next.
    async fn apply_undo(&self, connection: &mut SqliteConnection) {
        loop {
            let Some(&undo) = self.lock().undo.first() else {
                return;
            };
            let statements: &[&str] = match undo {
                Undo::Transaction => &["ROLLBACK"],
                Undo::Savepoint => &[ROLLBACK_TO, RELEASE, CHECK_FOREIGN_KEYS_NOW],
            };
            for statement in statements {
                // Fails harmlessly when a cut-off write's savepoint was already released or its
                // transaction never began.
                if let Err(error) = sqlx::query(statement).execute(&mut *connection).await {
                    tracing::debug!(%error, statement, "undoing a cut-off write");
                }
            }
            let mut state = self.lock();
            state.undo.remove(0);
            if undo == Undo::Transaction
                && let Some(open) = state.open.take()
            {
                open.fail(CommitFailure::rolled_back());
            }
        }
    }

    /// Has the closer commit the open transaction with the connection `checkout` holds, and
    /// takes the connection back.
    async fn commit_through_closer<'a>(
        &'a self,
        checkout: Checkout<'a>,
    ) -> Result<Checkout<'a>, StoreError> {
        let closed = || StoreError::Unavailable(sqlx::Error::PoolClosed);
        let connection = checkout.detach().ok_or_else(closed)?;
        let (reply, replied) = oneshot::channel();
        if let Err(refused) = self.close_requests.send(CloseRequest { connection, reply }) {
            drop(self.connections.attach(refused.0.connection));
            return Err(closed());
        }
        let connection = replied.await.map_err(|_| closed())?;
        Ok(self.connections.attach(connection))
    }

    /// Undoes what cut-off writes left, then commits the open transaction and tells its
    /// members how it went. Runs only on the closer.
    async fn commit_open(&self, connection: &mut SqliteConnection) {
        self.apply_undo(connection).await;
        let Some(open) = self.lock().open.take() else {
            return;
        };
        if self.rolled_back.load(Ordering::Acquire) {
            tracing::error!(
                members = open.members,
                "SQLite rolled back a shared transaction after a failed statement"
            );
            open.fail(CommitFailure::rolled_back());
            return;
        }
        let outcome = match sqlx::query("COMMIT").execute(&mut *connection).await {
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::error!(%error, members = open.members, "a shared commit failed");
                if let Err(error) = sqlx::query("ROLLBACK").execute(&mut *connection).await {
                    tracing::debug!(%error, "rolling back after a failed commit");
                }
                Err(CommitFailure::new(error))
            }
        };
        if outcome.is_ok() {
            metrics::histogram!(SHARED_COMMIT_WRITES).record(open.members as f64);
            let mut state = self.lock();
            state.commits += 1;
            state.committed_members += open.members as u64;
        }
        open.outcome.send_replace(Some(outcome));
    }
}

/// The closer: commits the open transaction when the connection goes idle with no write
/// waiting for it, and when a task asks.
async fn close_transactions(
    writer: Weak<GroupWriter>,
    went_idle: Arc<Notify>,
    mut requests: mpsc::UnboundedReceiver<CloseRequest>,
) {
    loop {
        tokio::select! {
            request = requests.recv() => {
                let (Some(request), Some(writer)) = (request, writer.upgrade()) else {
                    return;
                };
                let mut checkout = writer.connections.attach(request.connection);
                writer.commit_open(&mut checkout).await;
                if let Some(connection) = checkout.detach()
                    && let Err(connection) = request.reply.send(connection)
                {
                    drop(writer.connections.attach(connection));
                }
            }
            () = went_idle.notified() => {
                let Some(writer) = writer.upgrade() else {
                    return;
                };
                let pending = {
                    let state = writer.lock();
                    state.open.is_some() || !state.undo.is_empty()
                };
                if !pending || writer.connections.waiting() > 0 {
                    continue;
                }
                // Taken only if free: a holder lets go and tells again.
                if let Some(mut checkout) = writer.connections.try_acquire() {
                    writer.commit_open(&mut checkout).await;
                }
            }
        }
    }
}

/// One write in a shared transaction: undone when dropped uncommitted.
pub(crate) struct Member<'a> {
    writer: &'a GroupWriter,
    checkout: Option<Checkout<'a>>,
    role: Undo,
    outcome: watch::Receiver<Option<Outcome>>,
}

impl Member<'_> {
    /// Keeps this write in the shared transaction and waits for its commit.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        if self.role == Undo::Savepoint {
            sqlx::query(RELEASE).execute(&mut *self).await?;
        }
        // Letting go of the connection: a write waiting for it joins the transaction, or,
        // with none waiting, the closer commits it.
        drop(self.checkout.take());
        let outcome = self
            .outcome
            .wait_for(Option::is_some)
            .await
            .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolClosed))?
            .clone();
        match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(failure)) => Err(failure.into_store_error()),
            None => Err(StoreError::Unavailable(sqlx::Error::PoolClosed)),
        }
    }
}

impl Deref for Member<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.checkout
            .as_ref()
            .expect("a member holds its connection until it commits")
    }
}

impl DerefMut for Member<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.checkout
            .as_mut()
            .expect("a member holds its connection until it commits")
    }
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        if let Some(checkout) = self.checkout.take() {
            // Recorded before the connection goes back, so its next holder applies it first.
            self.writer.lock().undo.push(self.role);
            drop(checkout);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::time::Duration;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
    use tokio::task::JoinSet;

    use super::*;

    struct Fixture {
        _directory: tempfile::TempDir,
        writer: Arc<GroupWriter>,
        /// Another connection to the file: it sees only what is committed.
        reader: Connections,
    }

    async fn fixture() -> Fixture {
        let directory = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", directory.path().join("t.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .expect("a file URL")
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("temp_store", "memory");
        let open = |count| Connections::open(&options, count, Duration::from_secs(5));
        let writer = GroupWriter::start(open(1).await.expect("writer"))
            .await
            .expect("start");
        sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .execute(&mut *writer.acquire().await.expect("acquire"))
            .await
            .expect("create");
        let reader = open(1).await.expect("reader");
        Fixture {
            _directory: directory,
            writer,
            reader,
        }
    }

    impl Fixture {
        async fn committed(&self) -> Vec<i64> {
            sqlx::query_scalar("SELECT n FROM t ORDER BY n")
                .fetch_all(&mut *self.reader.acquire().await.expect("acquire"))
                .await
                .expect("read")
        }

        /// Waits until `count` tasks wait for the writer's connection.
        async fn until_waiting(&self, count: usize) {
            while self.writer.connections.waiting() != count {
                tokio::task::yield_now().await;
            }
        }
    }

    async fn insert(member: &mut Member<'_>, n: i64) {
        sqlx::query("INSERT INTO t VALUES ($1)")
            .bind(n)
            .execute(&mut **member)
            .await
            .expect("insert");
    }

    /// One write on its own task: begins, inserts `n`, commits.
    fn spawn_write(
        tasks: &mut JoinSet<(i64, Result<(), StoreError>)>,
        writer: &Arc<GroupWriter>,
        n: i64,
    ) {
        let writer = Arc::clone(writer);
        tasks.spawn(async move {
            let mut member = writer.begin().await.expect("begin");
            insert(&mut member, n).await;
            (n, member.commit().await)
        });
    }

    #[tokio::test]
    async fn concurrent_writes_share_commits_and_each_is_answered_after_its_own() {
        let fixture = fixture().await;
        let reader = Arc::new(fixture.reader);
        let mut tasks = JoinSet::new();
        for n in 0..200 {
            let writer = Arc::clone(&fixture.writer);
            let reader = Arc::clone(&reader);
            tasks.spawn(async move {
                let mut member = writer.begin().await.expect("begin");
                insert(&mut member, n).await;
                member.commit().await.expect("commit");
                // Answered: another connection sees the write.
                let seen: Option<i64> = sqlx::query_scalar("SELECT n FROM t WHERE n = $1")
                    .bind(n)
                    .fetch_optional(&mut *reader.acquire().await.expect("acquire"))
                    .await
                    .expect("read");
                assert_eq!(seen, Some(n), "write {n} was answered before its commit");
            });
        }
        while let Some(task) = tasks.join_next().await {
            task.expect("a write");
        }
        let (commits, members) = fixture.writer.commits();
        assert_eq!(members, 200);
        assert!(commits < 200, "{commits} commits for 200 concurrent writes");
        assert!(
            commits >= 200_u64.div_ceil(MAX_MEMBERS as u64),
            "no commit holds more than {MAX_MEMBERS} writes: {commits} commits"
        );
    }

    #[tokio::test]
    async fn a_failed_write_is_undone_alone_and_the_writes_beside_it_commit() {
        let fixture = fixture().await;
        let writer = &fixture.writer;
        let mut opener = writer.begin().await.expect("begin");
        insert(&mut opener, 1).await;
        let mut tasks = JoinSet::new();
        // Queued behind the opener, so they join its transaction: the first fails after
        // writing, the second succeeds.
        let failing = Arc::clone(writer);
        tasks.spawn(async move {
            let mut member = failing.begin().await.expect("begin");
            insert(&mut member, 2).await;
            drop(member);
            (2, Err(StoreError::Corrupt("given up".into())))
        });
        fixture.until_waiting(1).await;
        spawn_write(&mut tasks, writer, 3);
        fixture.until_waiting(2).await;
        opener.commit().await.expect("the opener commits");
        while let Some(task) = tasks.join_next().await {
            let (n, outcome) = task.expect("a write");
            assert_eq!(outcome.is_ok(), n == 3, "write {n}: {outcome:?}");
        }
        assert_eq!(fixture.committed().await, [1, 3]);
        assert_eq!(writer.commits(), (1, 3), "one transaction held the three");
    }

    #[tokio::test]
    async fn an_opener_that_fails_is_rolled_back_before_the_next_write_opens_anew() {
        let fixture = fixture().await;
        let writer = &fixture.writer;
        let mut opener = writer.begin().await.expect("begin");
        insert(&mut opener, 1).await;
        let mut tasks = JoinSet::new();
        spawn_write(&mut tasks, writer, 2);
        fixture.until_waiting(1).await;
        drop(opener);
        let (_, outcome) = tasks.join_next().await.expect("a task").expect("a write");
        outcome.expect("the next write commits");
        assert_eq!(fixture.committed().await, [2]);
    }

    /// What a write in [`writes_cut_off_at_any_await_leave_the_writer_whole`] adds to its first
    /// row for its second.
    const PAIRED: i64 = 100_000;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_cut_off_at_any_await_leave_the_writer_whole() {
        let fixture = fixture().await;
        let writer = &fixture.writer;
        let mut answered = Vec::new();
        let mut cut_off = Vec::new();
        // Rounds of 16 writes, half of them given up to 2 ms, after which the write's future is
        // dropped wherever it is: queued, beginning, writing, releasing or awaiting the commit.
        for round in 0..40_i64 {
            let mut tasks = JoinSet::new();
            for i in 0..16_i64 {
                let n = round * 16 + i;
                let writer = Arc::clone(writer);
                // Half the writes are never cut off, so some always finish however slow the
                // machine.
                let budget = if i % 2 == 0 {
                    Duration::from_micros(((round * 7 + i * 13) % 40) as u64 * 50)
                } else {
                    Duration::from_secs(60)
                };
                tasks.spawn(async move {
                    // Two rows, so a write half-undone or half-kept shows.
                    let write = async {
                        let mut member = writer.begin().await?;
                        insert(&mut member, n).await;
                        tokio::task::yield_now().await;
                        insert(&mut member, n + PAIRED).await;
                        member.commit().await
                    };
                    (n, tokio::time::timeout(budget, write).await.ok())
                });
            }
            while let Some(task) = tasks.join_next().await {
                match task.expect("a write") {
                    (n, Some(outcome)) => {
                        outcome.expect("a write that ran to its end commits");
                        answered.push(n);
                    }
                    (n, None) => cut_off.push(n),
                }
            }
        }
        assert!(
            answered.len() >= 320 && !cut_off.is_empty(),
            "{} answered, {} cut off",
            answered.len(),
            cut_off.len()
        );
        // The writer still works, and leaves nothing open: a write commits and is seen.
        let mut member = writer.begin().await.expect("begin");
        insert(&mut member, -1).await;
        member.commit().await.expect("commit");
        let committed = fixture.committed().await;
        assert_eq!(committed.first(), Some(&-1));
        for n in &answered {
            assert!(committed.contains(n), "answered write {n} is not committed");
        }
        // A cut-off write is either undone or, cut off only while awaiting the commit, whole.
        for n in &cut_off {
            assert_eq!(
                committed.contains(n),
                committed.contains(&(n + PAIRED)),
                "write {n} was cut in half"
            );
        }
        let state = writer.lock();
        assert!(state.open.is_none() && state.undo.is_empty());
    }

    #[tokio::test]
    async fn a_transaction_sqlite_rolls_back_itself_fails_its_members_and_the_next_write_opens_anew()
     {
        let fixture = fixture().await;
        let writer = &fixture.writer;
        let mut opener = writer.begin().await.expect("begin");
        insert(&mut opener, 1).await;
        let mut tasks = JoinSet::new();
        // `OR ROLLBACK` makes SQLite roll back the whole transaction, as it may on a full disk.
        let rolling_back = Arc::clone(writer);
        tasks.spawn(async move {
            let mut member = rolling_back.begin().await.expect("begin");
            let failed = sqlx::query("INSERT OR ROLLBACK INTO t VALUES (1)")
                .execute(&mut *member)
                .await;
            assert!(failed.is_err(), "the duplicate is refused");
            (1, Err(StoreError::Corrupt("refused".into())))
        });
        fixture.until_waiting(1).await;
        spawn_write(&mut tasks, writer, 2);
        fixture.until_waiting(2).await;
        let first = opener.commit().await;
        assert!(
            first.is_err(),
            "the opener's write was rolled back: {first:?}"
        );
        while let Some(task) = tasks.join_next().await {
            let (n, outcome) = task.expect("a write");
            assert_eq!(outcome.is_ok(), n == 2, "write {n}: {outcome:?}");
        }
        assert_eq!(fixture.committed().await, [2]);
    }

    #[tokio::test]
    async fn a_write_outside_a_transaction_commits_the_shared_one_first() {
        let fixture = fixture().await;
        let writer = &fixture.writer;
        let mut member = writer.begin().await.expect("begin");
        insert(&mut member, 1).await;
        let single = {
            let writer = Arc::clone(writer);
            tokio::spawn(async move {
                let mut connection = writer.acquire().await.expect("acquire");
                sqlx::query("INSERT INTO t VALUES (2)")
                    .execute(&mut *connection)
                    .await
                    .expect("insert");
            })
        };
        fixture.until_waiting(1).await;
        member.commit().await.expect("commit");
        single.await.expect("the single write");
        assert_eq!(fixture.committed().await, [1, 2]);
        assert_eq!(writer.commits(), (1, 1));
    }

    #[tokio::test]
    async fn a_failed_commit_is_every_members_failure() {
        let fixture = fixture().await;
        let writer = &fixture.writer;
        // A deferred foreign key left broken makes the shared COMMIT itself fail.
        sqlx::query("CREATE TABLE child (parent INTEGER REFERENCES t (n))")
            .execute(&mut *writer.acquire().await.expect("acquire"))
            .await
            .expect("create");
        sqlx::query("PRAGMA foreign_keys = ON")
            .execute(&mut *writer.acquire().await.expect("acquire"))
            .await
            .expect("foreign keys");
        let mut opener = writer.begin().await.expect("begin");
        insert(&mut opener, 1).await;
        let mut tasks = JoinSet::new();
        let breaking = Arc::clone(writer);
        tasks.spawn(async move {
            let mut member = breaking.begin().await.expect("begin");
            for statement in [
                "PRAGMA defer_foreign_keys = ON",
                "INSERT INTO child VALUES (99)",
            ] {
                sqlx::query(statement)
                    .execute(&mut *member)
                    .await
                    .expect("statement");
            }
            (99, member.commit().await)
        });
        fixture.until_waiting(1).await;
        let first = opener.commit().await;
        let (_, second) = tasks.join_next().await.expect("a task").expect("a write");
        assert!(matches!(first, Err(StoreError::Internal(_))), "{first:?}");
        assert!(matches!(second, Err(StoreError::Internal(_))), "{second:?}");
        assert!(fixture.committed().await.is_empty());
        // The writer goes on.
        let mut member = writer.begin().await.expect("begin");
        insert(&mut member, 2).await;
        member.commit().await.expect("commit");
        assert_eq!(fixture.committed().await, [2]);
    }
}
