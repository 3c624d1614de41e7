//! What the control API for test suites needs from the store (a clock offset and a reset
//! counter every instance on the store shares, and wiping everything clients made), and what
//! instances read to keep what they hold in memory coherent with the store.

use async_trait::async_trait;
use orgdoor_domain::OrgId;
use tracing::instrument;

use crate::StoreError;
use crate::sql::{Backend, Connection};

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
const KEPT_TABLES: [&str; 5] = [
    "_sqlx_migrations",
    "server_secrets",
    "control_state",
    "credential_generation",
    // Its numbers must keep rising across a reset, or instances would miss what follows it.
    "org_changes",
];

/// Where a reading of the store's changes left off: the next reading reports what committed
/// after it. The first reading starts from nothing and reports every organization as changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeCursor(Option<String>);

/// Which organizations' invitations or users changed since a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangedOrganizations {
    /// Any of them might have (a first reading, or a reset).
    Every,
    /// These, and no others.
    These(Vec<OrgId>),
}

/// One reading of what changed in the store.
#[derive(Debug, Clone)]
pub struct StoreChanges {
    /// As [`ControlStore::credential_generation`] reads it.
    pub credential_generation: i64,
    pub organizations: ChangedOrganizations,
    /// Where this reading left off.
    pub cursor: ChangeCursor,
}

/// The organization id that marks every organization changed.
const EVERY_ORGANIZATION: &str = "*";

impl ChangedOrganizations {
    /// From the comma-separated ids a reading returns; anything that is not an id (the reset's
    /// mark) stands for every organization.
    fn parse(joined: &str) -> Self {
        let mut changed = Vec::new();
        for id in joined.split(',').filter(|id| !id.is_empty()) {
            match id.parse() {
                Ok(id) => changed.push(id),
                Err(_) => return Self::Every,
            }
        }
        Self::These(changed)
    }
}

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

    /// The credential generation and the organizations whose invitations or users changed
    /// since `since`, in one reading.
    async fn read_changes(&self, since: &ChangeCursor) -> Result<StoreChanges, StoreError>;

    /// Forgets the record of changes every instance has read: those that committed before
    /// `read_by_all`, a cursor from a reading old enough that any instance that has not read
    /// past it since treats everything as changed. Does nothing on stores whose record needs
    /// no pruning.
    async fn prune_changes(&self, read_by_all: &ChangeCursor) -> Result<(), StoreError>;
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
        self.write_transaction(move |tx| {
            Box::pin(async move {
                tx.query("UPDATE control_state SET clock_offset_ms = $1 WHERE id = 1")
                    .bind(offset_ms)
                    .execute()
                    .await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn reset_everything(&self) -> Result<ControlState, StoreError> {
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let tables: Vec<String> = tx
                    .query(B::WriteConnection::LIST_TABLES)
                    .fetch_all_scalars()
                    .await?;
                let tables: Vec<&str> = tables
                    .iter()
                    .map(String::as_str)
                    .filter(|table| !KEPT_TABLES.contains(table))
                    .collect();
                for statement in B::WriteConnection::empty_tables(&tables) {
                    tx.query(&statement).execute().await?;
                }
                // Emptied by `TRUNCATE` on PostgreSQL, which fires no row triggers.
                tx.query("UPDATE credential_generation SET generation = generation + 1 WHERE id = 1")
                    .execute()
                    .await?;
                tx.query(B::WriteConnection::RECORD_ORG_CHANGE)
                    .bind(EVERY_ORGANIZATION)
                    .execute()
                    .await?;
                let (clock_offset_ms, resets): (i64, i64) = tx
                    .query(
                        "UPDATE control_state SET clock_offset_ms = 0, resets = resets + 1 WHERE id = 1 \
                         RETURNING clock_offset_ms, resets",
                    )
                    .fetch_one()
                    .await?;
                Ok(ControlState {
                    clock_offset_ms,
                    resets,
                })
            })
        })
        .await
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

    #[instrument(level = "debug", skip(self))]
    async fn read_changes(&self, since: &ChangeCursor) -> Result<StoreChanges, StoreError> {
        let (credential_generation, cursor, changed): (i64, String, Option<String>) = self
            .follow()
            .await?
            .query(B::Connection::READ_CHANGES)
            .bind(since.0.as_deref())
            .fetch_one()
            .await?;
        let organizations = match (&since.0, changed) {
            (Some(_), Some(changed)) => ChangedOrganizations::parse(&changed),
            (Some(_), None) => ChangedOrganizations::These(Vec::new()),
            (None, _) => ChangedOrganizations::Every,
        };
        Ok(StoreChanges {
            credential_generation,
            organizations,
            cursor: ChangeCursor(Some(cursor)),
        })
    }

    #[instrument(level = "debug", skip(self))]
    async fn prune_changes(&self, read_by_all: &ChangeCursor) -> Result<(), StoreError> {
        let (Some(prune), Some(cursor)) = (B::WriteConnection::PRUNE_CHANGES, &read_by_all.0)
        else {
            return Ok(());
        };
        let cursor = cursor.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                tx.query(prune).bind(cursor.as_str()).execute().await?;
                Ok(())
            })
        })
        .await
    }
}
