//! Project invitations: how the deprecated `/groups/{groupId}/invites` API sees an organization
//! invitation that offers roles in one project. There is one record, the [`Invitation`]: a
//! project invitation is its part in that project, a pending user of the project is its
//! invitee, and the organization's invitations list it whole. It follows the invitation's
//! clock: pending for 30 days from creation, never moved by updates.

use time::OffsetDateTime;

use crate::{EmailAddress, GroupId, GroupRoles, Invitation, InvitationId, roles_in};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectInvitation {
    /// The organization invitation's id.
    pub id: InvitationId,
    pub group_id: GroupId,
    pub username: EmailAddress,
    /// What the invitation offers in this project.
    pub roles: GroupRoles,
    pub inviter_username: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl ProjectInvitation {
    /// The project's part of an invitation; `None` when it offers no role there.
    pub fn of(invitation: &Invitation, group: &GroupId) -> Option<Self> {
        Some(Self {
            id: invitation.id.clone(),
            group_id: group.clone(),
            username: invitation.username.clone(),
            roles: roles_in(&invitation.group_role_assignments, group)?,
            inviter_username: invitation.inviter_username.clone(),
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
        })
    }

    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GroupRole, NewInvitation, OrgId};
    use time::macros::datetime;

    #[test]
    fn a_project_invitation_is_the_projects_part_of_an_invitation() {
        let now = datetime!(2026-08-10 03:03:37.5 UTC);
        let (group, other) = (GroupId::generate(now), GroupId::generate(now));
        let invitation = NewInvitation::into_project(
            OrgId::generate(now),
            &group,
            "ada@example.com".parse().expect("valid"),
            &GroupRoles::single(GroupRole::ReadOnly),
            "abcdefgh".into(),
        )
        .into_invitation(now);
        let seen = ProjectInvitation::of(&invitation, &group).expect("offers roles there");
        assert_eq!(seen.id, invitation.id);
        assert_eq!(seen.roles, GroupRoles::single(GroupRole::ReadOnly));
        assert_eq!(seen.expires_at, datetime!(2026-09-09 03:03:37 UTC));
        assert!(seen.is_expired(seen.expires_at));
        assert_eq!(ProjectInvitation::of(&invitation, &other), None);
    }
}
