//! `projects` and their tags.

use orgdoor_domain::{Group, GroupId, GroupTag};

use crate::rows::{GROUP_COLUMNS, GroupRow, corrupt};
use crate::sql::Connection;
use crate::tables::position;
use crate::{Rejection, StoreError};

/// Reads a project; with `lock`, also locks its row until the transaction ends.
pub(crate) async fn fetch_group<C: Connection>(
    conn: &mut C,
    id: &GroupId,
    lock: bool,
) -> Result<Option<Group>, StoreError> {
    let lock = if lock { C::LOCK_ROWS } else { "" };
    let row: Option<GroupRow> = conn
        .query(&format!(
            "SELECT {GROUP_COLUMNS} FROM projects WHERE id = $1{lock}"
        ))
        .bind(id.as_str())
        .fetch_optional()
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut groups = [Group::try_from(row)?];
    load_group_tags(conn, &mut groups).await?;
    let [group] = groups;
    Ok(Some(group))
}

/// The project, or [`Rejection::GroupNotFound`].
pub(crate) async fn existing_group<C: Connection>(
    conn: &mut C,
    id: &GroupId,
    lock: bool,
) -> Result<Group, StoreError> {
    fetch_group(conn, id, lock)
        .await?
        .ok_or_else(|| Rejection::GroupNotFound(id.clone()).into())
}

pub(crate) async fn load_group_tags<C: Connection>(
    conn: &mut C,
    groups: &mut [Group],
) -> Result<(), StoreError> {
    for group in groups {
        let rows: Vec<(String, String)> = conn
            .query(
                "SELECT tag_key, tag_value FROM project_tags \
                 WHERE project_id = $1 ORDER BY position",
            )
            .bind(group.id.as_str())
            .fetch_all()
            .await?;
        group.tags = rows
            .into_iter()
            .map(|(key, value)| GroupTag::new(key, value).map_err(corrupt))
            .collect::<Result<_, _>>()?;
    }
    Ok(())
}

pub(crate) async fn replace_group_tags<C: Connection>(
    conn: &mut C,
    id: &GroupId,
    tags: &[GroupTag],
) -> Result<(), StoreError> {
    conn.query("DELETE FROM project_tags WHERE project_id = $1")
        .bind(id.as_str())
        .execute()
        .await?;
    for (index, tag) in tags.iter().enumerate() {
        conn.query(
            "INSERT INTO project_tags (project_id, position, tag_key, tag_value) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id.as_str())
        .bind(position(index))
        .bind(tag.key())
        .bind(tag.value())
        .execute()
        .await?;
    }
    Ok(())
}
