//! Organization and project roles, with Atlas's exact spellings, and how role names in a
//! request read as them.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use strum::{Display, EnumString, IntoStaticStr, VariantArray};

use crate::limits::{MAX_ROLES, at_most};

/// Why a role name is not a role of the kind asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRole {
    /// A role of the other kind: a project role where an organization role belongs, or the
    /// reverse (Atlas answers these with `INVALID_ROLE_FOR_ORG` / `_FOR_GROUP`).
    #[error("{0} is not a role of this kind")]
    OtherKind(String),
    #[error("{0} is not a known role")]
    Unknown(String),
}

/// Why a list of role names is not a set of roles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRoles {
    /// A member, invitee or key needs at least one role.
    #[error("no role is given")]
    Empty,
    #[error("more than {max} roles")]
    TooMany { max: usize },
    #[error(transparent)]
    Role(#[from] InvalidRole),
}

/// A role in an organization.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    EnumString,
    IntoStaticStr,
    VariantArray,
    Display,
)]
#[serde(try_from = "String", into = "&'static str")]
pub enum OrgRole {
    #[strum(serialize = "ORG_OWNER")]
    Owner,
    #[strum(serialize = "ORG_MEMBER")]
    Member,
    #[strum(serialize = "ORG_GROUP_CREATOR")]
    GroupCreator,
    #[strum(serialize = "ORG_BILLING_ADMIN")]
    BillingAdmin,
    #[strum(serialize = "ORG_BILLING_READ_ONLY")]
    BillingReadOnly,
    #[strum(serialize = "ORG_STREAM_PROCESSING_ADMIN")]
    StreamProcessingAdmin,
    #[strum(serialize = "ORG_READ_ONLY")]
    ReadOnly,
}

/// A role in a project: the last set the Atlas spec published as an enum (CONTRACT §2.7).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    EnumString,
    IntoStaticStr,
    VariantArray,
    Display,
)]
#[serde(try_from = "String", into = "&'static str")]
pub enum GroupRole {
    #[strum(serialize = "GROUP_OWNER")]
    Owner,
    #[strum(serialize = "GROUP_CLUSTER_MANAGER")]
    ClusterManager,
    #[strum(serialize = "GROUP_STREAM_PROCESSING_OWNER")]
    StreamProcessingOwner,
    #[strum(serialize = "GROUP_DATA_ACCESS_ADMIN")]
    DataAccessAdmin,
    #[strum(serialize = "GROUP_DATA_ACCESS_READ_WRITE")]
    DataAccessReadWrite,
    #[strum(serialize = "GROUP_DATA_ACCESS_READ_ONLY")]
    DataAccessReadOnly,
    #[strum(serialize = "GROUP_READ_ONLY")]
    ReadOnly,
    #[strum(serialize = "GROUP_SEARCH_INDEX_EDITOR")]
    SearchIndexEditor,
    #[strum(serialize = "GROUP_BACKUP_MANAGER")]
    BackupManager,
    #[strum(serialize = "GROUP_OBSERVABILITY_VIEWER")]
    ObservabilityViewer,
    #[strum(serialize = "GROUP_DATABASE_ACCESS_ADMIN")]
    DatabaseAccessAdmin,
}

impl OrgRole {
    /// Every role, in the order the contract lists them.
    pub const ALL: &'static [OrgRole] = Self::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl GroupRole {
    /// Every role, in the order the contract lists them.
    pub const ALL: &'static [GroupRole] = Self::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl TryFrom<String> for OrgRole {
    type Error = InvalidRole;

    fn try_from(name: String) -> Result<Self, InvalidRole> {
        role_of_kind::<Self, GroupRole>(name)
    }
}

impl TryFrom<String> for GroupRole {
    type Error = InvalidRole;

    fn try_from(name: String) -> Result<Self, InvalidRole> {
        role_of_kind::<Self, OrgRole>(name)
    }
}

/// `name` as a role `R`; a name of the `Other` kind of role is told apart from an unknown one
/// (Atlas answers them with different errors).
fn role_of_kind<R: FromStr, Other: FromStr>(name: String) -> Result<R, InvalidRole> {
    match name.parse() {
        Ok(role) => Ok(role),
        Err(_) if name.parse::<Other>().is_ok() => Err(InvalidRole::OtherKind(name)),
        Err(_) => Err(InvalidRole::Unknown(name)),
    }
}

/// A non-empty set of roles without duplicates, in the order first given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSet<R>(Vec<R>);

/// The organization roles of a member, invitee or key.
pub type OrgRoles = RoleSet<OrgRole>;
/// The roles of a project member or invitee.
pub type GroupRoles = RoleSet<GroupRole>;

impl<R: Copy + PartialEq> RoleSet<R> {
    /// Collapses duplicates; `None` when no role is left, since a member needs at least one.
    pub fn new(roles: impl IntoIterator<Item = R>) -> Option<Self> {
        let mut unique = Vec::new();
        for role in roles {
            if !unique.contains(&role) {
                unique.push(role);
            }
        }
        (!unique.is_empty()).then_some(Self(unique))
    }

    pub fn single(role: R) -> Self {
        Self(vec![role])
    }

    pub fn contains(&self, role: R) -> bool {
        self.0.contains(&role)
    }

    pub fn iter(&self) -> impl Iterator<Item = R> + '_ {
        self.0.iter().copied()
    }

    pub fn as_slice(&self) -> &[R] {
        &self.0
    }
}

impl<R> TryFrom<Vec<String>> for RoleSet<R>
where
    R: TryFrom<String, Error = InvalidRole> + Copy + PartialEq,
{
    type Error = InvalidRoles;

    /// Role names as a request lists them: at most [`MAX_ROLES`], each a role of this kind,
    /// at least one; duplicates collapse.
    fn try_from(names: Vec<String>) -> Result<Self, InvalidRoles> {
        at_most(&names, MAX_ROLES)
            .map_err(|too_many| InvalidRoles::TooMany { max: too_many.max })?;
        let roles = names
            .into_iter()
            .map(R::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        RoleSet::new(roles).ok_or(InvalidRoles::Empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_org_role_round_trips() {
        for role in OrgRole::ALL {
            assert_eq!(role.as_str().parse::<OrgRole>(), Ok(*role));
            assert_eq!(role.to_string(), role.as_str());
            let json = serde_json::to_string(role).expect("serializes");
            assert_eq!(json, format!("\"{role}\""));
            assert_eq!(
                serde_json::from_str::<OrgRole>(&json).expect("parses"),
                *role
            );
        }
        assert_eq!(OrgRole::ALL.len(), 7);
    }

    #[test]
    fn every_group_role_round_trips() {
        for role in GroupRole::ALL {
            assert_eq!(role.as_str().parse::<GroupRole>(), Ok(*role));
            assert_eq!(role.to_string(), role.as_str());
            let json = serde_json::to_string(role).expect("serializes");
            assert_eq!(json, format!("\"{role}\""));
            assert_eq!(
                serde_json::from_str::<GroupRole>(&json).expect("parses"),
                *role
            );
        }
        assert_eq!(GroupRole::ALL.len(), 11);
    }

    #[test]
    fn roles_are_case_sensitive() {
        assert!("org_owner".parse::<OrgRole>().is_err());
        assert!("GROUP_OWNER".parse::<OrgRole>().is_err());
    }

    #[test]
    fn a_role_of_the_other_kind_is_told_apart_from_an_unknown_one() {
        assert_eq!(
            OrgRole::try_from("GROUP_OWNER".to_owned()),
            Err(InvalidRole::OtherKind("GROUP_OWNER".into()))
        );
        assert_eq!(
            GroupRole::try_from("ORG_MEMBER".to_owned()),
            Err(InvalidRole::OtherKind("ORG_MEMBER".into()))
        );
        assert_eq!(
            GroupRole::try_from("group_owner".to_owned()),
            Err(InvalidRole::Unknown("group_owner".into()))
        );
        assert_eq!(
            OrgRole::try_from("ORG_OWNER".to_owned()),
            Ok(OrgRole::Owner)
        );
    }

    #[test]
    fn role_names_read_as_a_set_within_the_limit() {
        let names = |names: &[&str]| -> Vec<String> {
            names.iter().map(|name| (*name).to_owned()).collect()
        };
        assert_eq!(
            OrgRoles::try_from(names(&["ORG_MEMBER", "ORG_OWNER", "ORG_MEMBER"]))
                .map(|roles| roles.as_slice().to_vec()),
            Ok(vec![OrgRole::Member, OrgRole::Owner])
        );
        assert_eq!(OrgRoles::try_from(names(&[])), Err(InvalidRoles::Empty));
        assert_eq!(
            GroupRoles::try_from(names(&["GROUP_OWNER", "ORG_OWNER"])),
            Err(InvalidRoles::Role(InvalidRole::OtherKind(
                "ORG_OWNER".into()
            )))
        );
        let too_many = vec!["ORG_MEMBER".to_owned(); MAX_ROLES + 1];
        assert_eq!(
            OrgRoles::try_from(too_many),
            Err(InvalidRoles::TooMany { max: MAX_ROLES })
        );
    }

    #[test]
    fn org_roles_collapse_duplicates_and_refuse_emptiness() {
        let roles =
            OrgRoles::new([OrgRole::Member, OrgRole::Owner, OrgRole::Member]).expect("non-empty");
        assert_eq!(roles.as_slice(), &[OrgRole::Member, OrgRole::Owner]);
        assert_eq!(OrgRoles::new([]), None);
    }
}
