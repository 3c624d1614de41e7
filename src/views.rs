//! Atlas's JSON shapes that need nothing of a request, shared by the HTTP answers and the
//! CLI's output (so below both): an organization user (`OrgUserResponse`, whose shape
//! `GroupUserResponse` reuses with project roles), an invitation (`OrganizationInvitation`,
//! which project users list too) and Atlas timestamps.
//!
//! Shapes that link back to the server (`links`) need the request's base URL and live in
//! `http`.

use orgdoor_domain::{GroupRoleAssignment, Invitation, OrgRole, OrgUser, Organization, TeamId};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Atlas timestamps: UTC, to the second, `Z` suffix (`2026-08-10T03:03:37Z`).
pub fn atlas_timestamp(instant: OffsetDateTime) -> String {
    orgdoor_domain::truncate_to_seconds(instant)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// `GroupRoleAssignment`: a project and the user's roles in it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRolesView {
    group_id: String,
    group_roles: Vec<&'static str>,
}

/// `OrgUserRolesResponse`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgUserRolesView {
    group_role_assignments: Vec<GroupRolesView>,
    org_roles: Vec<&'static str>,
}

impl OrgUserRolesView {
    fn new(user: &OrgUser) -> Self {
        let assignments = match user {
            OrgUser::Member(member) => &member.group_role_assignments,
            OrgUser::Invited(invitation) => &invitation.group_role_assignments,
        };
        Self {
            group_role_assignments: group_by_project(assignments),
            org_roles: user.roles().iter().map(OrgRole::as_str).collect(),
        }
    }
}

/// One entry per project, its roles in the order given.
fn group_by_project(assignments: &[GroupRoleAssignment]) -> Vec<GroupRolesView> {
    let mut grouped: Vec<GroupRolesView> = Vec::new();
    for assignment in assignments {
        let role = assignment.role.as_str();
        match grouped
            .iter_mut()
            .find(|entry| entry.group_id == assignment.group_id.as_str())
        {
            Some(entry) => entry.group_roles.push(role),
            None => grouped.push(GroupRolesView {
                group_id: assignment.group_id.to_string(),
                group_roles: vec![role],
            }),
        }
    }
    grouped
}

/// `OrgActiveUserResponse`, or with project roles `GroupUserResponse`'s active shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveUserView<R> {
    country: String,
    created_at: String,
    first_name: String,
    id: String,
    last_name: String,
    mobile_number: String,
    org_membership_status: &'static str,
    roles: R,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_ids: Option<Vec<String>>,
    username: String,
}

/// `OrgPendingUserResponse`: pending, expired and declined invitees (or, with project roles,
/// `GroupUserResponse`'s pending shape).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingUserView<R> {
    id: String,
    invitation_created_at: String,
    /// `null` once the invitation is declined.
    invitation_expires_at: Option<String>,
    inviter_username: String,
    org_membership_status: &'static str,
    roles: R,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_ids: Option<Vec<String>>,
    username: String,
}

/// A user in the shape their status calls for, with the roles the resource shows.
#[derive(Serialize)]
#[serde(untagged)]
pub enum UserView<R> {
    Active(ActiveUserView<R>),
    Pending(PendingUserView<R>),
}

/// `OrgUserResponse`.
pub type OrgUserView = UserView<OrgUserRolesView>;

impl OrgUserView {
    pub fn new(user: OrgUser, now: OffsetDateTime) -> Self {
        let roles = OrgUserRolesView::new(&user);
        let team_ids = user.team_ids().iter().map(TeamId::to_string).collect();
        UserView::with_roles(user, now, roles, Some(team_ids))
    }
}

impl<R> UserView<R> {
    /// `user` as of `now`, showing `roles` and, when given, `team_ids`.
    pub fn with_roles(
        user: OrgUser,
        now: OffsetDateTime,
        roles: R,
        team_ids: Option<Vec<String>>,
    ) -> Self {
        let status = user.status(now).as_str();
        match user {
            OrgUser::Member(member) => UserView::Active(ActiveUserView {
                country: member.user.profile.country,
                created_at: atlas_timestamp(member.user.created_at),
                first_name: member.user.profile.first_name,
                id: member.user.id.into(),
                last_name: member.user.profile.last_name,
                mobile_number: member.user.profile.mobile_number,
                org_membership_status: status,
                roles,
                team_ids,
                username: member.user.username.into(),
            }),
            OrgUser::Invited(invitation) => UserView::Pending(PendingUserView {
                id: invitation.user_id.into(),
                invitation_created_at: atlas_timestamp(invitation.created_at),
                invitation_expires_at: invitation
                    .declined_at
                    .is_none()
                    .then(|| atlas_timestamp(invitation.expires_at)),
                inviter_username: invitation.inviter_username,
                org_membership_status: status,
                roles,
                team_ids,
                username: invitation.username.into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps_are_utc_seconds_with_z() {
        assert_eq!(
            atlas_timestamp(datetime!(2026-08-10 03:03:37.9 UTC)),
            "2026-08-10T03:03:37Z"
        );
    }

    #[test]
    fn project_roles_are_grouped_per_project_in_order() {
        let group: orgdoor_domain::GroupId = "0123456789abcdef01234567".parse().expect("id");
        let other: orgdoor_domain::GroupId = "1123456789abcdef01234567".parse().expect("id");
        let assignment = |group_id: &orgdoor_domain::GroupId, role| GroupRoleAssignment {
            group_id: group_id.clone(),
            role,
        };
        let grouped = group_by_project(&[
            assignment(&group, orgdoor_domain::GroupRole::Owner),
            assignment(&other, orgdoor_domain::GroupRole::ReadOnly),
            assignment(&group, orgdoor_domain::GroupRole::ClusterManager),
        ]);
        assert_eq!(grouped.len(), 2);
        assert_eq!(
            grouped[0].group_roles,
            vec!["GROUP_OWNER", "GROUP_CLUSTER_MANAGER"]
        );
        assert_eq!(grouped[1].group_id, other.as_str());
    }
}

/// `GroupRole`: one (project, role) pair of an invitation.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupRoleView {
    group_id: String,
    group_role: &'static str,
}

/// `OrganizationInvitation`: every field present, keys in Atlas's alphabetical order, no links.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationView {
    created_at: String,
    expires_at: String,
    group_role_assignments: Vec<GroupRoleView>,
    id: String,
    inviter_username: String,
    org_id: String,
    org_name: String,
    roles: Vec<&'static str>,
    team_ids: Vec<String>,
    username: String,
}

impl InvitationView {
    pub fn new(organization: &Organization, invitation: &Invitation) -> Self {
        Self {
            created_at: atlas_timestamp(invitation.created_at),
            expires_at: atlas_timestamp(invitation.expires_at),
            group_role_assignments: invitation
                .group_role_assignments
                .iter()
                .map(|assignment| GroupRoleView {
                    group_id: assignment.group_id.to_string(),
                    group_role: assignment.role.as_str(),
                })
                .collect(),
            id: invitation.id.to_string(),
            inviter_username: invitation.inviter_username.clone(),
            org_id: invitation.org_id.to_string(),
            org_name: organization.name.to_string(),
            roles: invitation.roles.iter().map(OrgRole::as_str).collect(),
            team_ids: invitation
                .team_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            username: invitation.username.to_string(),
        }
    }
}
