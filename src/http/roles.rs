//! Names in request bodies read as domain values (the domain crate decides what is a role or an
//! address), with the Atlas error each refusal is here: which attribute, organization or
//! project it names.

use orgdoor_domain::{
    EmailAddress, Group, GroupRole, GroupRoles, InvalidRole, InvalidRoles, OrgId, OrgRole, OrgRoles,
};

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

/// Where a role was asked for, for the error that names it.
#[derive(Clone, Copy)]
enum RoleScope<'a> {
    Org(&'a OrgId),
    Group(&'a str),
}

fn role_error(error: InvalidRole, scope: RoleScope<'_>) -> AppError {
    match (error, scope) {
        (InvalidRole::OtherKind(role), RoleScope::Org(org)) => AppError::InvalidRoleForOrg {
            role,
            org: org.to_string(),
        },
        (InvalidRole::OtherKind(role), RoleScope::Group(group)) => AppError::InvalidRoleForGroup {
            role,
            group: group.to_owned(),
        },
        (InvalidRole::Unknown(role), _) => AppError::InvalidEnumValue(role),
    }
}

/// A role list in the attribute `attribute`: over the limit is `VALIDATION_ERROR`, absent or
/// empty `MISSING_ATTRIBUTE` (a member needs a role), a role of the other kind
/// `INVALID_ROLE_FOR_*`, anything else unknown `INVALID_ENUM_VALUE`.
fn roles_error(attribute: &str, error: InvalidRoles, scope: RoleScope<'_>) -> AppError {
    match error {
        InvalidRoles::Empty => AppError::MissingAttribute(attribute.into()),
        InvalidRoles::TooMany { max } => AppError::TooManyItems {
            attribute: attribute.into(),
            max,
        },
        InvalidRoles::Role(error) => role_error(error, scope),
    }
}

/// Organization roles in `roles`.
pub fn parse_org_roles(roles: Vec<String>, org: &OrgId) -> Result<OrgRoles, AppError> {
    OrgRoles::try_from(roles).map_err(|error| roles_error("roles", error, RoleScope::Org(org)))
}

/// One organization role.
pub fn parse_org_role(role: String, org: &OrgId) -> Result<OrgRole, AppError> {
    OrgRole::try_from(role).map_err(|error| role_error(error, RoleScope::Org(org)))
}

/// One project role, in the project `group` (as the request names it).
pub fn parse_group_role(role: String, group: &str) -> Result<GroupRole, AppError> {
    GroupRole::try_from(role).map_err(|error| role_error(error, RoleScope::Group(group)))
}

/// At least one project role in the list attribute `attribute`.
pub fn parse_named_roles(
    attribute: &str,
    roles: Option<Vec<String>>,
    group: &Group,
) -> Result<GroupRoles, AppError> {
    GroupRoles::try_from(roles.unwrap_or_default())
        .map_err(|error| roles_error(attribute, error, RoleScope::Group(group.id.as_str())))
}

/// `roles`: at least one project role.
pub fn parse_roles(roles: Option<Vec<String>>, group: &Group) -> Result<GroupRoles, AppError> {
    parse_named_roles("roles", roles, group)
}
