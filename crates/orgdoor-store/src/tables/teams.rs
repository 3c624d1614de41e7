//! `teams` and who is in them (`team_members`).

use orgdoor_domain::{OrgId, Team, TeamId, UserId};
use time::OffsetDateTime;

use crate::rows::{TEAM_COLUMNS, TeamRow, count, seconds, write_error};
use crate::sql::Connection;
use crate::{MAX_USERS_PER_TEAM, Rejection, StoreError};

/// The team of `org` whose `column` (`id` or `name_key`) holds `value`.
pub(crate) async fn fetch_team<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    column: &str,
    value: &str,
) -> Result<Option<Team>, StoreError> {
    let row: Option<TeamRow> = conn
        .query(&format!(
            "SELECT {TEAM_COLUMNS} FROM teams WHERE org_id = $1 AND {column} = $2"
        ))
        .bind(org.as_str())
        .bind(value)
        .fetch_optional()
        .await?;
    row.map(Team::try_from).transpose()
}

/// Adds a member to a team; [`Rejection::AlreadyInTeam`] when they are in it.
pub(crate) async fn insert_team_member<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    team: &TeamId,
    user: &UserId,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    conn.query(
        "INSERT INTO team_members (team_id, org_id, user_id, added_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(team.as_str())
    .bind(org.as_str())
    .bind(user.as_str())
    .bind(seconds(now))
    .execute()
    .await
    .map_err(|error| {
        write_error(error, org, || Rejection::AlreadyInTeam {
            user: user.clone(),
            team: team.clone(),
        })
    })?;
    Ok(())
}

/// Refuses a team that now has more members than allowed.
pub(crate) async fn check_team_size<C: Connection>(
    conn: &mut C,
    team: &TeamId,
) -> Result<(), StoreError> {
    let members: i64 = conn
        .query("SELECT COUNT(*) FROM team_members WHERE team_id = $1")
        .bind(team.as_str())
        .fetch_scalar()
        .await?;
    if count(members) > MAX_USERS_PER_TEAM as u64 {
        return Err(Rejection::TeamFull(team.clone()).into());
    }
    Ok(())
}

/// Locks a team of `org` (PostgreSQL; SQLite's write transaction already serializes), so
/// member counts stay exact; [`Rejection::TeamNotFound`] when there is none.
pub(crate) async fn lock_team<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    team: &TeamId,
) -> Result<(), StoreError> {
    let found: Option<String> = conn
        .query(&format!(
            "SELECT id FROM teams WHERE org_id = $1 AND id = $2{}",
            C::LOCK_ROWS
        ))
        .bind(org.as_str())
        .bind(team.as_str())
        .fetch_optional_scalar()
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| Rejection::TeamNotFound(team.clone()).into())
}
