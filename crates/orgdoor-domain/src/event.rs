//! Events: the append-only record of every change of access, as Atlas's activity feeds show
//! them. An event belongs to an organization and to the organization's feed or, with a project,
//! to that project's feed; it names who did it (the actor and the address the request came
//! from) and what it was done to (a user, a team, a key, an access-list entry).

use std::net::IpAddr;

use strum::{EnumString, IntoStaticStr, VariantArray};
use time::OffsetDateTime;

use crate::{ApiKeyId, EmailAddress, EventId, GroupId, OrgId, TeamId, UserId};

/// Which activity feeds an event type appears in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// The organization's.
    Organization,
    /// The project's only.
    Project,
    /// The project's, and the organization's too.
    Both,
}

/// The event types orgdoor records, with Atlas's names (`eventTypeName`; `docs/compatibility.md`
/// says where each comes from, and which two are orgdoor's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumString, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    // Organization invitations and membership.
    InvitedToOrg,
    /// orgdoor's own: Atlas records no event when an invitation's roles change.
    OrgInvitationUpdated,
    OrgInvitationDeleted,
    /// orgdoor's own: Atlas records no event when an invitee declines.
    OrgInvitationDeclined,
    JoinedOrg,
    RemovedFromOrg,
    UserRolesChangedAudit,
    // Organizations and projects.
    OrgCreated,
    OrgRenamed,
    GroupCreated,
    GroupDeleted,
    GroupNameChanged,
    // Teams.
    TeamCreated,
    TeamDeleted,
    TeamNameChanged,
    JoinedTeam,
    InvitedToTeam,
    RemovedFromTeam,
    TeamAddedToGroup,
    TeamRemovedFromGroup,
    TeamRolesModified,
    // Programmatic API keys.
    ApiKeyCreated,
    ApiKeyDeleted,
    ApiKeyDescriptionChanged,
    ApiKeyRolesChanged,
    ApiKeyAccessListEntryAdded,
    ApiKeyAccessListEntryDeleted,
    ApiKeyAddedToGroup,
    ApiKeyRemovedFromGroup,
    // Service accounts.
    ServiceAccountCreated,
    ServiceAccountDeleted,
    ServiceAccountDetailsChanged,
    ServiceAccountRolesChanged,
    ServiceAccountSecretAdded,
    ServiceAccountSecretDeleted,
    ServiceAccountAccessListEntryAdded,
    ServiceAccountAccessListEntryDeleted,
    // Projects: invitations and membership.
    InvitedToGroup,
    GroupInvitationDeleted,
    JoinedGroup,
    RemovedFromGroup,
}

impl EventType {
    /// Every type, in the order the catalogue lists them.
    pub fn all() -> &'static [EventType] {
        Self::VARIANTS
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The feeds events of this type appear in, when they concern a project (without one, an
    /// event is the organization's).
    pub fn feed(self) -> Feed {
        use EventType::*;
        match self {
            InvitedToGroup
            | GroupInvitationDeleted
            | JoinedGroup
            | RemovedFromGroup
            | GroupNameChanged => Feed::Project,
            TeamAddedToGroup
            | TeamRemovedFromGroup
            | TeamRolesModified
            | ApiKeyAddedToGroup
            | ApiKeyRemovedFromGroup
            | ApiKeyRolesChanged
            | UserRolesChangedAudit
            | GroupCreated
            | GroupDeleted => Feed::Both,
            _ => Feed::Organization,
        }
    }

    /// What `GET /eventTypes` says of it: Atlas's description, and whether an alert can be
    /// configured on it.
    pub fn description(self) -> (&'static str, bool) {
        use EventType::*;
        match self {
            InvitedToOrg => ("User was invited to organization", false),
            OrgInvitationUpdated => ("User had their organization invitation changed", false),
            OrgInvitationDeleted => ("User had their organization invitation deleted", false),
            OrgInvitationDeclined => ("User declined their organization invitation", false),
            JoinedOrg => ("User joined the organization", true),
            RemovedFromOrg => ("User left the organization", true),
            UserRolesChangedAudit => ("User had their role changed", true),
            OrgCreated => ("Organization has been created", false),
            OrgRenamed => ("Organization has been renamed", false),
            GroupCreated => ("Project was created", false),
            GroupDeleted => ("Project was deleted", false),
            GroupNameChanged => ("Project name changed", false),
            TeamCreated => ("Team created", false),
            TeamDeleted => ("Team deleted", false),
            TeamNameChanged => ("Team name changed", false),
            JoinedTeam => ("User joined the team", false),
            InvitedToTeam => ("User was invited to team", false),
            RemovedFromTeam => ("User left the team", false),
            TeamAddedToGroup => ("Team added to project", false),
            TeamRemovedFromGroup => ("Team removed from project", false),
            TeamRolesModified => ("Team roles modified in project", false),
            ApiKeyCreated => ("A new API key has been created", false),
            ApiKeyDeleted => ("An API Key has been deleted", false),
            ApiKeyDescriptionChanged => ("API Key Description Changed", false),
            ApiKeyRolesChanged => ("API Key Roles Changed", false),
            ApiKeyAccessListEntryAdded => ("API Key Access List Entry Added", false),
            ApiKeyAccessListEntryDeleted => ("API Key Access List Entry Deleted", false),
            ApiKeyAddedToGroup => ("API Key added to Group", false),
            ApiKeyRemovedFromGroup => ("API Key removed from Group", false),
            ServiceAccountCreated => ("Service Account has been created", false),
            ServiceAccountDeleted => ("Service Account has been deleted", false),
            ServiceAccountDetailsChanged => ("Service Account Details have been changed", false),
            ServiceAccountRolesChanged => ("Service Account had its roles changed", false),
            ServiceAccountSecretAdded => ("Service Account Secret Added", false),
            ServiceAccountSecretDeleted => ("Service Account Secret Deleted", false),
            ServiceAccountAccessListEntryAdded => {
                ("Service Account Access List Entry Added", false)
            }
            ServiceAccountAccessListEntryDeleted => {
                ("Service Account Access List Entry Deleted", false)
            }
            InvitedToGroup => ("User was invited to project", false),
            GroupInvitationDeleted => ("User had their project invitation deleted", false),
            JoinedGroup => ("User joined the project", true),
            RemovedFromGroup => ("User left the project", true),
        }
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actor {
    pub credential: ActorCredential,
    /// The address the request came from.
    pub remote_address: Option<IpAddr>,
}

/// The credential a change was made with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ActorCredential {
    ApiKey {
        id: ApiKeyId,
        public_key: String,
    },
    /// A service account, by its client id.
    ServiceAccount {
        client_id: String,
    },
    /// A person acting for themselves: an invitee answering on the invitation's page.
    User {
        user_id: UserId,
        username: EmailAddress,
    },
    /// orgdoor itself: the command line, a first start, housekeeping.
    #[default]
    System,
}

/// What an event is about, besides its organization and project.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventTarget {
    pub username: Option<EmailAddress>,
    pub user_id: Option<UserId>,
    pub team_id: Option<TeamId>,
    /// The public key or client id of a key or service account the change was made to.
    pub public_key: Option<String>,
    /// An access-list entry.
    pub access_list_entry: Option<String>,
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_type: EventType,
    /// The project, for an event of the project's feed.
    pub group_id: Option<GroupId>,
    pub target: EventTarget,
}

impl NewEvent {
    pub fn new(event_type: EventType, target: EventTarget) -> Self {
        Self {
            event_type,
            group_id: None,
            target,
        }
    }

    pub fn in_project(event_type: EventType, group: &GroupId, target: EventTarget) -> Self {
        Self {
            event_type,
            group_id: Some(group.clone()),
            target,
        }
    }
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    pub org_id: OrgId,
    pub group_id: Option<GroupId>,
    pub event_type: EventType,
    pub created_at: OffsetDateTime,
    pub actor: Actor,
    pub target: EventTarget,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_every_type_has_a_feed_and_a_description() {
        for event_type in EventType::VARIANTS {
            assert_eq!(event_type.as_str().parse(), Ok(*event_type));
            assert!(!event_type.description().0.is_empty());
            let _ = event_type.feed();
        }
        assert_eq!(EventType::InvitedToOrg.as_str(), "INVITED_TO_ORG");
        assert_eq!(
            EventType::ApiKeyAccessListEntryAdded.as_str(),
            "API_KEY_ACCESS_LIST_ENTRY_ADDED"
        );
        assert_eq!(EventType::JoinedGroup.feed(), Feed::Project);
        assert_eq!(EventType::TeamAddedToGroup.feed(), Feed::Both);
        assert_eq!(EventType::JoinedOrg.feed(), Feed::Organization);
        assert_eq!(
            EventType::UserRolesChangedAudit.as_str(),
            "USER_ROLES_CHANGED_AUDIT"
        );
        assert!("invited_to_org".parse::<EventType>().is_err());
    }
}
