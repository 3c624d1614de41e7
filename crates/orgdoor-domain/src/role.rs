//! Organization and project roles, with Atlas's exact spellings.

use std::fmt;
use std::str::FromStr;

/// A role string that is not one of the known names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a known role")]
pub struct InvalidRole(pub String);

macro_rules! role_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every role, in the order the contract lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl FromStr for $name {
            type Err = InvalidRole;

            fn from_str(candidate: &str) -> Result<Self, Self::Err> {
                match candidate {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(InvalidRole(candidate.to_owned())),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidRole;

            fn try_from(candidate: String) -> Result<Self, Self::Error> {
                candidate.parse()
            }
        }

        impl From<$name> for &'static str {
            fn from(role: $name) -> &'static str {
                role.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

role_enum!(
    /// A role in an organization.
    OrgRole {
        Owner => "ORG_OWNER",
        Member => "ORG_MEMBER",
        GroupCreator => "ORG_GROUP_CREATOR",
        BillingAdmin => "ORG_BILLING_ADMIN",
        BillingReadOnly => "ORG_BILLING_READ_ONLY",
        StreamProcessingAdmin => "ORG_STREAM_PROCESSING_ADMIN",
        ReadOnly => "ORG_READ_ONLY",
    }
);

role_enum!(
    /// A role in a project: the last set the Atlas spec published as an enum (CONTRACT §2.7).
    GroupRole {
        Owner => "GROUP_OWNER",
        ClusterManager => "GROUP_CLUSTER_MANAGER",
        StreamProcessingOwner => "GROUP_STREAM_PROCESSING_OWNER",
        DataAccessAdmin => "GROUP_DATA_ACCESS_ADMIN",
        DataAccessReadWrite => "GROUP_DATA_ACCESS_READ_WRITE",
        DataAccessReadOnly => "GROUP_DATA_ACCESS_READ_ONLY",
        ReadOnly => "GROUP_READ_ONLY",
        SearchIndexEditor => "GROUP_SEARCH_INDEX_EDITOR",
        BackupManager => "GROUP_BACKUP_MANAGER",
        ObservabilityViewer => "GROUP_OBSERVABILITY_VIEWER",
        DatabaseAccessAdmin => "GROUP_DATABASE_ACCESS_ADMIN",
    }
);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_org_role_round_trips() {
        for role in OrgRole::ALL {
            assert_eq!(role.as_str().parse::<OrgRole>(), Ok(*role));
        }
        assert_eq!(OrgRole::ALL.len(), 7);
    }

    #[test]
    fn every_group_role_round_trips() {
        for role in GroupRole::ALL {
            assert_eq!(role.as_str().parse::<GroupRole>(), Ok(*role));
        }
        assert_eq!(GroupRole::ALL.len(), 11);
    }

    #[test]
    fn roles_are_case_sensitive() {
        assert!("org_owner".parse::<OrgRole>().is_err());
        assert!("GROUP_OWNER".parse::<OrgRole>().is_err());
    }

    #[test]
    fn org_roles_collapse_duplicates_and_refuse_emptiness() {
        let roles =
            OrgRoles::new([OrgRole::Member, OrgRole::Owner, OrgRole::Member]).expect("non-empty");
        assert_eq!(roles.as_slice(), &[OrgRole::Member, OrgRole::Owner]);
        assert_eq!(OrgRoles::new([]), None);
    }
}
