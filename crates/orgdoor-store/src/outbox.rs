//! The outbox: reading an organization's messages, and the delivery worker's claims and
//! outcomes. Messages are put in by the use cases that compose them (inviting someone), in the
//! same transaction.

use async_trait::async_trait;
use orgdoor_domain::{EmailAddress, MessageId, OrgId, OutboxMessage, Page, PageRequest};
use time::OffsetDateTime;
use tracing::instrument;

use crate::StoreError;
use crate::rows::{count, limit_offset, seconds};
use crate::sql::FromWriterRow;
use crate::sql::{Backend, Connection};
use crate::tables::outbox::{OUTBOX_COLUMNS, OutboxRow};

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed; tried again at `retry_at`, or given up without one.
    Failed {
        error: String,
        retry_at: Option<OffsetDateTime>,
    },
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// An organization's messages, newest first, optionally only those to `to`.
    async fn list_outbox(
        &self,
        org: &OrgId,
        to: Option<&EmailAddress>,
        page: PageRequest,
    ) -> Result<Page<OutboxMessage>, StoreError>;

    /// Leases to `owner`, until `lease_until`, up to `limit` pending messages that are due at
    /// `now` and that nobody holds a live lease on, and returns them, longest due first. Two
    /// instances never hold one message at once. Due messages whose invitation no longer
    /// carries their link become [`DeliveryStatus::Withdrawn`](orgdoor_domain::DeliveryStatus)
    /// instead.
    async fn claim_due_messages(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Records how an attempt on a message `owner` holds the lease of ended, and lets the lease
    /// go; `false` (nothing recorded) when `owner` no longer holds it.
    async fn record_delivery(
        &self,
        id: &MessageId,
        owner: &str,
        outcome: DeliveryOutcome,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Deletes the messages created before `before`, whatever their status; returns how many.
    /// Their links have died with their invitations by then.
    async fn prune_outbox(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// How many messages, over every organization, wait for delivery and how many were given
    /// up: what a metrics scrape reports.
    async fn outbox_depth(&self) -> Result<OutboxDepth, StoreError>;
}

/// Messages by the statuses an operator watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxDepth {
    /// `PENDING`: waiting to be delivered or tried again.
    pub pending: u64,
    /// `FAILED`: given up.
    pub failed: u64,
}

#[async_trait]
impl<B: Backend> OutboxStore for B {
    #[instrument(level = "debug", skip(self))]
    async fn list_outbox(
        &self,
        org: &OrgId,
        to: Option<&EmailAddress>,
        page: PageRequest,
    ) -> Result<Page<OutboxMessage>, StoreError> {
        // One statement either way: a `NULL` address matches every message.
        const MATCHING: &str =
            "FROM outbox WHERE org_id = $1 AND ($2 IS NULL OR recipient_key = $2)";
        let to_key = to.map(EmailAddress::key);
        let mut conn = self.read().await?;
        let total: i64 = conn
            .query(&format!("SELECT COUNT(*) {MATCHING}"))
            .bind(org.as_str())
            .bind(to_key.clone())
            .fetch_scalar()
            .await?;
        let (limit, offset) = limit_offset(page);
        let rows: Vec<OutboxRow> = conn
            .query(&format!(
                "SELECT {OUTBOX_COLUMNS} {MATCHING} \
                 ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
            ))
            .bind(org.as_str())
            .bind(to_key)
            .bind(limit)
            .bind(offset)
            .fetch_all()
            .await?;
        let items = rows
            .into_iter()
            .map(|row| row.open(self.sealer()))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            total_count: count(total),
        })
    }

    #[instrument(level = "debug", skip(self))]
    async fn claim_due_messages(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let owner = owner.to_owned();
        let mut claimed = self
            .write_transaction(move |tx| {
                Box::pin(async move {
                // A message whose link its invitation no longer has (cancelled, answered, sent again,
                // expired) would send a dead link: it is withdrawn instead.
                tx.query(
                    "UPDATE outbox SET status = 'WITHDRAWN', lease_owner = NULL, lease_until = NULL \
                     WHERE status = 'PENDING' AND next_attempt_at <= $1 \
                     AND (lease_until IS NULL OR lease_until <= $1) \
                     AND invitation_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM invitations i \
                         WHERE i.id = outbox.invitation_id AND i.link_token_hash = outbox.link_token_hash \
                         AND i.declined_at IS NULL AND i.expires_at > $1)",
                )
                .bind(seconds(now))
                .execute()
                .await?;
                // The messages chosen once, in a materialized CTE: as `id IN (SELECT … LIMIT n)`,
                // PostgreSQL may run the choice again per row and claim more than `n`. The outer
                // conditions repeat the inner ones: on PostgreSQL an instance that waited for another's
                // claim re-reads the row and must then see it taken.
                let sql = format!(
                    "WITH due AS MATERIALIZED (SELECT id FROM outbox WHERE status = 'PENDING' \
                         AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
                         ORDER BY next_attempt_at, id LIMIT $4{}) \
                     UPDATE outbox SET lease_owner = $1, lease_until = $2 \
                     WHERE status = 'PENDING' AND next_attempt_at <= $3 \
                     AND (lease_until IS NULL OR lease_until <= $3) \
                     AND id IN (SELECT id FROM due) \
                     RETURNING {OUTBOX_COLUMNS}, next_attempt_at",
                    B::WriteConnection::SKIP_LOCKED
                );
                let claimed: Vec<ClaimedRow> = tx
                    .query(&sql)
                    .bind(owner.as_str())
                    .bind(seconds(lease_until))
                    .bind(seconds(now))
                    .bind(i64::from(limit))
                    .fetch_all()
                    .await?;
                    Ok(claimed)
                })
            })
            .await?;
        // `RETURNING` keeps no order.
        claimed
            .sort_by(|a, b| (a.next_attempt_at, a.row.id()).cmp(&(b.next_attempt_at, b.row.id())));
        claimed
            .into_iter()
            .map(|claimed| claimed.row.open(self.sealer()))
            .collect()
    }

    #[instrument(level = "debug", skip(self))]
    async fn record_delivery(
        &self,
        id: &MessageId,
        owner: &str,
        outcome: DeliveryOutcome,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (id, owner) = (id.clone(), owner.to_owned());
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let statement = match &outcome {
                    DeliveryOutcome::Delivered => tx
                        .query(
                            "UPDATE outbox SET status = 'DELIVERED', delivered_at = $3, \
                             attempts = attempts + 1, last_error = NULL, lease_owner = NULL, \
                             lease_until = NULL WHERE id = $1 AND lease_owner = $2",
                        )
                        .bind(id.as_str())
                        .bind(owner.as_str())
                        .bind(seconds(now)),
                    DeliveryOutcome::Failed { error, retry_at } => tx
                        .query(
                            "UPDATE outbox SET status = $3, next_attempt_at = $4, \
                             attempts = attempts + 1, last_error = $5, lease_owner = NULL, \
                             lease_until = NULL WHERE id = $1 AND lease_owner = $2",
                        )
                        .bind(id.as_str())
                        .bind(owner.as_str())
                        .bind(if retry_at.is_some() {
                            "PENDING"
                        } else {
                            "FAILED"
                        })
                        .bind(seconds(retry_at.unwrap_or(now)))
                        .bind(error.as_str()),
                };
                Ok(statement.execute().await? == 1)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn prune_outbox(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let pruned = tx
                    .query("DELETE FROM outbox WHERE created_at < $1")
                    .bind(seconds(before))
                    .execute()
                    .await?;
                Ok(pruned)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn outbox_depth(&self) -> Result<OutboxDepth, StoreError> {
        const BY_STATUS: &str = "SELECT COUNT(*) FROM outbox WHERE status = $1";
        let mut conn = self.read().await?;
        let pending: i64 = conn.query(BY_STATUS).bind("PENDING").fetch_scalar().await?;
        let failed: i64 = conn.query(BY_STATUS).bind("FAILED").fetch_scalar().await?;
        Ok(OutboxDepth {
            pending: count(pending),
            failed: count(failed),
        })
    }
}

/// A claimed message and when it was due, to hand claims out longest due first.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    #[sqlx(flatten)]
    row: OutboxRow,
    next_attempt_at: i64,
}

impl FromWriterRow for ClaimedRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            row: OutboxRow::from_writer_row(row)?,
            next_attempt_at: row.get("next_attempt_at")?,
        })
    }
}
