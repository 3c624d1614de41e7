//! Organizations: the tenant every other resource belongs to.

use time::OffsetDateTime;

use crate::{OrgId, OrgName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrgId,
    pub name: OrgName,
    pub skip_default_alerts_settings: bool,
    pub created_at: OffsetDateTime,
}

/// What a caller supplies to create an organization.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub name: OrgName,
    pub skip_default_alerts_settings: bool,
}

impl NewOrganization {
    pub fn into_organization(self, now: OffsetDateTime) -> Organization {
        let now = crate::truncate_to_seconds(now);
        Organization {
            id: OrgId::generate(now),
            name: self.name,
            skip_default_alerts_settings: self.skip_default_alerts_settings,
            created_at: now,
        }
    }
}
