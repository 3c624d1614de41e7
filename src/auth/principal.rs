//! Who is calling, and what they may do. Each handler states the role it needs in its signature
//! (`http::scope`'s `OrgScope<OrgOwner>`), which checks it here, so the rule sits next to the
//! operation.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::Extensions;
use axum::http::request::Parts;
use orgdoor_domain::{
    Actor, ActorCredential, ApiKeyId, ClientId, Group, GroupId, GroupRole, GroupRoles, OrgId,
    OrgRole, OrgRoles, Organization, ProjectGrant, PublicKey,
};

use crate::error::AppError;

/// Which credential authenticated a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A programmatic API key, by Digest.
    ApiKey { id: ApiKeyId, public_key: PublicKey },
    /// A service account, by a Bearer access token.
    ServiceAccount { client_id: ClientId },
}

/// An authenticated caller: a credential of one organization and its roles there.
#[derive(Debug, Clone)]
pub struct Principal {
    pub identity: Identity,
    /// The credential's organization as read with the credential, in this request: handlers
    /// about the caller's own organization need not read it again.
    pub organization: Organization,
    pub roles: OrgRoles,
    /// Roles in projects of the organization (API keys given to a project).
    pub project_roles: Vec<ProjectGrant>,
}

/// The minimum organization role an operation names in `x-rolesRequirements`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgAccess {
    /// "Organization Member": any role in the organization.
    Member,
    /// "Organization Read Only": read access to everything, which owners also have.
    ReadOnly,
    /// Creating projects ("Organization Project Creator").
    GroupCreator,
    /// "Organization Owner".
    Owner,
}

/// The minimum project role an operation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAccess {
    /// "Project Read Only": organization owners and read-only members see every project; a
    /// credential with any role in the project sees that one.
    ReadOnly,
    /// "Project Owner": organization owners own every project of their organization; a
    /// credential with `GROUP_OWNER` in the project owns that one.
    Owner,
}

impl Principal {
    /// The name Atlas records as `inviterUsername`: an API key's public key (observed on
    /// Atlas) or a service account's client id (our choice, BEHAVIOR §2.3).
    pub fn username(&self) -> &str {
        match &self.identity {
            Identity::ApiKey { public_key, .. } => public_key.as_str(),
            Identity::ServiceAccount { client_id } => client_id.as_str(),
        }
    }

    /// The principal as the author of events, calling from `remote_address`.
    pub fn actor(&self, remote_address: Option<IpAddr>) -> Actor {
        let credential = match &self.identity {
            Identity::ApiKey { id, public_key } => ActorCredential::ApiKey {
                id: id.clone(),
                public_key: public_key.to_string(),
            },
            Identity::ServiceAccount { client_id } => ActorCredential::ServiceAccount {
                client_id: client_id.to_string(),
            },
        };
        Actor {
            credential,
            // An IPv4 client of a dual-stack listener arrives as `::ffff:a.b.c.d`.
            remote_address: remote_address.map(|address| address.to_canonical()),
        }
    }

    pub fn org_id(&self) -> &OrgId {
        &self.organization.id
    }

    fn has(&self, role: OrgRole) -> bool {
        self.roles.contains(role)
    }

    /// The credential's own roles in a project, if it has any there.
    pub fn roles_in(&self, group: &GroupId) -> Option<&GroupRoles> {
        self.project_roles
            .iter()
            .find(|grant| &grant.group_id == group)
            .map(|grant| &grant.roles)
    }

    /// The API key behind the request, if it was one.
    pub fn api_key(&self) -> Option<&ApiKeyId> {
        match &self.identity {
            Identity::ApiKey { id, .. } => Some(id),
            Identity::ServiceAccount { .. } => None,
        }
    }

    /// Refuses callers outside `org`, then callers without the role `access` needs.
    pub fn require_org(&self, org: &OrgId, access: OrgAccess) -> Result<(), AppError> {
        if self.org_id() != org {
            return Err(AppError::UserCannotAccessOrg);
        }
        let owner = self.has(OrgRole::Owner);
        match access {
            OrgAccess::Member => Ok(()),
            OrgAccess::ReadOnly if owner || self.has(OrgRole::ReadOnly) => Ok(()),
            OrgAccess::ReadOnly => Err(AppError::UserUnauthorized),
            OrgAccess::GroupCreator if owner || self.has(OrgRole::GroupCreator) => Ok(()),
            OrgAccess::GroupCreator => Err(AppError::NotOrgGroupCreator(org.to_string())),
            OrgAccess::Owner if owner => Ok(()),
            OrgAccess::Owner => Err(AppError::NotOrgOwner(org.to_string())),
        }
    }

    /// Refuses callers outside the project's organization, then callers without the role.
    pub fn require_group(&self, group: &Group, access: GroupAccess) -> Result<(), AppError> {
        if self.org_id() != &group.org_id {
            return Err(AppError::UserCannotAccessGroup);
        }
        let in_project = self.roles_in(&group.id);
        let allowed = match access {
            GroupAccess::ReadOnly => {
                self.has(OrgRole::Owner) || self.has(OrgRole::ReadOnly) || in_project.is_some()
            }
            GroupAccess::Owner => {
                self.has(OrgRole::Owner)
                    || in_project.is_some_and(|roles| roles.contains(GroupRole::Owner))
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(AppError::UserUnauthorized)
        }
    }
}

impl Principal {
    /// The caller the authentication layer put in a request's extensions.
    pub fn of(extensions: &Extensions) -> Result<&Principal, AppError> {
        extensions.get::<Principal>().ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("route reached without authentication"))
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Principal::of(&parts.extensions).cloned()
    }
}

#[cfg(test)]
impl Principal {
    /// A fresh API key of a fresh organization, holding `roles` there (unit tests of role checks
    /// and of what a caller is keyed by).
    pub(crate) fn test_api_key(roles: &[OrgRole]) -> Principal {
        let now = time::OffsetDateTime::now_utc();
        Principal {
            identity: Identity::ApiKey {
                id: ApiKeyId::generate(now),
                public_key: PublicKey::generate(),
            },
            organization: Organization {
                id: OrgId::generate(now),
                name: orgdoor_domain::OrgName::parse("Test").expect("a name"),
                skip_default_alerts_settings: false,
                created_at: now,
            },
            roles: OrgRoles::new(roles.iter().copied()).expect("non-empty"),
            project_roles: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    #[test]
    fn members_read_but_do_not_own() {
        let member = Principal::test_api_key(&[OrgRole::Member]);
        let org = member.org_id().clone();
        assert!(member.require_org(&org, OrgAccess::Member).is_ok());
        assert!(matches!(
            member.require_org(&org, OrgAccess::Owner),
            Err(AppError::NotOrgOwner(_))
        ));
        assert!(matches!(
            member.require_org(&org, OrgAccess::GroupCreator),
            Err(AppError::NotOrgGroupCreator(_))
        ));
    }

    #[test]
    fn owners_pass_every_check_in_their_org_and_none_elsewhere() {
        let owner = Principal::test_api_key(&[OrgRole::Owner]);
        let org = owner.org_id().clone();
        for access in [
            OrgAccess::Member,
            OrgAccess::ReadOnly,
            OrgAccess::GroupCreator,
            OrgAccess::Owner,
        ] {
            assert!(owner.require_org(&org, access).is_ok());
        }
        let elsewhere = OrgId::generate(OffsetDateTime::now_utc());
        assert!(matches!(
            owner.require_org(&elsewhere, OrgAccess::Member),
            Err(AppError::UserCannotAccessOrg)
        ));
    }
}
