//! What a request is about, found and checked before its body is read: the organization or
//! project its path names, loaded once the id is well formed, and the caller's right to it.
//!
//! A handler declares the role it needs in its signature (`OrgScope<OrgOwner>`,
//! `GroupScope<GroupReadOnly>`). Axum runs every `FromRequestParts` extractor before the one
//! body extractor, so a caller without the role is refused before its body is parsed, whatever
//! the body holds (BEHAVIOR §0: authorization before validation). Within a scope the order is:
//! a malformed id (`INVALID_ORG_ID`, `INVALID_GROUP_ID`), then an unknown one (`ORG_NOT_FOUND`,
//! `GROUP_NOT_FOUND`), then the role. By convention the scope is a handler's last argument
//! before the body, after the path and query it reads for itself.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use orgdoor_domain::{Group, GroupId, OrgId, Organization};

use crate::auth::{GroupAccess, OrgAccess, Principal};
use crate::error::AppError;
use crate::http::extract::{parse_group_id, parse_org_id, path_param};
use crate::state::AppState;

/// The path parameter that names an organization.
pub const ORG_ID: &str = "orgId";
/// The path parameter that names a project.
pub const GROUP_ID: &str = "groupId";

/// The path segment a scope reads (`{orgId}`, `{groupId}`), skipped where a handler reads the
/// rest of its path with `AtlasPath`.
pub type ScopeSegment = serde::de::IgnoredAny;

/// The organization role an operation requires, as a type: see [`OrgScope`].
pub trait OrgRequirement {
    const ACCESS: OrgAccess;
}

/// "Organization Member": any role in the organization.
pub struct OrgMember;
/// "Organization Read Only", which owners also have.
pub struct OrgReadOnly;
/// "Organization Owner".
pub struct OrgOwner;

impl OrgRequirement for OrgMember {
    const ACCESS: OrgAccess = OrgAccess::Member;
}
impl OrgRequirement for OrgReadOnly {
    const ACCESS: OrgAccess = OrgAccess::ReadOnly;
}
impl OrgRequirement for OrgOwner {
    const ACCESS: OrgAccess = OrgAccess::Owner;
}

/// The project role an operation requires, as a type: see [`GroupScope`].
pub trait GroupRequirement {
    const ACCESS: GroupAccess;
}

/// "Project Read Only".
pub struct GroupReadOnly;
/// "Project Owner".
pub struct GroupOwner;

impl GroupRequirement for GroupReadOnly {
    const ACCESS: GroupAccess = GroupAccess::ReadOnly;
}
impl GroupRequirement for GroupOwner {
    const ACCESS: GroupAccess = GroupAccess::Owner;
}

/// The organization the path's `{orgId}` names, once the caller is known to hold `R` there.
pub struct OrgScope<R>(pub Organization, pub PhantomData<fn() -> R>);

impl<R: OrgRequirement> FromRequestParts<AppState> for OrgScope<R> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let raw_id = scope_param(parts, ORG_ID).await?;
        let principal = Principal::of(&parts.extensions)?;
        let organization = org_for(state, principal, &raw_id, R::ACCESS).await?;
        Ok(OrgScope(organization, PhantomData))
    }
}

/// The project the path's `{groupId}` names, once the caller is known to hold `R` there.
pub struct GroupScope<R>(pub Group, pub PhantomData<fn() -> R>);

impl<R: GroupRequirement> FromRequestParts<AppState> for GroupScope<R> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let raw_id = scope_param(parts, GROUP_ID).await?;
        let group = load_group(state, &raw_id).await?;
        Principal::of(&parts.extensions)?.require_group(&group, R::ACCESS)?;
        Ok(GroupScope(group, PhantomData))
    }
}

/// A scope's path parameter; a route without it is a mistake in the router, not the client's.
async fn scope_param(parts: &mut Parts, name: &str) -> Result<String, AppError> {
    path_param(parts, name)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("route has no {{{name}}} segment")))
}

/// The project id a request's path names, if it names a well-formed one: what the rate limiter
/// keys project buckets by (a malformed id is refused later, by [`GroupScope`]).
pub async fn group_in_path(parts: &mut Parts) -> Option<GroupId> {
    path_param(parts, GROUP_ID).await.ok()??.parse().ok()
}

/// Loads an organization: unknown → `ORG_NOT_FOUND`.
async fn load_org(state: &AppState, id: OrgId) -> Result<Organization, AppError> {
    state
        .store
        .get_organization(&id)
        .await?
        .ok_or_else(|| AppError::OrgNotFound(id.to_string()))
}

/// The organization `org_id` names, once the caller is known to have `access` to it: malformed
/// → `INVALID_ORG_ID`, unknown → `ORG_NOT_FOUND`, then the caller's role. [`OrgScope`] calls it
/// with the path's id; `POST /groups`, whose body names the organization, calls it itself.
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
async fn load_group(state: &AppState, raw_id: &str) -> Result<Group, AppError> {
    let id = parse_group_id(raw_id)?;
    state
        .store
        .get_group(&id)
        .await?
        .ok_or_else(|| AppError::GroupNotFound(id.to_string()))
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    /// What `group_in_path` reads from a request the router matched to `route`.
    async fn group_read(route: &str, uri: &str) -> String {
        async fn probe(mut parts: Parts) -> String {
            format!("{:?}", group_in_path(&mut parts).await)
        }
        let app = Router::new().route(route, get(probe));
        let request = Request::builder()
            .uri(uri)
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("infallible");
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        String::from_utf8_lossy(&body).into_owned()
    }

    #[tokio::test]
    async fn the_project_is_the_well_formed_group_id_the_route_names() {
        let id = "0123456789abcdef01234567";
        assert_eq!(
            group_read("/groups/{groupId}/users", &format!("/groups/{id}/users")).await,
            format!("Some(GroupId(\"{id}\"))")
        );
        // Decoded as every other path parameter is.
        assert_eq!(
            group_read("/groups/{groupId}", "/groups/%30123456789abcdef01234567").await,
            format!("Some(GroupId(\"{id}\"))")
        );
        assert_eq!(
            group_read("/groups/{groupId}", "/groups/byName").await,
            "None"
        );
        assert_eq!(
            group_read(
                "/groups/byName/{groupName}",
                &format!("/groups/byName/{id}")
            )
            .await,
            "None"
        );
    }
}
