//! Organization invitations: a pending offer of membership to an e-mail address.
//!
//! An invitation is pending from its creation until `expires_at`, exactly
//! [`INVITATION_LIFETIME`] later, unless the invitee accepts (it becomes a membership) or
//! declines it first; updates never move either timestamp. An expired or declined invitation is
//! no longer listed or found by the invitations API, and a new invitation to the same address
//! replaces it.

use time::{Duration, OffsetDateTime};

use crate::limits::dedup;
use crate::{
    EmailAddress, GroupId, GroupRole, GroupRoles, InvitationId, OrgId, OrgRole, OrgRoles, TeamId,
    UserId,
};

/// How long an invitation stays pending: 30 days, to the second (observed on Atlas).
pub const INVITATION_LIFETIME: Duration = Duration::days(30);

/// One project role granted on acceptance. Atlas responses list one entry per (project, role).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupRoleAssignment {
    pub group_id: GroupId,
    pub role: GroupRole,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    /// The id under which the invitee appears as a pending user; distinct from `id`, as on Atlas.
    /// It is the person's user id: the same in every organization that invites them, and kept
    /// when they accept.
    pub user_id: UserId,
    pub org_id: OrgId,
    pub username: EmailAddress,
    pub roles: OrgRoles,
    pub team_ids: Vec<TeamId>,
    pub group_role_assignments: Vec<GroupRoleAssignment>,
    /// The public key (or service-account client id) that sent the invitation.
    pub inviter_username: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// When the invitee declined, if they did.
    pub declined_at: Option<OffsetDateTime>,
}

impl Invitation {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }

    /// Neither expired nor declined: the invitee may still accept.
    pub fn is_pending(&self, now: OffsetDateTime) -> bool {
        self.declined_at.is_none() && !self.is_expired(now)
    }

    /// Offers membership and nothing more: `ORG_MEMBER` only, no team, no project role. What is
    /// left of an invitation made to bring someone into a project once it no longer does.
    pub fn offers_bare_membership(&self) -> bool {
        self.roles.as_slice() == [OrgRole::Member]
            && self.team_ids.is_empty()
            && self.group_role_assignments.is_empty()
    }

    /// The projects this invitation names, each once.
    pub fn group_ids(&self) -> Vec<&GroupId> {
        let mut ids: Vec<&GroupId> = self
            .group_role_assignments
            .iter()
            .map(|a| &a.group_id)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// The roles `assignments` give in `group`, in order; `None` when they give none there.
pub fn roles_in(assignments: &[GroupRoleAssignment], group: &GroupId) -> Option<GroupRoles> {
    GroupRoles::new(
        assignments
            .iter()
            .filter(|assignment| &assignment.group_id == group)
            .map(|assignment| assignment.role),
    )
}

/// `assignments` with the roles in `group` replaced by `roles`, or dropped with `None`; the
/// other projects keep their roles and places, and the project keeps the place of its first
/// role (a project new to the list comes last).
pub fn with_roles_in(
    assignments: &[GroupRoleAssignment],
    group: &GroupId,
    roles: Option<&GroupRoles>,
) -> Vec<GroupRoleAssignment> {
    let place = assignments
        .iter()
        .position(|assignment| &assignment.group_id == group)
        .unwrap_or(assignments.len());
    let mut replaced: Vec<GroupRoleAssignment> = assignments
        .iter()
        .filter(|assignment| &assignment.group_id != group)
        .cloned()
        .collect();
    let before = assignments[..place]
        .iter()
        .filter(|assignment| &assignment.group_id != group)
        .count();
    let new = roles.into_iter().flat_map(|roles| {
        roles.iter().map(|role| GroupRoleAssignment {
            group_id: group.clone(),
            role,
        })
    });
    replaced.splice(before..before, new);
    replaced
}

/// A validated request to invite someone.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub org_id: OrgId,
    pub username: EmailAddress,
    pub roles: OrgRoles,
    pub team_ids: Vec<TeamId>,
    pub group_role_assignments: Vec<GroupRoleAssignment>,
    pub inviter_username: String,
}

impl NewInvitation {
    /// An invitation into the organization of `group` made to bring someone into that project:
    /// `ORG_MEMBER` and `roles` there, as Atlas invites a newcomer to a project.
    pub fn into_project(
        org_id: OrgId,
        group: &GroupId,
        username: EmailAddress,
        roles: &GroupRoles,
        inviter_username: String,
    ) -> Self {
        Self {
            org_id,
            username,
            roles: OrgRoles::single(OrgRole::Member),
            team_ids: vec![],
            group_role_assignments: with_roles_in(&[], group, Some(roles)),
            inviter_username,
        }
    }

    pub fn into_invitation(self, now: OffsetDateTime) -> Invitation {
        let created_at = crate::truncate_to_seconds(now);
        Invitation {
            id: InvitationId::generate(created_at),
            user_id: UserId::generate(created_at),
            org_id: self.org_id,
            username: self.username,
            roles: self.roles,
            team_ids: dedup(self.team_ids),
            group_role_assignments: dedup(self.group_role_assignments),
            inviter_username: self.inviter_username,
            created_at,
            expires_at: created_at + INVITATION_LIFETIME,
            declined_at: None,
        }
    }
}

/// A partial update of what a membership grants, or an invitation offers: `None` leaves a field
/// unchanged, `Some` replaces it.
#[derive(Debug, Clone, Default)]
pub struct MembershipUpdate {
    pub roles: Option<OrgRoles>,
    pub team_ids: Option<Vec<TeamId>>,
    pub group_role_assignments: Option<Vec<GroupRoleAssignment>>,
}

impl MembershipUpdate {
    pub fn apply_to_invitation(self, invitation: &mut Invitation) {
        if let Some(roles) = self.roles {
            invitation.roles = roles;
        }
        if let Some(team_ids) = self.team_ids {
            invitation.team_ids = dedup(team_ids);
        }
        if let Some(assignments) = self.group_role_assignments {
            invitation.group_role_assignments = dedup(assignments);
        }
    }

    pub fn team_ids(&self) -> &[TeamId] {
        self.team_ids.as_deref().unwrap_or_default()
    }

    pub fn group_ids(&self) -> Vec<&GroupId> {
        let mut ids: Vec<&GroupId> = self
            .group_role_assignments
            .iter()
            .flatten()
            .map(|a| &a.group_id)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OrgRole;
    use time::macros::datetime;

    fn new_invitation() -> NewInvitation {
        let now = datetime!(2026-08-10 03:03:37.25 UTC);
        NewInvitation {
            org_id: OrgId::generate(now),
            username: "ada@example.com".parse().expect("valid"),
            roles: OrgRoles::single(OrgRole::Member),
            team_ids: vec![],
            group_role_assignments: vec![],
            inviter_username: "abcdefgh".to_owned(),
        }
    }

    #[test]
    fn an_invitation_expires_thirty_days_after_creation_to_the_second() {
        let invitation = new_invitation().into_invitation(datetime!(2026-08-10 03:03:37.25 UTC));
        assert_eq!(invitation.created_at, datetime!(2026-08-10 03:03:37 UTC));
        assert_eq!(invitation.expires_at, datetime!(2026-09-09 03:03:37 UTC));
        assert!(!invitation.is_expired(datetime!(2026-09-09 03:03:36 UTC)));
        assert!(invitation.is_expired(datetime!(2026-09-09 03:03:37 UTC)));
    }

    #[test]
    fn updates_replace_given_fields_and_keep_the_rest() {
        let now = datetime!(2026-08-10 03:03:37 UTC);
        let mut invitation = new_invitation().into_invitation(now);
        let team = TeamId::generate(now);
        let before = invitation.clone();
        MembershipUpdate {
            roles: None,
            team_ids: Some(vec![team.clone(), team.clone()]),
            group_role_assignments: None,
        }
        .apply_to_invitation(&mut invitation);
        assert_eq!(invitation.team_ids, vec![team]);
        assert_eq!(invitation.roles, before.roles);
        assert_eq!(invitation.expires_at, before.expires_at);
    }

    #[test]
    fn a_projects_roles_are_replaced_in_place_and_dropped() {
        let now = datetime!(2026-08-10 03:03:37 UTC);
        let (p, q) = (GroupId::generate(now), GroupId::generate(now));
        let assignment = |group: &GroupId, role| GroupRoleAssignment {
            group_id: group.clone(),
            role,
        };
        let assignments = vec![
            assignment(&q, GroupRole::ReadOnly),
            assignment(&p, GroupRole::Owner),
            assignment(&q, GroupRole::ClusterManager),
            assignment(&p, GroupRole::ReadOnly),
        ];
        assert_eq!(
            roles_in(&assignments, &p),
            GroupRoles::new([GroupRole::Owner, GroupRole::ReadOnly])
        );
        let replaced = with_roles_in(
            &assignments,
            &p,
            Some(&GroupRoles::single(GroupRole::BackupManager)),
        );
        assert_eq!(
            replaced,
            vec![
                assignment(&q, GroupRole::ReadOnly),
                assignment(&p, GroupRole::BackupManager),
                assignment(&q, GroupRole::ClusterManager),
            ]
        );
        let dropped = with_roles_in(&assignments, &p, None);
        assert_eq!(roles_in(&dropped, &p), None);
        assert_eq!(dropped.len(), 2);
        let added = with_roles_in(&dropped, &p, Some(&GroupRoles::single(GroupRole::Owner)));
        assert_eq!(added.last(), Some(&assignment(&p, GroupRole::Owner)));
    }

    #[test]
    fn a_project_invitation_offers_membership_and_the_roles_there() {
        let now = datetime!(2026-08-10 03:03:37 UTC);
        let group = GroupId::generate(now);
        let mut invitation = NewInvitation::into_project(
            OrgId::generate(now),
            &group,
            "ada@example.com".parse().expect("valid"),
            &GroupRoles::single(GroupRole::Owner),
            "abcdefgh".to_owned(),
        )
        .into_invitation(now);
        assert_eq!(invitation.roles, OrgRoles::single(OrgRole::Member));
        assert!(!invitation.offers_bare_membership());
        invitation.group_role_assignments.clear();
        assert!(invitation.offers_bare_membership());
        invitation.roles = OrgRoles::single(OrgRole::ReadOnly);
        assert!(!invitation.offers_bare_membership());
    }

    #[test]
    fn the_invitation_and_its_pending_user_have_different_ids() {
        let invitation = new_invitation().into_invitation(datetime!(2026-08-10 03:03:37 UTC));
        assert_ne!(invitation.id.as_str(), invitation.user_id.as_str());
    }
}
