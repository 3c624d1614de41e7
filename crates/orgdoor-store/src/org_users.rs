//! The users of an organization — members and invitees of every status — and people across
//! organizations.

use async_trait::async_trait;
use orgdoor_domain::{
    EmailAddress, EventTarget, EventType, Member, MembershipStatus, MembershipUpdate, NewEvent,
    OrgId, OrgUser, Page, PageRequest, RoleChange, User, UserId,
};
use time::OffsetDateTime;
use tracing::instrument;

use crate::rows::parse;
use crate::sql::{Backend, Connection, WriteTransaction};
use crate::tables::events::record_event;
use crate::tables::invitations::{fetch_invitation, fetch_org_invitations};
use crate::tables::members::{
    MemberScope, change_current_org_user, fetch_member, fetch_members, fetch_user,
};
use crate::{
    InvitationSelector, OrgUserFilter, ProjectFilter, Rejection, StoreError, UserSelector,
};

#[async_trait]
pub trait OrgUserStore: Send + Sync {
    /// The organization's members and invitees that `filter` selects, members first, then
    /// pending, expired and declined invitees, each by address.
    async fn list_org_users(
        &self,
        org: &OrgId,
        filter: &OrgUserFilter,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> Result<Page<OrgUser>, StoreError>;

    /// A member or invitee (of any status) by user id.
    async fn get_org_user(&self, org: &OrgId, id: &UserId) -> Result<Option<OrgUser>, StoreError>;

    /// Updates a member's or pending invitee's roles, teams and project roles;
    /// [`Rejection::UserNotInOrg`] for anyone else.
    async fn update_org_user(
        &self,
        org: &OrgId,
        id: &UserId,
        update: MembershipUpdate,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError>;

    /// Adds or removes one organization role atomically; [`Rejection::LastRole`] when it is the
    /// only one.
    async fn change_org_user_role(
        &self,
        org: &OrgId,
        id: &UserId,
        change: RoleChange,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError>;

    /// Removes a member with their teams and project roles, or, unless `members_only`, an
    /// invitee of any status; [`Rejection::UserNotInOrg`] when there is neither.
    async fn remove_org_user(
        &self,
        org: &OrgId,
        id: &UserId,
        members_only: bool,
    ) -> Result<(), StoreError>;

    /// A person with an account and all their memberships.
    async fn find_user(
        &self,
        selector: &UserSelector,
    ) -> Result<Option<(User, Vec<Member>)>, StoreError>;
}

/// The organization's users that `filter` selects, in list order, one page of them. An
/// organization has at most a few hundred users and invitees, so they are read whole and
/// filtered here, where the status (which depends on `now`) is known.
async fn org_users_page<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    filter: &OrgUserFilter,
    page: PageRequest,
    now: OffsetDateTime,
) -> Result<Page<OrgUser>, StoreError> {
    let members = fetch_members(conn, MemberScope::Organization(org), false).await?;
    let invitations = fetch_org_invitations(conn, org).await?;
    let username = filter.username.as_ref().map(EmailAddress::key);
    let mut users: Vec<(MembershipStatus, String, OrgUser)> = members
        .into_iter()
        .map(OrgUser::Member)
        .chain(invitations.into_iter().map(OrgUser::Invited))
        .filter_map(|user| {
            let status = user.status(now);
            let key = user.username().key();
            let selected = filter.statuses.contains(&status)
                && username.as_ref().is_none_or(|wanted| *wanted == key)
                && filter
                    .user_id
                    .as_ref()
                    .is_none_or(|wanted| wanted == user.id())
                && filter
                    .team
                    .as_ref()
                    .is_none_or(|team| user.team_ids().contains(team))
                && filter
                    .project
                    .as_ref()
                    .is_none_or(|project| in_project(&user, project));
            selected.then_some((status, key, user))
        })
        .collect();
    users.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let users = users.into_iter().map(|(_, _, user)| user).collect();
    Ok(Page::of_all(users, page))
}

/// Whether a list of the project's users shows `user` (see [`ProjectFilter`]).
fn in_project(user: &OrgUser, project: &ProjectFilter) -> bool {
    user.roles_in(&project.group).is_some()
        || user
            .team_ids()
            .iter()
            .any(|team| project.teams.contains(team))
        || user
            .roles()
            .iter()
            .any(|role| project.org_roles.contains(&role))
}

#[async_trait]
impl<B: Backend> OrgUserStore for B {
    #[instrument(level = "debug", skip(self))]
    async fn list_org_users(
        &self,
        org: &OrgId,
        filter: &OrgUserFilter,
        page: PageRequest,
        now: OffsetDateTime,
    ) -> Result<Page<OrgUser>, StoreError> {
        org_users_page(&mut *self.read().await?, org, filter, page, now).await
    }

    #[instrument(level = "debug", skip(self))]
    async fn get_org_user(&self, org: &OrgId, id: &UserId) -> Result<Option<OrgUser>, StoreError> {
        let mut conn = self.read().await?;
        if let Some(member) = fetch_member(&mut *conn, org, id, false).await? {
            return Ok(Some(OrgUser::Member(member)));
        }
        let selector = InvitationSelector::UserId(id.clone());
        let invitation = fetch_invitation(&mut *conn, org, &selector, false).await?;
        Ok(invitation.map(OrgUser::Invited))
    }

    #[instrument(level = "debug", skip(self))]
    async fn update_org_user(
        &self,
        org: &OrgId,
        id: &UserId,
        update: MembershipUpdate,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = change_current_org_user(&mut *tx, org, id, now, |_| Ok(update)).await?;
        tx.commit().await?;
        Ok(updated)
    }

    #[instrument(level = "debug", skip(self))]
    async fn change_org_user_role(
        &self,
        org: &OrgId,
        id: &UserId,
        change: RoleChange,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = change_current_org_user(&mut *tx, org, id, now, |user| {
            let roles = change
                .apply(user.roles())
                .map_err(|_| Rejection::LastRole)?;
            Ok(MembershipUpdate {
                roles: Some(roles),
                ..MembershipUpdate::default()
            })
        })
        .await?;
        tx.commit().await?;
        Ok(updated)
    }

    #[instrument(level = "debug", skip(self))]
    async fn remove_org_user(
        &self,
        org: &OrgId,
        id: &UserId,
        members_only: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let member: Option<String> = tx
            .query(
                "DELETE FROM org_members WHERE org_id = $1 AND user_id = $2 \
                 RETURNING (SELECT username FROM users WHERE id = $2)",
            )
            .bind(org.as_str())
            .bind(id.as_str())
            .fetch_optional_scalar()
            .await?;
        let removed = match member {
            Some(username) => Some((EventType::RemovedFromOrg, username)),
            None if !members_only => tx
                .query(
                    "DELETE FROM invitations WHERE org_id = $1 AND user_id = $2 \
                     RETURNING username",
                )
                .bind(org.as_str())
                .bind(id.as_str())
                .fetch_optional_scalar()
                .await?
                .map(|username| (EventType::OrgInvitationDeleted, username)),
            None => None,
        };
        let Some((event_type, username)) = removed else {
            return Err(Rejection::user_not_in_org(id, org).into());
        };
        let target = EventTarget {
            username: Some(parse(&username, "username")?),
            user_id: Some(id.clone()),
            ..EventTarget::default()
        };
        record_event(&mut *tx, org, NewEvent::new(event_type, target)).await?;
        tx.commit().await?;
        Ok(())
    }

    #[instrument(level = "debug", skip(self))]
    async fn find_user(
        &self,
        selector: &UserSelector,
    ) -> Result<Option<(User, Vec<Member>)>, StoreError> {
        let mut conn = self.read().await?;
        let Some(user) = fetch_user(&mut *conn, selector).await? else {
            return Ok(None);
        };
        let members = fetch_members(&mut *conn, MemberScope::Person(&user.id), false).await?;
        Ok(Some((user, members)))
    }
}
