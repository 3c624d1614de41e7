//! What the control API for test suites needs from the store: a clock offset and a reset
//! counter every instance on the store shares, and wiping everything clients made.

use async_trait::async_trait;
use tracing::instrument;

use crate::StoreError;
use crate::sql::{Backend, Connection, WriteTransaction};

/// The control state every instance on the store shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ControlState {
    /// How far ahead of the wall clock (behind, if negative) the server's clock is, in
    /// milliseconds.
    pub clock_offset_ms: i64,
    /// How many resets there have been; an instance that sees it change forgets what it holds
    /// in memory.
    pub resets: i64,
}

/// Tables a reset keeps: the schema's history, the secrets every instance signs with, and the
/// control state itself.
const KEPT_TABLES: [&str; 4] = [
    "_sqlx_migrations",
    "server_secrets",
    "control_state",
    "credential_generation",
];

#[async_trait]
pub trait ControlStore: Send + Sync {
    async fn control_state(&self) -> Result<ControlState, StoreError>;

    /// Sets the server clock's offset from the wall clock.
    async fn set_clock_offset(&self, offset_ms: i64) -> Result<(), StoreError>;

    /// Deletes everything clients made (organizations, credentials, invitations, events, the
    /// outbox, rate-limit buckets), returns the clock to the wall clock and counts a reset, in
    /// one transaction; returns the new state.
    async fn reset_everything(&self) -> Result<ControlState, StoreError>;

    /// A number that moves whenever anything that authenticates a caller changes (a key, a
    /// token, an account, an access list, a project role, an organization): while it stands
    /// still, credentials read earlier are still what the store holds.
    async fn credential_generation(&self) -> Result<i64, StoreError>;
}

#[async_trait]
impl<B: Backend> ControlStore for B {
    #[instrument(level = "debug", skip(self))]
    async fn control_state(&self) -> Result<ControlState, StoreError> {
        let (clock_offset_ms, resets): (i64, i64) = self
            .read()
            .await?
            .query("SELECT clock_offset_ms, resets FROM control_state WHERE id = 1")
            .fetch_one()
            .await?;
        Ok(ControlState {
            clock_offset_ms,
            resets,
        })
    }

    #[instrument(level = "debug", skip(self))]
    async fn set_clock_offset(&self, offset_ms: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        tx.query("UPDATE control_state SET clock_offset_ms = $1 WHERE id = 1")
            .bind(offset_ms)
            .execute()
            .await?;
        tx.commit().await
    }

    #[instrument(level = "debug", skip(self))]
    async fn reset_everything(&self) -> Result<ControlState, StoreError> {
        let mut tx = self.begin_write().await?;
        let tables: Vec<String> = tx
            .query(B::Connection::LIST_TABLES)
            .fetch_all_scalars()
            .await?;
        let tables: Vec<&str> = tables
            .iter()
            .map(String::as_str)
            .filter(|table| !KEPT_TABLES.contains(table))
            .collect();
        for statement in B::Connection::empty_tables(&tables) {
            tx.query(&statement).execute().await?;
        }
        // Emptied by `TRUNCATE` on PostgreSQL, which fires no row triggers.
        tx.query("UPDATE credential_generation SET generation = generation + 1 WHERE id = 1")
            .execute()
            .await?;
        let (clock_offset_ms, resets): (i64, i64) = tx
            .query(
                "UPDATE control_state SET clock_offset_ms = 0, resets = resets + 1 WHERE id = 1 \
                 RETURNING clock_offset_ms, resets",
            )
            .fetch_one()
            .await?;
        tx.commit().await?;
        Ok(ControlState {
            clock_offset_ms,
            resets,
        })
    }

    #[instrument(level = "debug", skip(self))]
    async fn credential_generation(&self) -> Result<i64, StoreError> {
        let (generation,): (i64,) = self
            .read()
            .await?
            .query("SELECT generation FROM credential_generation WHERE id = 1")
            .fetch_one()
            .await?;
        Ok(generation)
    }
}
