//! Teams: named sets of organization members that invitations can pre-assign.

use time::OffsetDateTime;

use crate::{OrgId, TeamId, TeamName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub org_id: OrgId,
    pub name: TeamName,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewTeam {
    pub org_id: OrgId,
    pub name: TeamName,
}

impl NewTeam {
    pub fn into_team(self, now: OffsetDateTime) -> Team {
        let now = crate::truncate_to_seconds(now);
        Team {
            id: TeamId::generate(now),
            org_id: self.org_id,
            name: self.name,
            created_at: now,
        }
    }
}
