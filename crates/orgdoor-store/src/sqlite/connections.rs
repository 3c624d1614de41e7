//! A fixed set of SQLite connections, checked out without sqlx's pool bookkeeping.
//!
//! sqlx's pool pings a connection when it hands it out and again when it takes it back: two
//! round trips to the connection's worker thread per store call on top of the queries, each a
//! pair of context switches (bench/ANALYSIS.md). A connection to a local file cannot drop the
//! way a network connection can, so the store opens its connections once and hands them out
//! as they are. sqlx runs each connection's commands in order on its worker thread, so a
//! command abandoned by a cancelled request finishes before the next holder's first one.

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Sqlite, TransactionManager};
use tokio::sync::Semaphore;

use crate::StoreError;

pub(crate) struct Connections {
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per idle connection.
    available: Semaphore,
    acquire_timeout: Duration,
}

impl Connections {
    pub(crate) async fn open(
        options: &SqliteConnectOptions,
        count: usize,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let mut idle = Vec::with_capacity(count);
        for _ in 0..count {
            idle.push(options.connect().await?);
        }
        Ok(Self {
            idle: Mutex::new(idle),
            available: Semaphore::new(count),
            acquire_timeout,
        })
    }

    /// Waits for an idle connection; after the timeout the store counts as unavailable (503).
    ///
    /// A connection is handed out only outside any transaction sqlx began: should one come
    /// back inside one (whatever cut its holder off), it is rolled back here first, so no
    /// client can leave a connection in a state the next holder trips over.
    pub(crate) async fn acquire(&self) -> Result<Checkout<'_>, StoreError> {
        let mut checkout = self.checkout().await?;
        let depth =
            <Sqlite as sqlx::Database>::TransactionManager::get_transaction_depth(&checkout);
        if depth > 0 {
            tracing::error!(
                depth,
                "a SQLite connection came back inside a transaction; rolling back"
            );
            <Sqlite as sqlx::Database>::TransactionManager::rollback(&mut checkout).await?;
        }
        Ok(checkout)
    }

    async fn checkout(&self) -> Result<Checkout<'_>, StoreError> {
        let permit = tokio::time::timeout(self.acquire_timeout, self.available.acquire())
            .await
            .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolTimedOut))?
            .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolClosed))?;
        let connection = self.lock_idle().pop();
        // The permit travels with the connection and comes back with it in `Checkout::drop`.
        permit.forget();
        let connection = connection.ok_or(StoreError::Unavailable(sqlx::Error::PoolClosed))?;
        Ok(Checkout {
            connections: self,
            connection: Some(connection),
        })
    }

    /// Checks a connection out and starts a read transaction: a plain `BEGIN`, whose reads in
    /// WAL mode share one snapshot from the first on.
    pub(crate) async fn begin_snapshot(&self) -> Result<Transaction<'_>, StoreError> {
        Transaction::begin_snapshot(self.acquire().await?).await
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<SqliteConnection>> {
        // The list stays consistent even if a holder panicked: pushes and pops are whole.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection out of its set, returned when dropped.
pub(crate) struct Checkout<'a> {
    connections: &'a Connections,
    connection: Option<SqliteConnection>,
}

impl Deref for Checkout<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.connection
            .as_ref()
            .expect("a checkout holds its connection until dropped")
    }
}

impl DerefMut for Checkout<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.connection
            .as_mut()
            .expect("a checkout holds its connection until dropped")
    }
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.connections.lock_idle().push(connection);
            self.connections.available.add_permits(1);
        }
    }
}

/// A transaction on a checked-out connection; rolled back unless committed.
pub(crate) struct Transaction<'a> {
    checkout: Checkout<'a>,
    open: bool,
}

impl<'a> Transaction<'a> {
    /// Starts a read transaction on a connection checked out with no transaction.
    ///
    /// The guard exists before `BEGIN` is sent: if this future is dropped at any await of the
    /// begin (sqlx's own begin awaits twice), the guard's drop queues a rollback behind it on
    /// the connection's worker, which applies it only if the `BEGIN` did open a transaction.
    pub(crate) async fn begin_snapshot(checkout: Checkout<'a>) -> Result<Self, StoreError> {
        let mut transaction = Transaction {
            checkout,
            open: true,
        };
        <Sqlite as sqlx::Database>::TransactionManager::begin(
            &mut transaction.checkout,
            Some("BEGIN".into()),
        )
        .await?;
        Ok(transaction)
    }

    #[cfg(test)]
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        <Sqlite as sqlx::Database>::TransactionManager::commit(&mut self.checkout).await?;
        self.open = false;
        Ok(())
    }
}

impl Deref for Transaction<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.checkout
    }
}

impl DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.checkout
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // Queued on the connection's worker ahead of whatever its next holder sends.
            <Sqlite as sqlx::Database>::TransactionManager::start_rollback(&mut self.checkout);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    async fn open(directory: &tempfile::TempDir, count: usize) -> Connections {
        let url = format!("sqlite://{}", directory.path().join("t.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .expect("a file URL")
            .create_if_missing(true);
        let connections = Connections::open(&options, count, Duration::from_millis(200))
            .await
            .expect("open");
        sqlx::query("CREATE TABLE t (n INTEGER)")
            .execute(&mut *connections.acquire().await.expect("acquire"))
            .await
            .expect("create");
        connections
    }

    async fn rows(connections: &Connections) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut *connections.acquire().await.expect("acquire"))
            .await
            .expect("count")
    }

    #[tokio::test]
    async fn a_transaction_dropped_uncommitted_is_rolled_back_before_the_next_holder() {
        let directory = tempfile::tempdir().expect("tempdir");
        let connections = open(&directory, 1).await;
        let mut abandoned = connections.begin_snapshot().await.expect("begin");
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut *abandoned)
            .await
            .expect("insert");
        drop(abandoned);
        assert_eq!(rows(&connections).await, 0);

        // The connection is out of its transaction: a new one starts and commits.
        let mut committed = connections.begin_snapshot().await.expect("begin again");
        sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut *committed)
            .await
            .expect("insert");
        committed.commit().await.expect("commit");
        assert_eq!(rows(&connections).await, 1);
    }

    #[tokio::test]
    async fn a_request_cancelled_mid_transaction_leaves_the_connection_usable() {
        let directory = tempfile::tempdir().expect("tempdir");
        let connections = open(&directory, 1).await;
        let cancelled = async {
            let mut transaction = connections.begin_snapshot().await.expect("begin");
            sqlx::query("INSERT INTO t VALUES (1)")
                .execute(&mut *transaction)
                .await
                .expect("insert");
            std::future::pending::<()>().await;
        };
        let outcome = tokio::time::timeout(Duration::from_millis(50), cancelled).await;
        assert!(outcome.is_err(), "the transaction was cut off");
        assert_eq!(rows(&connections).await, 0);
    }

    #[tokio::test]
    async fn waiting_longer_than_the_timeout_for_a_connection_is_unavailable() {
        let directory = tempfile::tempdir().expect("tempdir");
        let connections = open(&directory, 2).await;
        let first = connections.acquire().await.expect("first");
        let second = connections.acquire().await.expect("second");
        let third = connections.acquire().await;
        assert!(matches!(third, Err(StoreError::Unavailable(_))));
        drop(first);
        let again = connections.acquire().await;
        assert!(again.is_ok(), "a returned connection is handed out again");
        drop(second);
    }
}
