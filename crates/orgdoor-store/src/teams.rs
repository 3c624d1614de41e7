//! Teams of an organization and who is in them.

use async_trait::async_trait;
use orgdoor_domain::{
    EmailAddress, EventTarget, EventType, MembershipUpdate, NewEvent, OrgId, OrgUser, Page,
    PageRequest, Team, TeamId, TeamName, UserId,
};
use time::OffsetDateTime;
use tracing::instrument;

use crate::rows::{TEAM_COLUMNS, TeamRow, seconds, write_error};
use crate::sql::{Backend, Connection};
use crate::tables::events::{account_target, record_event, team_event};
use crate::tables::members::{
    change_current_org_user, fetch_member, member_by_username, not_a_member,
};
use crate::tables::teams::{check_team_size, fetch_team, insert_team_member, lock_team};
use crate::tables::{one_row_or, org_page};
use crate::{Rejection, StoreError};

#[async_trait]
pub trait TeamStore: Send + Sync {
    /// Stores a team with the members named by address; [`Rejection::TeamNameTaken`] when the
    /// organization has one of that name, [`Rejection::UserNotInOrg`] or
    /// [`Rejection::PendingUser`] when an address is not a member.
    async fn create_team(&self, team: &Team, usernames: &[EmailAddress]) -> Result<(), StoreError>;

    async fn list_teams(&self, org: &OrgId, page: PageRequest) -> Result<Page<Team>, StoreError>;

    async fn get_team(&self, org: &OrgId, id: &TeamId) -> Result<Option<Team>, StoreError>;

    /// The organization's team of that name, compared without regard to letter case (names
    /// are unique that way).
    async fn find_team_by_name(
        &self,
        org: &OrgId,
        name: &TeamName,
    ) -> Result<Option<Team>, StoreError>;

    async fn rename_team(
        &self,
        org: &OrgId,
        id: &TeamId,
        name: &TeamName,
    ) -> Result<Team, StoreError>;

    /// Deletes a team and its place in every invitation.
    async fn delete_team(&self, org: &OrgId, id: &TeamId) -> Result<(), StoreError>;

    /// Puts members into a team, all or none: [`Rejection::PendingUser`],
    /// [`Rejection::UserNotInOrg`], [`Rejection::AlreadyInTeam`], [`Rejection::TeamFull`].
    async fn add_team_members(
        &self,
        org: &OrgId,
        team: &TeamId,
        users: &[UserId],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Puts a member or pending invitee into a team (`join`), or takes them out, and returns
    /// them: an invitee's team is kept on the invitation and applied on acceptance.
    /// [`Rejection::TeamNotFound`] for a team not in `org`, [`Rejection::UserNotInOrg`] for anyone
    /// else or a user not in the team being left, [`Rejection::AlreadyInTeam`] on a second join.
    async fn change_team_membership(
        &self,
        org: &OrgId,
        team: &TeamId,
        user: &UserId,
        join: bool,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError>;

    /// Takes a member out of a team ([`Rejection::UserNotInOrg`] when they are not in it).
    async fn remove_team_member(
        &self,
        org: &OrgId,
        team: &TeamId,
        user: &UserId,
    ) -> Result<(), StoreError>;
}

/// Puts the members with these addresses into a new team.
async fn add_team_members_by_username<C: Connection>(
    conn: &mut C,
    team: &Team,
    usernames: &[EmailAddress],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    for username in usernames {
        let Some(user) = member_by_username(conn, &team.org_id, username).await? else {
            let key = username.key();
            let who = username.to_string();
            return Err(not_a_member(conn, &team.org_id, "username_key", &key, who, now).await?);
        };
        // The same address twice in the list adds them once. (A failed insert would abort a
        // PostgreSQL transaction, so the conflict is avoided rather than caught.)
        conn.query(
            "INSERT INTO team_members (team_id, org_id, user_id, added_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (team_id, user_id) DO NOTHING",
        )
        .bind(team.id.as_str())
        .bind(team.org_id.as_str())
        .bind(user.as_str())
        .bind(seconds(now))
        .execute()
        .await?;
    }
    check_team_size(conn, &team.id).await
}

#[async_trait]
impl<B: Backend> TeamStore for B {
    #[instrument(level = "debug", skip(self))]
    async fn create_team(&self, team: &Team, usernames: &[EmailAddress]) -> Result<(), StoreError> {
        let team = team.clone();
        let usernames = usernames.to_vec();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (team, usernames) = (&team, usernames.as_slice());
                tx.query(
                    "INSERT INTO teams (id, org_id, name, name_key, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(team.id.as_str())
                .bind(team.org_id.as_str())
                .bind(team.name.as_str())
                .bind(team.name.as_str().to_lowercase())
                .bind(seconds(team.created_at))
                .execute()
                .await
                .map_err(|error| {
                    write_error(error, &team.org_id, || {
                        Rejection::TeamNameTaken(team.name.to_string())
                    })
                })?;
                add_team_members_by_username(&mut *tx, team, usernames, team.created_at).await?;
                record_event(
                    &mut *tx,
                    &team.org_id,
                    team_event(EventType::TeamCreated, &team.id),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn list_teams(&self, org: &OrgId, page: PageRequest) -> Result<Page<Team>, StoreError> {
        let mut conn = self.read().await?;
        let (rows, total_count) =
            org_page::<_, TeamRow>(&mut *conn, "teams", TEAM_COLUMNS, "id", org, page).await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(Team::try_from)
                .collect::<Result<_, _>>()?,
            total_count,
        })
    }

    #[instrument(level = "debug", skip(self))]
    async fn get_team(&self, org: &OrgId, id: &TeamId) -> Result<Option<Team>, StoreError> {
        fetch_team(&mut *self.read().await?, org, "id", id.as_str()).await
    }

    #[instrument(level = "debug", skip(self))]
    async fn find_team_by_name(
        &self,
        org: &OrgId,
        name: &TeamName,
    ) -> Result<Option<Team>, StoreError> {
        let name_key = name.as_str().to_lowercase();
        fetch_team(&mut *self.read().await?, org, "name_key", &name_key).await
    }

    #[instrument(level = "debug", skip(self))]
    async fn rename_team(
        &self,
        org: &OrgId,
        id: &TeamId,
        name: &TeamName,
    ) -> Result<Team, StoreError> {
        let org = org.clone();
        let id = id.clone();
        let name = name.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, id, name) = (&org, &id, &name);
                let row: Option<TeamRow> = tx
                    .query(&format!(
                        "UPDATE teams SET name = $1, name_key = $2 WHERE org_id = $3 AND id = $4 \
                         RETURNING {TEAM_COLUMNS}"
                    ))
                    .bind(name.as_str())
                    .bind(name.as_str().to_lowercase())
                    .bind(org.as_str())
                    .bind(id.as_str())
                    .fetch_optional()
                    .await
                    .map_err(|error| {
                        write_error(error, org, || Rejection::TeamNameTaken(name.to_string()))
                    })?;
                let team: Team = row
                    .ok_or_else(|| Rejection::TeamNotFound(id.clone()))?
                    .try_into()?;
                record_event(&mut *tx, org, team_event(EventType::TeamNameChanged, id)).await?;
                Ok(team)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn delete_team(&self, org: &OrgId, id: &TeamId) -> Result<(), StoreError> {
        let org = org.clone();
        let id = id.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, id) = (&org, &id);
                let deleted = tx
                    .query("DELETE FROM teams WHERE org_id = $1 AND id = $2")
                    .bind(org.as_str())
                    .bind(id.as_str())
                    .execute()
                    .await?;
                one_row_or(deleted, Rejection::TeamNotFound(id.clone()))?;
                record_event(&mut *tx, org, team_event(EventType::TeamDeleted, id)).await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn add_team_members(
        &self,
        org: &OrgId,
        team: &TeamId,
        users: &[UserId],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let org = org.clone();
        let team = team.clone();
        let users = users.to_vec();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, team, users) = (&org, &team, users.as_slice());
                lock_team(&mut *tx, org, team).await?;
                for user in users {
                    let Some(member) = fetch_member(&mut *tx, org, user, false).await? else {
                        let who = user.to_string();
                        return Err(not_a_member(
                            &mut *tx,
                            org,
                            "user_id",
                            user.as_str(),
                            who,
                            now,
                        )
                        .await?);
                    };
                    insert_team_member(&mut *tx, org, team, user, now).await?;
                    if !member.team_ids.contains(team) {
                        let target = EventTarget {
                            username: Some(member.user.username.clone()),
                            user_id: Some(user.clone()),
                            team_id: Some(team.clone()),
                            ..EventTarget::default()
                        };
                        record_event(&mut *tx, org, NewEvent::new(EventType::JoinedTeam, target))
                            .await?;
                    }
                }
                check_team_size(&mut *tx, team).await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn change_team_membership(
        &self,
        org: &OrgId,
        team: &TeamId,
        user: &UserId,
        join: bool,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError> {
        let org = org.clone();
        let team = team.clone();
        let user = user.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, team, user) = (&org, &team, &user);
                lock_team(&mut *tx, org, team).await?;
                let changed = change_current_org_user(&mut *tx, org, user, now, |current| {
                    let mut teams = current.team_ids().to_vec();
                    match (join, teams.contains(team)) {
                        (true, true) => {
                            let user = user.clone();
                            let team = team.clone();
                            return Err(Rejection::AlreadyInTeam { user, team }.into());
                        }
                        (true, false) => teams.push(team.clone()),
                        (false, true) => teams.retain(|held| held != team),
                        (false, false) => return Err(Rejection::user_not_in_org(user, org).into()),
                    }
                    Ok(MembershipUpdate {
                        team_ids: Some(teams),
                        ..MembershipUpdate::default()
                    })
                })
                .await?;
                Ok(changed)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn remove_team_member(
        &self,
        org: &OrgId,
        team: &TeamId,
        user: &UserId,
    ) -> Result<(), StoreError> {
        let org = org.clone();
        let team = team.clone();
        let user = user.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (org, team, user) = (&org, &team, &user);
                lock_team(&mut *tx, org, team).await?;
                let removed = tx
                    .query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
                    .bind(team.as_str())
                    .bind(user.as_str())
                    .execute()
                    .await?;
                one_row_or(removed, Rejection::user_not_in_org(user, org))?;
                let target = EventTarget {
                    team_id: Some(team.clone()),
                    ..account_target(&mut *tx, user).await?
                };
                record_event(
                    &mut *tx,
                    org,
                    NewEvent::new(EventType::RemovedFromTeam, target),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }
}
