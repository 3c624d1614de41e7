//! Project invitations: the deprecated way to invite someone straight into one project. They
//! live beside organization invitations and follow the same clock: pending for 30 days from
//! creation, never moved by updates.

use time::OffsetDateTime;

use crate::{EmailAddress, GroupId, GroupRoles, INVITATION_LIFETIME, InvitationId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectInvitation {
    pub id: InvitationId,
    pub group_id: GroupId,
    pub username: EmailAddress,
    pub roles: GroupRoles,
    pub inviter_username: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl ProjectInvitation {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }
}

#[derive(Debug, Clone)]
pub struct NewProjectInvitation {
    pub group_id: GroupId,
    pub username: EmailAddress,
    pub roles: GroupRoles,
    pub inviter_username: String,
}

impl NewProjectInvitation {
    pub fn into_invitation(self, now: OffsetDateTime) -> ProjectInvitation {
        let created_at = crate::truncate_to_seconds(now);
        ProjectInvitation {
            id: InvitationId::generate(created_at),
            group_id: self.group_id,
            username: self.username,
            roles: self.roles,
            inviter_username: self.inviter_username,
            created_at,
            expires_at: created_at + INVITATION_LIFETIME,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GroupRole;
    use time::macros::datetime;

    #[test]
    fn a_project_invitation_lasts_thirty_days() {
        let now = datetime!(2026-08-10 03:03:37.5 UTC);
        let invitation = NewProjectInvitation {
            group_id: GroupId::generate(now),
            username: "ada@example.com".parse().expect("valid"),
            roles: GroupRoles::single(GroupRole::ReadOnly),
            inviter_username: "abcdefgh".into(),
        }
        .into_invitation(now);
        assert_eq!(invitation.expires_at, datetime!(2026-09-09 03:03:37 UTC));
        assert!(invitation.is_expired(invitation.expires_at));
    }
}
