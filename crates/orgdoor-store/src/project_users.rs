//! The users of a project: members with roles there, and invitations offering roles there
//! (which Atlas also shows as project invitations).

use async_trait::async_trait;
use orgdoor_domain::{
    EmailAddress, EventType, GroupId, GroupRoleAssignment, GroupRoles, Invitation, InvitationId,
    MembershipUpdate, NewEvent, OrgUser, ProjectInvitation, ProjectRoleChange, UserId, roles_in,
    with_roles_in,
};
use time::OffsetDateTime;
use tracing::instrument;

use crate::rows::InvitationList;
use crate::rows::seconds;
use crate::sql::{Backend, Connection};
use crate::tables::events::{account_target, record_event, record_org_user_changes, user_event};
use crate::tables::invitations::{
    fetch_invitation, insert_invitation, invitations_json, lock_pending_project_invitation,
    update_invitation_row, withdraw_from_project,
};
use crate::tables::members::{
    fetch_member, lock_current_org_user, member_by_username, update_member_row, update_org_user_row,
};
use crate::tables::outbox::{give_link, post_letter};
use crate::tables::projects::{existing_group, fetch_group};
use crate::{InvitationSelector, Newcomer, ProjectAddition, Rejection, StoreError, WhenPending};

#[async_trait]
pub trait ProjectUserStore: Send + Sync {
    /// Adds the person with `newcomer`'s address to a project of `newcomer`'s organization with
    /// `roles` there, replacing roles they had in it, and returns them: a member gets the
    /// roles, a pending invitation offers them, and anyone else gets `newcomer`'s invitation (an expired or
    /// declined invitation gives way to it), as `addition` says. [`Rejection::GroupNotFound`]
    /// without the project. An invitation made or sent again takes the link in `newcomer`'s
    /// letter, whose message goes into the outbox.
    async fn add_project_user(
        &self,
        group: &GroupId,
        roles: &GroupRoles,
        newcomer: Newcomer<'_>,
        addition: ProjectAddition,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError>;

    /// Changes the roles a member holds, or a pending invitation offers, in a project, under a
    /// lock; [`Rejection::UserNotInGroup`] for anyone with no role there, [`Rejection::LastRole`] when
    /// the change would leave none.
    async fn change_project_user_roles(
        &self,
        group: &GroupId,
        user: &UserId,
        change: ProjectRoleChange,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError>;

    /// Takes a user out of a project: a member loses their roles there (and stays in the
    /// organization); unless `members_only`, an invitation (of any status) stops offering any,
    /// and is cancelled if that leaves it offering nothing but bare membership
    /// ([`Invitation::offers_bare_membership`]). [`Rejection::UserNotInGroup`] when they have no role
    /// there.
    async fn remove_project_user(
        &self,
        group: &GroupId,
        user: &UserId,
        members_only: bool,
    ) -> Result<(), StoreError>;

    /// The pending invitations that offer roles in a project, as project invitations, oldest
    /// first, optionally only the one to `username`. (They are made with
    /// [`ProjectUserStore::add_project_user`].)
    async fn list_pending_project_invitations(
        &self,
        group: &GroupId,
        username: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<Vec<ProjectInvitation>, StoreError>;

    async fn get_pending_project_invitation(
        &self,
        group: &GroupId,
        id: &InvitationId,
        now: OffsetDateTime,
    ) -> Result<Option<ProjectInvitation>, StoreError>;

    /// Replaces the roles a pending invitation offers in a project:
    /// [`Rejection::InvitationNotFound`] when there is none offering any,
    /// [`Rejection::InvitationExpired`] when it has expired.
    async fn update_pending_project_invitation(
        &self,
        group: &GroupId,
        selector: &InvitationSelector,
        roles: &GroupRoles,
        now: OffsetDateTime,
    ) -> Result<ProjectInvitation, StoreError>;

    /// Takes a project out of a pending invitation, as
    /// [`ProjectUserStore::remove_project_user`] does ([`Rejection::InvitationNotFound`] when
    /// there is none offering roles there).
    async fn delete_pending_project_invitation(
        &self,
        group: &GroupId,
        id: &InvitationId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

#[async_trait]
impl<B: Backend> ProjectUserStore for B {
    #[instrument(level = "debug", skip(self))]
    async fn add_project_user(
        &self,
        group: &GroupId,
        roles: &GroupRoles,
        newcomer: Newcomer<'_>,
        addition: ProjectAddition,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError> {
        let Newcomer {
            invitation: newcomer,
            letter,
        } = newcomer;
        let (newcomer, letter) = (newcomer.clone(), letter.cloned());
        let group = group.clone();
        let roles = roles.clone();
        let sealer = self.sealer().clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (group, roles) = (&group, &roles);
                let (newcomer, letter) = (&newcomer, letter.as_ref());
                let project = existing_group(&mut *tx, group, true).await?;
                let org = &project.org_id;
                let taken = || Rejection::UsernameTaken(newcomer.username.clone());
                let assignments = |held: &[GroupRoleAssignment]| MembershipUpdate {
                    group_role_assignments: Some(with_roles_in(held, group, Some(roles))),
                    ..MembershipUpdate::default()
                };
                let by_address = InvitationSelector::Username(newcomer.username.clone());
                let added = if let Some(id) =
                    member_by_username(&mut *tx, org, &newcomer.username).await?
                {
                    let member = fetch_member(&mut *tx, org, &id, true)
                        .await?
                        .ok_or_else(taken)?;
                    let in_project = roles_in(&member.group_role_assignments, group).is_some();
                    match addition {
                        ProjectAddition::Invitation => return Err(taken().into()),
                        ProjectAddition::NewUser if in_project => return Err(taken().into()),
                        ProjectAddition::Access | ProjectAddition::NewUser => {}
                    }
                    let update = assignments(&member.group_role_assignments);
                    let before = OrgUser::Member(member.clone());
                    let after =
                        OrgUser::Member(update_member_row(&mut *tx, member, update, now).await?);
                    record_org_user_changes(&mut *tx, org, &before, &after).await?;
                    after
                } else if let Some(mut invitation) =
                    fetch_invitation(&mut *tx, org, &by_address, true)
                        .await?
                        .filter(|invitation| invitation.is_pending(now))
                {
                    let in_project = roles_in(&invitation.group_role_assignments, group).is_some();
                    if addition == ProjectAddition::NewUser && in_project {
                        return Err(taken().into());
                    }
                    if addition == ProjectAddition::Invitation {
                        // Sent again, as a second invitation to a pending address is.
                        invitation.username = newcomer.username.clone();
                        invitation.inviter_username = newcomer.inviter_username.clone();
                        invitation.created_at = newcomer.created_at;
                        invitation.expires_at = newcomer.expires_at;
                        tx.query(
                            "UPDATE invitations SET username = $1, inviter_username = $2, \
                             created_at = $3, expires_at = $4 WHERE id = $5",
                        )
                        .bind(invitation.username.as_str())
                        .bind(invitation.inviter_username.as_str())
                        .bind(seconds(invitation.created_at))
                        .bind(seconds(invitation.expires_at))
                        .bind(invitation.id.as_str())
                        .execute()
                        .await?;
                        if let Some(letter) = letter {
                            give_link(&mut *tx, &invitation.id, letter).await?;
                            post_letter(&mut *tx, &sealer, org, &invitation.id, letter, now)
                                .await?;
                        }
                    }
                    let update = assignments(&invitation.group_role_assignments);
                    let before = OrgUser::Invited(invitation.clone());
                    let after = OrgUser::Invited(
                        update_invitation_row(&mut *tx, invitation, update).await?,
                    );
                    if addition == ProjectAddition::Invitation && in_project {
                        // Sent again: as a new invitation to the project.
                        let event = project_user_event(EventType::InvitedToGroup, group, &after);
                        record_event(&mut *tx, org, event).await?;
                    } else {
                        record_org_user_changes(&mut *tx, org, &before, &after).await?;
                    }
                    after
                } else {
                    let newcomer = Invitation {
                        group_role_assignments: with_roles_in(
                            &newcomer.group_role_assignments,
                            group,
                            Some(roles),
                        ),
                        ..newcomer.clone()
                    };
                    let link = letter.map(|letter| &letter.link);
                    let stored =
                        insert_invitation(&mut *tx, &newcomer, WhenPending::Refuse, link, now)
                            .await?;
                    if let Some(letter) = letter {
                        post_letter(&mut *tx, &sealer, org, &stored.id, letter, now).await?;
                    }
                    let invited = OrgUser::Invited(stored);
                    let event = project_user_event(EventType::InvitedToGroup, group, &invited);
                    record_event(&mut *tx, org, event).await?;
                    invited
                };
                Ok(added)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn change_project_user_roles(
        &self,
        group: &GroupId,
        user: &UserId,
        change: ProjectRoleChange,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError> {
        let group = group.clone();
        let user = user.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (group, user) = (&group, &user);
                let not_in_group = || Rejection::UserNotInGroup {
                    user: user.to_string(),
                    group: group.clone(),
                };
                let project = existing_group(&mut *tx, group, false).await?;
                let current = lock_current_org_user(&mut *tx, &project.org_id, user, now)
                    .await
                    .map_err(|error| match error {
                        StoreError::Rejected(Rejection::UserNotInOrg { .. }) => {
                            not_in_group().into()
                        }
                        other => other,
                    })?;
                let roles = current.roles_in(group).ok_or_else(not_in_group)?;
                let roles = change.apply(&roles).map_err(|_| Rejection::LastRole)?;
                let held = current.group_role_assignments();
                let update = MembershipUpdate {
                    group_role_assignments: Some(with_roles_in(held, group, Some(&roles))),
                    ..MembershipUpdate::default()
                };
                let changed = update_org_user_row(&mut *tx, current.clone(), update, now).await?;
                record_org_user_changes(&mut *tx, &project.org_id, &current, &changed).await?;
                Ok(changed)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn remove_project_user(
        &self,
        group: &GroupId,
        user: &UserId,
        members_only: bool,
    ) -> Result<(), StoreError> {
        let group = group.clone();
        let user = user.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (group, user) = (&group, &user);
                let not_in_group = || Rejection::UserNotInGroup {
                    user: user.to_string(),
                    group: group.clone(),
                };
                let project = existing_group(&mut *tx, group, false).await?;
                let removed = tx
                    .query(
                        "DELETE FROM member_project_roles \
                         WHERE org_id = $1 AND project_id = $2 AND user_id = $3",
                    )
                    .bind(project.org_id.as_str())
                    .bind(group.as_str())
                    .bind(user.as_str())
                    .execute()
                    .await?;
                let event = if removed == 0 {
                    let invitation = if members_only {
                        None
                    } else {
                        let selector = InvitationSelector::UserId(user.clone());
                        fetch_invitation(&mut *tx, &project.org_id, &selector, true)
                            .await?
                            .filter(|invitation| {
                                roles_in(&invitation.group_role_assignments, group).is_some()
                            })
                    };
                    let invitation = invitation.ok_or_else(not_in_group)?;
                    let invitee = OrgUser::Invited(invitation.clone());
                    withdraw_from_project(&mut *tx, invitation, group).await?;
                    project_user_event(EventType::GroupInvitationDeleted, group, &invitee)
                } else {
                    let target = account_target(&mut *tx, user).await?;
                    NewEvent::in_project(EventType::RemovedFromGroup, group, target)
                };
                record_event(&mut *tx, &project.org_id, event).await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn list_pending_project_invitations(
        &self,
        group: &GroupId,
        username: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<Vec<ProjectInvitation>, StoreError> {
        let filter = if username.is_some() {
            "AND i.username_key = $3"
        } else {
            ""
        };
        let invitations = invitations_json::<B::Connection>(
            &format!(
                "i.org_id = (SELECT p.org_id FROM projects p WHERE p.id = $1) \
                 AND i.expires_at > $2 AND i.declined_at IS NULL {filter} \
                 AND EXISTS (SELECT 1 FROM invitation_project_roles r \
                             WHERE r.invitation_id = i.id AND r.project_id = $1)"
            ),
            "i.created_at, i.id",
        );
        let sql = format!("SELECT {invitations} AS invitations");
        let mut conn = self.read().await?;
        let mut query = conn.query(&sql).bind(group.as_str()).bind(seconds(now));
        if let Some(username) = username {
            query = query.bind(username.key());
        }
        let InvitationList(invitations) = query.fetch_one().await?;
        Ok(invitations
            .iter()
            .filter_map(|invitation| ProjectInvitation::of(invitation, group))
            .collect())
    }

    #[instrument(level = "debug", skip(self))]
    async fn get_pending_project_invitation(
        &self,
        group: &GroupId,
        id: &InvitationId,
        now: OffsetDateTime,
    ) -> Result<Option<ProjectInvitation>, StoreError> {
        let mut conn = self.read().await?;
        let Some(project) = fetch_group(&mut *conn, group, false).await? else {
            return Ok(None);
        };
        let selector = InvitationSelector::Id(id.clone());
        let invitation = fetch_invitation(&mut *conn, &project.org_id, &selector, false).await?;
        Ok(invitation
            .filter(|invitation| invitation.is_pending(now))
            .and_then(|invitation| ProjectInvitation::of(&invitation, group)))
    }

    #[instrument(level = "debug", skip(self))]
    async fn update_pending_project_invitation(
        &self,
        group: &GroupId,
        selector: &InvitationSelector,
        roles: &GroupRoles,
        now: OffsetDateTime,
    ) -> Result<ProjectInvitation, StoreError> {
        let group = group.clone();
        let selector = selector.clone();
        let roles = roles.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (group, selector, roles) = (&group, &selector, &roles);
                let project = existing_group(&mut *tx, group, false).await?;
                let invitation =
                    lock_pending_project_invitation(&mut *tx, &project, selector, now).await?;
                let held = &invitation.group_role_assignments;
                let update = MembershipUpdate {
                    group_role_assignments: Some(with_roles_in(held, group, Some(roles))),
                    ..MembershipUpdate::default()
                };
                let invitation = update_invitation_row(&mut *tx, invitation, update).await?;
                ProjectInvitation::of(&invitation, group)
                    .ok_or_else(|| Rejection::InvitationNotFound(selector.clone()).into())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn delete_pending_project_invitation(
        &self,
        group: &GroupId,
        id: &InvitationId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let group = group.clone();
        let id = id.clone();
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let (group, id) = (&group, &id);
                let project = existing_group(&mut *tx, group, false).await?;
                let selector = InvitationSelector::Id(id.clone());
                let invitation =
                    lock_pending_project_invitation(&mut *tx, &project, &selector, now)
                        .await
                        .map_err(|error| match error {
                            StoreError::Rejected(Rejection::InvitationExpired) => {
                                Rejection::InvitationNotFound(selector.clone()).into()
                            }
                            other => other,
                        })?;
                let invitee = OrgUser::Invited(invitation.clone());
                withdraw_from_project(&mut *tx, invitation, group).await?;
                let event = project_user_event(EventType::GroupInvitationDeleted, group, &invitee);
                record_event(&mut *tx, &project.org_id, event).await?;
                Ok(())
            })
        })
        .await
    }
}

/// An event of a project's feed about one of its users.
fn project_user_event(event_type: EventType, group: &GroupId, user: &OrgUser) -> NewEvent {
    NewEvent::in_project(event_type, group, user_event(event_type, user).target)
}
