//! Projects (Atlas's "groups"), their tags, and the teams with roles in them.

use async_trait::async_trait;
use orgdoor_domain::{
    ApiKeyId, EventTarget, EventType, Group, GroupId, GroupRole, GroupRoles, GroupUpdate, NewEvent,
    OrgId, Page, PageRequest, ProjectGrant, ProjectName, TeamId,
};
use time::OffsetDateTime;
use tracing::instrument;

use crate::rows::{
    GROUP_COLUMNS, GroupRow, decode_roles, encode_roles, parse, seconds, write_error,
};
use crate::sql::{Backend, Connection};
use crate::tables::api_keys::{fetch_api_key, upsert_key_grant};
use crate::tables::events::{record_event, team_event};
use crate::tables::invitations::check_references;
use crate::tables::org_page;
use crate::tables::projects::{existing_group, fetch_group, load_group_tags, replace_group_tags};
use crate::{ProjectTeam, Rejection, StoreError};

#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// Stores a project; [`Rejection::ProjectNameTaken`] when the organization has one of that
    /// name. With `owner_key`, that key (of the project's organization) becomes the project's
    /// `GROUP_OWNER` in the same transaction, as when a key creates a project on Atlas.
    async fn create_group(
        &self,
        group: &Group,
        owner_key: Option<&ApiKeyId>,
    ) -> Result<(), StoreError>;

    /// Projects of an organization, oldest first.
    async fn list_groups(&self, org: &OrgId, page: PageRequest) -> Result<Page<Group>, StoreError>;

    async fn get_group(&self, id: &GroupId) -> Result<Option<Group>, StoreError>;

    /// The organization's project of this name, ignoring case.
    async fn find_group_by_name(
        &self,
        org: &OrgId,
        name: &ProjectName,
    ) -> Result<Option<Group>, StoreError>;

    async fn update_group(&self, id: &GroupId, update: GroupUpdate) -> Result<Group, StoreError>;

    /// Deletes a project and its place in every invitation.
    async fn delete_group(&self, id: &GroupId) -> Result<(), StoreError>;

    /// The teams with roles in a project, in the order they were first given one.
    async fn list_project_teams(&self, group: &GroupId) -> Result<Vec<ProjectTeam>, StoreError>;

    /// Gives each team its roles in the project (replacing roles a team already has), all or
    /// none; [`Rejection::TeamNotFound`] or [`Rejection::TeamNotInOrg`] for a team that is not
    /// in the project's organization.
    async fn assign_project_teams(
        &self,
        group: &GroupId,
        teams: &[ProjectTeam],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Takes a team off a project ([`Rejection::TeamNotFound`] when it has no role there).
    async fn remove_project_team(&self, group: &GroupId, team: &TeamId) -> Result<(), StoreError>;
}

/// A failed insert or update of `group`'s row: its name taken in the organization, or the
/// organization gone.
fn group_write_error(error: sqlx::Error, group: &Group) -> StoreError {
    write_error(error, &group.org_id, || {
        Rejection::ProjectNameTaken(group.name.to_string())
    })
}

#[async_trait]
impl<B: Backend> ProjectStore for B {
    #[instrument(level = "debug", skip(self))]
    async fn create_group(
        &self,
        group: &Group,
        owner_key: Option<&ApiKeyId>,
    ) -> Result<(), StoreError> {
        let group = group.clone();
        let owner_key = owner_key.cloned();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (group, owner_key) = (&group, owner_key.as_ref());
                tx.query(
                    "INSERT INTO projects \
                     (id, org_id, name, name_key, with_default_alerts_settings, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(group.id.as_str())
                .bind(group.org_id.as_str())
                .bind(group.name.as_str())
                .bind(group.name.as_str().to_lowercase())
                .bind(group.with_default_alerts_settings)
                .bind(seconds(group.created_at))
                .execute()
                .await
                .map_err(|error| group_write_error(error, group))?;
                replace_group_tags(&mut *tx, &group.id, &group.tags).await?;
                if let Some(owner_key) = owner_key {
                    let key = fetch_api_key(&mut *tx, &group.org_id, owner_key)
                        .await?
                        .ok_or_else(|| Rejection::ApiKeyNotFound(owner_key.clone()))?;
                    let grant = ProjectGrant {
                        group_id: group.id.clone(),
                        roles: GroupRoles::single(GroupRole::Owner),
                    };
                    upsert_key_grant(&mut *tx, &key, &grant, group.created_at).await?;
                }
                let event = NewEvent::in_project(
                    EventType::GroupCreated,
                    &group.id,
                    EventTarget::default(),
                );
                record_event(&mut *tx, &group.org_id, event).await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn list_groups(&self, org: &OrgId, page: PageRequest) -> Result<Page<Group>, StoreError> {
        let mut conn = self.read().await?;
        let (rows, total_count) =
            org_page::<_, GroupRow>(&mut *conn, "projects", GROUP_COLUMNS, "id", org, page).await?;
        let mut groups = rows
            .into_iter()
            .map(Group::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        load_group_tags(&mut *conn, &mut groups).await?;
        Ok(Page {
            items: groups,
            total_count,
        })
    }

    #[instrument(level = "debug", skip(self))]
    async fn get_group(&self, id: &GroupId) -> Result<Option<Group>, StoreError> {
        fetch_group(&mut *self.read().await?, id, false).await
    }

    #[instrument(level = "debug", skip(self))]
    async fn find_group_by_name(
        &self,
        org: &OrgId,
        name: &ProjectName,
    ) -> Result<Option<Group>, StoreError> {
        let mut conn = self.read().await?;
        let id: Option<String> = conn
            .query("SELECT id FROM projects WHERE org_id = $1 AND name_key = $2")
            .bind(org.as_str())
            .bind(name.as_str().to_lowercase())
            .fetch_optional_scalar()
            .await?;
        let Some(id) = id else { return Ok(None) };
        fetch_group(&mut *conn, &parse(&id, "project id")?, false).await
    }

    #[instrument(level = "debug", skip(self))]
    async fn update_group(&self, id: &GroupId, update: GroupUpdate) -> Result<Group, StoreError> {
        let id = id.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let id = &id;
                let mut group = existing_group(&mut *tx, id, true).await?;
                let tags_changed = update.tags.is_some();
                let old_name = group.name.clone();
                update.apply_to(&mut group);
                tx.query(
                    "UPDATE projects SET name = $1, name_key = $2, with_default_alerts_settings = $3 \
                     WHERE id = $4",
                )
                .bind(group.name.as_str())
                .bind(group.name.as_str().to_lowercase())
                .bind(group.with_default_alerts_settings)
                .bind(id.as_str())
                .execute()
                .await
                .map_err(|error| group_write_error(error, &group))?;
                if tags_changed {
                    replace_group_tags(&mut *tx, id, &group.tags).await?;
                }
                if group.name != old_name {
                    let event =
                        NewEvent::in_project(EventType::GroupNameChanged, id, EventTarget::default());
                    record_event(&mut *tx, &group.org_id, event).await?;
                }
                Ok(group)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn delete_group(&self, id: &GroupId) -> Result<(), StoreError> {
        let id = id.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let id = &id;
                let org: String = tx
                    .query("DELETE FROM projects WHERE id = $1 RETURNING org_id")
                    .bind(id.as_str())
                    .fetch_optional_scalar()
                    .await?
                    .ok_or_else(|| Rejection::GroupNotFound(id.clone()))?;
                let event =
                    NewEvent::in_project(EventType::GroupDeleted, id, EventTarget::default());
                record_event(&mut *tx, &parse(&org, "org id")?, event).await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn list_project_teams(&self, group: &GroupId) -> Result<Vec<ProjectTeam>, StoreError> {
        let rows: Vec<(String, String)> = self
            .read()
            .await?
            .query(
                "SELECT team_id, roles FROM project_teams WHERE project_id = $1 \
                 ORDER BY assigned_at, team_id",
            )
            .bind(group.as_str())
            .fetch_all()
            .await?;
        rows.into_iter()
            .map(|(team, roles)| {
                Ok(ProjectTeam {
                    team_id: parse(&team, "team id")?,
                    roles: decode_roles(&roles)?,
                })
            })
            .collect()
    }

    #[instrument(level = "debug", skip(self))]
    async fn assign_project_teams(
        &self,
        group: &GroupId,
        teams: &[ProjectTeam],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let group = group.clone();
        let teams = teams.to_vec();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (group, teams) = (&group, teams.as_slice());
                let project = existing_group(&mut *tx, group, true).await?;
                let team_ids: Vec<TeamId> = teams.iter().map(|team| team.team_id.clone()).collect();
                check_references(&mut *tx, &project.org_id, &team_ids, &[]).await?;
                for team in teams {
                    let assigned: Option<String> = tx
                        .query("SELECT roles FROM project_teams WHERE project_id = $1 AND team_id = $2")
                        .bind(group.as_str())
                        .bind(team.team_id.as_str())
                        .fetch_optional_scalar()
                        .await?;
                    let event_type = match assigned {
                        None => Some(EventType::TeamAddedToGroup),
                        Some(held) if held != encode_roles(&team.roles) => {
                            Some(EventType::TeamRolesModified)
                        }
                        Some(_) => None,
                    };
                    if let Some(event_type) = event_type {
                        let target = team_event(event_type, &team.team_id).target;
                        let event = NewEvent::in_project(event_type, group, target);
                        record_event(&mut *tx, &project.org_id, event).await?;
                    }
                    tx.query(
                        "INSERT INTO project_teams (project_id, org_id, team_id, roles, assigned_at) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (project_id, team_id) DO UPDATE SET roles = excluded.roles",
                    )
                    .bind(group.as_str())
                    .bind(project.org_id.as_str())
                    .bind(team.team_id.as_str())
                    .bind(encode_roles(&team.roles))
                    .bind(seconds(now))
                    .execute()
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn remove_project_team(&self, group: &GroupId, team: &TeamId) -> Result<(), StoreError> {
        let group = group.clone();
        let team = team.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (group, team) = (&group, &team);
                let org: String = tx
                    .query(
                        "DELETE FROM project_teams WHERE project_id = $1 AND team_id = $2 \
                         RETURNING org_id",
                    )
                    .bind(group.as_str())
                    .bind(team.as_str())
                    .fetch_optional_scalar()
                    .await?
                    .ok_or_else(|| Rejection::TeamNotFound(team.clone()))?;
                let target = team_event(EventType::TeamRemovedFromGroup, team).target;
                let event = NewEvent::in_project(EventType::TeamRemovedFromGroup, group, target);
                record_event(&mut *tx, &parse(&org, "org id")?, event).await?;
                Ok(())
            })
        })
        .await
    }
}
