//! What a request is about, found and checked: the organization or project its path names,
//! loaded once the id is well formed, and the caller's right to it.

use orgdoor_domain::{Group, OrgId, Organization};

use crate::auth::{OrgAccess, Principal};
use crate::error::AppError;
use crate::http::extract::{parse_group_id, parse_org_id};
use crate::state::AppState;

/// Loads an organization: unknown → `ORG_NOT_FOUND`.
async fn load_org(state: &AppState, id: OrgId) -> Result<Organization, AppError> {
    state
        .store
        .get_organization(&id)
        .await?
        .ok_or_else(|| AppError::OrgNotFound(id.to_string()))
}

/// The organization a path names, once the caller is known to have `access` to it: malformed
/// → `INVALID_ORG_ID`, unknown → `ORG_NOT_FOUND`, then the caller's role.
pub async fn org_for(
    state: &AppState,
    principal: &Principal,
    org_id: &str,
    access: OrgAccess,
) -> Result<Organization, AppError> {
    let id = parse_org_id(org_id)?;
    // The caller's own organization was read with its credential in this request.
    let organization = if &id == principal.org_id() {
        principal.organization.clone()
    } else {
        load_org(state, id).await?
    };
    principal.require_org(&organization.id, access)?;
    Ok(organization)
}

/// Loads the project a path names: malformed → `INVALID_GROUP_ID`, unknown → `GROUP_NOT_FOUND`.
pub async fn find_group(state: &AppState, raw_id: &str) -> Result<Group, AppError> {
    let id = parse_group_id(raw_id)?;
    state
        .store
        .get_group(&id)
        .await?
        .ok_or_else(|| AppError::GroupNotFound(id.to_string()))
}
