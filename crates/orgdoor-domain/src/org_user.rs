//! Users of an organization: members, and invitees seen as users (the 2025-02-19 API).
//!
//! One person is one [`User`] across organizations. In an organization they are either a
//! [`Member`] (they accepted an invitation) or still [`Invitation`]-bound: pending, expired or
//! declined. [`OrgUser`] is that union, which the org-users API lists, filters and updates,
//! and which the invitations API sees only while pending.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::limits::dedup;
use crate::{
    EmailAddress, GroupId, GroupRole, GroupRoleAssignment, GroupRoles, Invitation,
    MembershipUpdate, OrgId, OrgRole, OrgRoles, RoleSet, TeamId, UserId, roles_in,
};

/// `orgMembershipStatus`, in the order lists show them: members first, then invitees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MembershipStatus {
    Active,
    Pending,
    InvitationExpired,
    InvitationRejected,
}

impl MembershipStatus {
    pub const ALL: [MembershipStatus; 4] = [
        MembershipStatus::Active,
        MembershipStatus::Pending,
        MembershipStatus::InvitationExpired,
        MembershipStatus::InvitationRejected,
    ];

    /// What lists and look-ups show when the client names no status.
    pub const DEFAULT: [MembershipStatus; 2] =
        [MembershipStatus::Active, MembershipStatus::Pending];

    pub fn as_str(self) -> &'static str {
        match self {
            MembershipStatus::Active => "ACTIVE",
            MembershipStatus::Pending => "PENDING",
            MembershipStatus::InvitationExpired => "INVITATION_EXPIRED",
            MembershipStatus::InvitationRejected => "INVITATION_REJECTED",
        }
    }
}

/// A status string that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a membership status")]
pub struct InvalidMembershipStatus(pub String);

impl FromStr for MembershipStatus {
    type Err = InvalidMembershipStatus;

    fn from_str(candidate: &str) -> Result<Self, Self::Err> {
        MembershipStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == candidate)
            .ok_or_else(|| InvalidMembershipStatus(candidate.to_owned()))
    }
}

impl fmt::Display for MembershipStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a person tells about themselves when they accept: the profile Atlas shows for members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    pub first_name: String,
    pub last_name: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub mobile_number: String,
}

/// Why a profile field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidProfile {
    #[error("country must be an ISO 3166-1 alpha-2 code such as US")]
    Country,
    #[error("mobileNumber must be a North American phone number such as 212-555-0100")]
    MobileNumber,
    #[error("{0} must be 1 to 256 characters")]
    Name(&'static str),
}

/// A person's own choices for their profile, checked; what they left out is filled in by
/// [`ProfileChoices::for_user`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChoices {
    first_name: Option<String>,
    last_name: String,
    country: String,
    mobile_number: String,
}

impl ProfileChoices {
    /// Checks what was given and fills in `US` and a number reserved for fiction (555-0100):
    /// Atlas's user schema requires every one of these fields.
    pub fn new(
        first_name: Option<String>,
        last_name: Option<String>,
        country: Option<String>,
        mobile_number: Option<String>,
    ) -> Result<Self, InvalidProfile> {
        let first_name = first_name
            .map(|first| name(first, "firstName"))
            .transpose()?;
        let last_name = name(last_name.unwrap_or_else(|| "User".to_owned()), "lastName")?;
        let country = country.unwrap_or_else(|| "US".to_owned());
        if country.len() != 2 || !country.bytes().all(|byte| byte.is_ascii_uppercase()) {
            return Err(InvalidProfile::Country);
        }
        let mobile_number = mobile_number.unwrap_or_else(|| "212-555-0100".to_owned());
        // `is_nanp_number` trims, so a line break around the number must be refused here.
        if !is_nanp_number(&mobile_number) || mobile_number.chars().any(char::is_control) {
            return Err(InvalidProfile::MobileNumber);
        }
        Ok(Self {
            first_name,
            last_name,
            country,
            mobile_number,
        })
    }

    /// The profile of the person with this address; their first name defaults to the
    /// address's local part.
    pub fn for_user(self, username: &EmailAddress) -> UserProfile {
        let local_part = username.as_str().split('@').next().unwrap_or_default();
        UserProfile {
            first_name: self.first_name.unwrap_or_else(|| local_part.to_owned()),
            last_name: self.last_name,
            country: self.country,
            mobile_number: self.mobile_number,
        }
    }
}

impl Default for ProfileChoices {
    fn default() -> Self {
        Self {
            first_name: None,
            last_name: "User".to_owned(),
            country: "US".to_owned(),
            mobile_number: "212-555-0100".to_owned(),
        }
    }
}

fn name(value: String, field: &'static str) -> Result<String, InvalidProfile> {
    let length = value.chars().count();
    if (1..=256).contains(&length) && !value.chars().any(char::is_control) {
        Ok(value)
    } else {
        Err(InvalidProfile::Name(field))
    }
}

/// Ten digits with an area code and exchange that do not start with 0 or 1, optionally after
/// `+1`, separated by spaces, dots or dashes: what the spec's `mobileNumber` pattern accepts.
fn is_nanp_number(candidate: &str) -> bool {
    let rest = candidate.trim();
    let rest = rest.strip_prefix("+1").unwrap_or(rest);
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-'))
    {
        return false;
    }
    let digits: Vec<u8> = rest
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|digit| digit - b'0')
        .collect();
    let digits = match digits.as_slice() {
        [1, tail @ ..] if tail.len() == 10 && !candidate.trim().starts_with("+1") => tail,
        all => all,
    };
    // The spec's pattern further excludes area codes with a middle 9 and area codes and
    // exchanges that end in 11.
    digits.len() == 10
        && digits[0] >= 2
        && digits[1] != 9
        && digits[3] >= 2
        && !(digits[1] == 1 && digits[2] == 1)
        && !(digits[4] == 1 && digits[5] == 1)
}

/// A person with an account: created when they first accept an invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: EmailAddress,
    pub profile: UserProfile,
    pub created_at: OffsetDateTime,
}

/// A person's membership of one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub org_id: OrgId,
    pub roles: OrgRoles,
    pub team_ids: Vec<TeamId>,
    pub group_role_assignments: Vec<GroupRoleAssignment>,
    pub joined_at: OffsetDateTime,
}

impl Member {
    /// Applies a partial update (the invitation rules: absent keeps, present replaces).
    pub fn apply(&mut self, update: MembershipUpdate) {
        if let Some(roles) = update.roles {
            self.roles = roles;
        }
        if let Some(team_ids) = update.team_ids {
            self.team_ids = dedup(team_ids);
        }
        if let Some(assignments) = update.group_role_assignments {
            self.group_role_assignments = dedup(assignments);
        }
    }
}

/// A user as one organization sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgUser {
    Member(Member),
    Invited(Invitation),
}

impl OrgUser {
    pub fn id(&self) -> &UserId {
        match self {
            OrgUser::Member(member) => &member.user.id,
            OrgUser::Invited(invitation) => &invitation.user_id,
        }
    }

    pub fn username(&self) -> &EmailAddress {
        match self {
            OrgUser::Member(member) => &member.user.username,
            OrgUser::Invited(invitation) => &invitation.username,
        }
    }

    pub fn roles(&self) -> &OrgRoles {
        match self {
            OrgUser::Member(member) => &member.roles,
            OrgUser::Invited(invitation) => &invitation.roles,
        }
    }

    pub fn team_ids(&self) -> &[TeamId] {
        match self {
            OrgUser::Member(member) => &member.team_ids,
            OrgUser::Invited(invitation) => &invitation.team_ids,
        }
    }

    /// The project roles a member holds, or an invitation offers.
    pub fn group_role_assignments(&self) -> &[GroupRoleAssignment] {
        match self {
            OrgUser::Member(member) => &member.group_role_assignments,
            OrgUser::Invited(invitation) => &invitation.group_role_assignments,
        }
    }

    /// Their roles in one project; `None` when they have (or are offered) none there, that is,
    /// when they are no user of that project.
    pub fn roles_in(&self, group: &GroupId) -> Option<GroupRoles> {
        roles_in(self.group_role_assignments(), group)
    }

    pub fn status(&self, now: OffsetDateTime) -> MembershipStatus {
        match self {
            OrgUser::Member(_) => MembershipStatus::Active,
            OrgUser::Invited(invitation) if invitation.declined_at.is_some() => {
                MembershipStatus::InvitationRejected
            }
            OrgUser::Invited(invitation) if invitation.is_expired(now) => {
                MembershipStatus::InvitationExpired
            }
            OrgUser::Invited(_) => MembershipStatus::Pending,
        }
    }
}

/// One role added or taken away (`:addRole` / `:removeRole`), or all of them replaced (the
/// deprecated `PUT …/roles`); organization roles unless said otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleChange<R = OrgRole> {
    Add(R),
    Remove(R),
    Replace(RoleSet<R>),
}

/// A change of a user's roles in one project.
pub type ProjectRoleChange = RoleChange<GroupRole>;

/// Taking away a user's only role: a user must keep at least one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a user must keep at least one role")]
pub struct LastRole;

impl<R: Copy + PartialEq> RoleChange<R> {
    /// The roles after the change; adding a held role or removing one not held changes nothing.
    pub fn apply(self, roles: &RoleSet<R>) -> Result<RoleSet<R>, LastRole> {
        match self {
            RoleChange::Add(role) => {
                Ok(RoleSet::new(roles.iter().chain([role])).unwrap_or_else(|| roles.clone()))
            }
            RoleChange::Remove(role) => {
                RoleSet::new(roles.iter().filter(|held| *held != role)).ok_or(LastRole)
            }
            RoleChange::Replace(replacement) => Ok(replacement),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewInvitation;
    use time::macros::datetime;

    fn address() -> EmailAddress {
        "ada@example.com".parse().expect("valid")
    }

    #[test]
    fn statuses_round_trip_and_refuse_other_spellings() {
        for status in MembershipStatus::ALL {
            assert_eq!(status.as_str().parse::<MembershipStatus>(), Ok(status));
        }
        assert!("active".parse::<MembershipStatus>().is_err());
    }

    #[test]
    fn an_invitation_is_pending_then_expired_and_a_decline_wins() {
        let now = datetime!(2026-08-10 03:03:37 UTC);
        let invitation = NewInvitation {
            org_id: OrgId::generate(now),
            username: address(),
            roles: OrgRoles::single(OrgRole::Member),
            team_ids: vec![],
            group_role_assignments: vec![],
            inviter_username: "abcdefgh".to_owned(),
        }
        .into_invitation(now);
        let user = OrgUser::Invited(invitation.clone());
        assert_eq!(user.status(now), MembershipStatus::Pending);
        assert_eq!(
            user.status(invitation.expires_at),
            MembershipStatus::InvitationExpired
        );
        let declined = OrgUser::Invited(Invitation {
            declined_at: Some(now),
            ..invitation
        });
        assert_eq!(declined.status(now), MembershipStatus::InvitationRejected);
    }

    #[test]
    fn removing_the_last_role_is_refused_and_adding_is_idempotent() {
        let roles = OrgRoles::single(OrgRole::Member);
        assert_eq!(
            RoleChange::Remove(OrgRole::Member).apply(&roles),
            Err(LastRole)
        );
        let both = RoleChange::Add(OrgRole::Owner).apply(&roles).expect("adds");
        assert_eq!(both.as_slice(), &[OrgRole::Member, OrgRole::Owner]);
        assert_eq!(
            RoleChange::Add(OrgRole::Owner).apply(&both),
            Ok(both.clone())
        );
        assert_eq!(
            RoleChange::Remove(OrgRole::Member).apply(&both),
            Ok(OrgRoles::single(OrgRole::Owner))
        );
    }

    #[test]
    fn project_roles_change_like_organization_roles_and_can_be_replaced() {
        let roles = GroupRoles::single(GroupRole::ReadOnly);
        assert_eq!(
            ProjectRoleChange::Remove(GroupRole::ReadOnly).apply(&roles),
            Err(LastRole)
        );
        assert_eq!(
            ProjectRoleChange::Remove(GroupRole::Owner).apply(&roles),
            Ok(roles.clone())
        );
        let owner = GroupRoles::single(GroupRole::Owner);
        assert_eq!(
            ProjectRoleChange::Replace(owner.clone()).apply(&roles),
            Ok(owner)
        );
    }

    #[test]
    fn profiles_default_what_is_missing_and_check_what_is_given() {
        let profile = ProfileChoices::new(None, None, None, None)
            .expect("defaults")
            .for_user(&address());
        assert_eq!(profile.first_name, "ada");
        assert_eq!(profile.country, "US");
        assert!(is_nanp_number(&profile.mobile_number));
        assert_eq!(ProfileChoices::default().for_user(&address()), profile);
        for good in ["+1 212 555 0100", "212.555.0100", "1-212-555-0100"] {
            assert!(
                ProfileChoices::new(None, None, None, Some(good.into())).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "555",
            "012-555-0100",
            "212-155-0100",
            "911-555-0100",
            "291-555-0100",
            "(212) 555-0100",
            "abc",
            "212-555-0100\n",
            "\t212-555-0100",
            "\u{0}212-555-0100",
        ] {
            assert_eq!(
                ProfileChoices::new(None, None, None, Some(bad.into())),
                Err(InvalidProfile::MobileNumber),
                "{bad}"
            );
        }
        assert_eq!(
            ProfileChoices::new(None, None, Some("usa".into()), None),
            Err(InvalidProfile::Country)
        );
        assert_eq!(
            ProfileChoices::new(Some(String::new()), None, None, None),
            Err(InvalidProfile::Name("firstName"))
        );
    }
}
