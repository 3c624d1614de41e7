//! What the store reports to the `metrics` facade: how long a store call waits for a
//! connection or a write transaction. Without a recorder installed (the CLI's one-shot
//! commands, the store's own tests) each measurement costs a clock read and nothing else; the
//! labels are fixed strings, so no measurement allocates a label.

use std::future::Future;
use std::time::Instant;

/// Seconds from asking for a connection (or a write transaction) to having it, by backend and
/// by what was asked for.
pub(crate) const ACQUIRE_SECONDS: &str = "orgdoor_store_acquire_seconds";

/// Writes that shared one SQLite commit, per commit.
pub const SHARED_COMMIT_WRITES: &str = "orgdoor_store_shared_commit_writes";

/// What a store call waits for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    /// A connection for reads.
    Read,
    /// A write transaction (on SQLite, the write lock).
    Transaction,
    /// The connection kept for reading what changed.
    Follow,
}

impl Wait {
    fn label(self) -> &'static str {
        match self {
            Wait::Read => "read",
            Wait::Transaction => "transaction",
            Wait::Follow => "follow",
        }
    }
}

/// Records a wait measured elsewhere (on the SQLite writer's thread).
pub(crate) fn record_wait(backend: &'static str, wait: Wait, waited: std::time::Duration) {
    metrics::histogram!(ACQUIRE_SECONDS, "backend" => backend, "wait" => wait.label())
        .record(waited);
}

/// Runs `acquire` and records how long it took, whether it succeeded or not (a timeout is the
/// wait most worth seeing).
pub(crate) async fn timed_acquire<T>(
    backend: &'static str,
    wait: Wait,
    acquire: impl Future<Output = T>,
) -> T {
    let started = Instant::now();
    let acquired = acquire.await;
    record_wait(backend, wait, started.elapsed());
    acquired
}
