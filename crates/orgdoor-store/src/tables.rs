//! Statements on one family of tables each, shared by the use cases above them (the aggregate
//! modules). A function here runs inside its caller's connection or transaction and never
//! commits; none of these modules implements a store trait.

pub(crate) mod api_keys;
pub(crate) mod credentials;
pub(crate) mod events;
pub(crate) mod invitations;
pub(crate) mod members;
pub(crate) mod organizations;
pub(crate) mod outbox;
pub(crate) mod projects;
pub(crate) mod teams;

use orgdoor_domain::{OrgId, PageRequest};

use crate::rows::{count, limit_offset};
use crate::sql::{Connection, Record};
use crate::{Rejection, StoreError};

/// One page of an organization's rows of `table`, oldest first, and the number of all of them.
pub(crate) async fn org_page<C: Connection, R: Record>(
    conn: &mut C,
    table: &str,
    columns: &str,
    key_column: &str,
    org: &OrgId,
    page: PageRequest,
) -> Result<(Vec<R>, u64), StoreError> {
    let total: i64 = conn
        .query(&format!("SELECT COUNT(*) FROM {table} WHERE org_id = $1"))
        .bind(org.as_str())
        .fetch_scalar()
        .await?;
    let (limit, offset) = limit_offset(page);
    let rows = conn
        .query(&format!(
            "SELECT {columns} FROM {table} WHERE org_id = $1 \
             ORDER BY created_at, {key_column} LIMIT $2 OFFSET $3"
        ))
        .bind(org.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all()
        .await?;
    Ok((rows, count(total)))
}

/// `Ok` when a write touched a row, else the given rejection (nothing matched).
pub(crate) fn one_row_or(rows: u64, missing: Rejection) -> Result<(), StoreError> {
    if rows == 0 {
        Err(missing.into())
    } else {
        Ok(())
    }
}

/// A list position as stored.
pub(crate) fn position(index: usize) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX)
}
