//! Names in request bodies read as domain values, with the Atlas error each refusal is:
//! addresses and the roles of organizations and projects.

use orgdoor_domain::limits::MAX_ROLES;
use orgdoor_domain::{EmailAddress, Group, GroupRole, GroupRoles, OrgId, OrgRole, OrgRoles};

use crate::error::AppError;

/// The invitee's address: absent or empty is `MISSING_ATTRIBUTE`, malformed
/// `INVALID_EMAIL_ADDRESS`.
pub fn parse_username(username: Option<String>) -> Result<EmailAddress, AppError> {
    let username = username
        .filter(|name| !name.is_empty())
        .ok_or_else(|| AppError::MissingAttribute("username".into()))?;
    username
        .parse()
        .map_err(|_| AppError::InvalidEmailAddress(username))
}

/// Organization roles: absent or empty is `MISSING_ATTRIBUTE` (a member needs a role), a project
/// role is `INVALID_ROLE_FOR_ORG`, anything else unknown `INVALID_ENUM_VALUE`.
pub fn parse_org_roles(roles: Vec<String>, org: &OrgId) -> Result<OrgRoles, AppError> {
    AppError::check_length("roles", &roles, MAX_ROLES)?;
    let roles = roles
        .into_iter()
        .map(|role| parse_org_role(role, org))
        .collect::<Result<Vec<_>, _>>()?;
    OrgRoles::new(roles).ok_or_else(|| AppError::MissingAttribute("roles".into()))
}

/// One organization role: a project role is `INVALID_ROLE_FOR_ORG`, anything else unknown
/// `INVALID_ENUM_VALUE`.
pub fn parse_org_role(role: String, org: &OrgId) -> Result<OrgRole, AppError> {
    match role.parse::<OrgRole>() {
        Ok(role) => Ok(role),
        Err(_) if role.parse::<GroupRole>().is_ok() => Err(AppError::InvalidRoleForOrg {
            role,
            org: org.to_string(),
        }),
        Err(_) => Err(AppError::InvalidEnumValue(role)),
    }
}

/// A project role: an organization role is `INVALID_ROLE_FOR_GROUP`, anything else unknown
/// `INVALID_ENUM_VALUE`.
pub fn parse_group_role(role: String, group: &str) -> Result<GroupRole, AppError> {
    match role.parse::<GroupRole>() {
        Ok(role) => Ok(role),
        Err(_) if role.parse::<OrgRole>().is_ok() => Err(AppError::InvalidRoleForGroup {
            role,
            group: group.to_owned(),
        }),
        Err(_) => Err(AppError::InvalidEnumValue(role)),
    }
}

/// At least one project role in the list attribute `name`; absent or empty is
/// `MISSING_ATTRIBUTE`.
pub fn parse_named_roles(
    name: &str,
    roles: Option<Vec<String>>,
    group: &Group,
) -> Result<GroupRoles, AppError> {
    let roles = roles.unwrap_or_default();
    AppError::check_length(name, &roles, MAX_ROLES)?;
    let roles = roles
        .into_iter()
        .map(|role| parse_group_role(role, group.id.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    GroupRoles::new(roles).ok_or_else(|| AppError::MissingAttribute(name.into()))
}

/// `roles`: at least one project role.
pub fn parse_roles(roles: Option<Vec<String>>, group: &Group) -> Result<GroupRoles, AppError> {
    parse_named_roles("roles", roles, group)
}
