//! Recording events, in the caller's transaction, and reading them back.

use orgdoor_domain::{
    Actor, ActorCredential, Event, EventId, EventTarget, EventType, Feed, GroupId, NewEvent, OrgId,
    OrgUser, TeamId, UserId, roles_in,
};
use sqlx::FromRow;

use crate::StoreError;
use crate::audit::{AuditContext, current};
use crate::rows::{corrupt, instant, parse, seconds};
use crate::sql::FromWriterRow;
use crate::sql::{Connection, Statement};

pub(crate) const EVENT_COLUMNS: &str = "id, org_id, group_id, event_type, created_at, \
     actor_kind, actor_api_key_id, actor_public_key, actor_user_id, actor_username, \
     remote_address, target_username, target_user_id, team_id, target_public_key, \
     access_list_entry";

const API_KEY: &str = "API_KEY";
const SERVICE_ACCOUNT: &str = "SERVICE_ACCOUNT";
const USER: &str = "USER";
const SYSTEM: &str = "SYSTEM";

/// Records `event` of `org`, made by the current actor ([`crate::audit`]); the caller's
/// transaction commits it with the change it records.
pub(crate) async fn record_event<C: Connection>(
    tx: &mut C,
    org: &OrgId,
    event: NewEvent,
) -> Result<(), StoreError> {
    let row = NewEventRow::of(&event);
    let target = event.target;
    row.bind(tx.query(&format!(
        "INSERT INTO events ({EVENT_COLUMNS}, in_org_feed) \
         VALUES ($1, $12, $2, $3, $4, $5, $6, $7, $8, $9, $10, $13, $14, $15, $16, $17, $11)"
    )))
    .bind(org.as_str())
    .bind(target.username.map(|username| username.to_string()))
    .bind(target.user_id.map(|id| id.to_string()))
    .bind(target.team_id.map(|id| id.to_string()))
    .bind(target.public_key)
    .bind(target.access_list_entry)
    .execute()
    .await?;
    Ok(())
}

/// An event's columns that do not name its organization or target: its own, and its actor's
/// (the current one, [`crate::audit`]).
pub(crate) struct NewEventRow {
    id: String,
    group_id: Option<String>,
    event_type: &'static str,
    created_at: i64,
    actor_kind: &'static str,
    actor_api_key_id: Option<String>,
    actor_public_key: Option<String>,
    actor_user_id: Option<String>,
    actor_username: Option<String>,
    remote_address: Option<String>,
    in_org_feed: bool,
}

impl NewEventRow {
    pub(crate) fn of(event: &NewEvent) -> Self {
        let AuditContext { actor, at: now } = current();
        let (mut api_key_id, mut public_key, mut user_id, mut username) = (None, None, None, None);
        let kind = match &actor.credential {
            ActorCredential::ApiKey {
                id,
                public_key: key,
            } => {
                (api_key_id, public_key) = (Some(id.to_string()), Some(key.clone()));
                API_KEY
            }
            ActorCredential::ServiceAccount { client_id } => {
                public_key = Some(client_id.clone());
                SERVICE_ACCOUNT
            }
            ActorCredential::User {
                user_id: id,
                username: name,
            } => {
                (user_id, username) = (Some(id.to_string()), Some(name.to_string()));
                USER
            }
            ActorCredential::System => SYSTEM,
        };
        Self {
            id: EventId::generate(now).to_string(),
            in_org_feed: event.group_id.is_none() || event.event_type.feed() != Feed::Project,
            group_id: event.group_id.as_ref().map(|group| group.to_string()),
            event_type: event.event_type.as_str(),
            created_at: seconds(now),
            actor_kind: kind,
            actor_api_key_id: api_key_id,
            actor_public_key: public_key,
            actor_user_id: user_id,
            actor_username: username,
            remote_address: actor.remote_address.map(|address| address.to_string()),
        }
    }

    /// Binds the ten columns, in [`EVENT_COLUMNS`]'s order without `org_id` and the target's,
    /// then `in_org_feed`, to the next eleven parameters of `statement`.
    pub(crate) fn bind<'q, 'c, C: Connection>(
        self,
        statement: Statement<'q, 'c, C>,
    ) -> Statement<'q, 'c, C> {
        statement
            .bind(self.id)
            .bind(self.group_id)
            .bind(self.event_type)
            .bind(self.created_at)
            .bind(self.actor_kind)
            .bind(self.actor_api_key_id)
            .bind(self.actor_public_key)
            .bind(self.actor_user_id)
            .bind(self.actor_username)
            .bind(self.remote_address)
            .bind(self.in_org_feed)
    }
}

/// An event about a user of the organization (a member or an invitee).
pub(crate) fn user_event(event_type: EventType, user: &OrgUser) -> NewEvent {
    NewEvent::new(
        event_type,
        EventTarget {
            username: Some(user.username().clone()),
            user_id: Some(user.id().clone()),
            ..EventTarget::default()
        },
    )
}

/// The target of an event about the person with account `user`: their address and id.
pub(crate) async fn account_target<C: Connection>(
    conn: &mut C,
    user: &UserId,
) -> Result<EventTarget, StoreError> {
    let username: String = conn
        .query("SELECT username FROM users WHERE id = $1")
        .bind(user.as_str())
        .fetch_scalar()
        .await?;
    Ok(EventTarget {
        username: Some(parse(&username, "username")?),
        user_id: Some(user.clone()),
        ..EventTarget::default()
    })
}

/// An event about a team.
pub(crate) fn team_event(event_type: EventType, team: &TeamId) -> NewEvent {
    NewEvent::new(
        event_type,
        EventTarget {
            team_id: Some(team.clone()),
            ..EventTarget::default()
        },
    )
}

/// An event about a key or service account (by public key or client id), and perhaps one of its
/// access-list entries.
pub(crate) fn credential_event(
    event_type: EventType,
    public_key: &str,
    access_list_entry: Option<String>,
) -> NewEvent {
    NewEvent::new(
        event_type,
        EventTarget {
            public_key: Some(public_key.to_owned()),
            access_list_entry,
            ..EventTarget::default()
        },
    )
}

/// Records what changed between `before` and `after`, the same user of `org` (a member or a
/// pending invitee): nothing when nothing did. Roles: `USER_ROLES_CHANGED_AUDIT` for a member,
/// `ORG_INVITATION_UPDATED` for an invitee. Teams: `JOINED_TEAM` (`INVITED_TO_TEAM` for an
/// invitee) and `REMOVED_FROM_TEAM`. Projects: `JOINED_GROUP` (`INVITED_TO_GROUP`),
/// `USER_ROLES_CHANGED_AUDIT` for a member's changed roles there (an invitee's: nothing, as
/// Atlas), `REMOVED_FROM_GROUP` (`GROUP_INVITATION_DELETED`).
pub(crate) async fn record_org_user_changes<C: Connection>(
    tx: &mut C,
    org: &OrgId,
    before: &OrgUser,
    after: &OrgUser,
) -> Result<(), StoreError> {
    let member = matches!(after, OrgUser::Member(_));
    let pick = |for_member: EventType, for_invitee: EventType| {
        if member { for_member } else { for_invitee }
    };
    let user = user_event(EventType::JoinedOrg, after).target;
    if before.roles() != after.roles() {
        let event_type = pick(
            EventType::UserRolesChangedAudit,
            EventType::OrgInvitationUpdated,
        );
        record_event(tx, org, NewEvent::new(event_type, user.clone())).await?;
    }
    let in_team = |team: &TeamId| EventTarget {
        team_id: Some(team.clone()),
        ..user.clone()
    };
    for team in after.team_ids() {
        if !before.team_ids().contains(team) {
            let event_type = pick(EventType::JoinedTeam, EventType::InvitedToTeam);
            record_event(tx, org, NewEvent::new(event_type, in_team(team))).await?;
        }
    }
    for team in before.team_ids() {
        if !after.team_ids().contains(team) {
            let event = NewEvent::new(EventType::RemovedFromTeam, in_team(team));
            record_event(tx, org, event).await?;
        }
    }
    let (held, holds) = (
        before.group_role_assignments(),
        after.group_role_assignments(),
    );
    let mut groups: Vec<&GroupId> = held.iter().chain(holds).map(|a| &a.group_id).collect();
    groups.sort();
    groups.dedup();
    for group in groups {
        let event_type = match (roles_in(held, group), roles_in(holds, group)) {
            (None, Some(_)) => pick(EventType::JoinedGroup, EventType::InvitedToGroup),
            (Some(_), None) => pick(
                EventType::RemovedFromGroup,
                EventType::GroupInvitationDeleted,
            ),
            (Some(old), Some(new)) if old != new && member => EventType::UserRolesChangedAudit,
            _ => continue,
        };
        let event = NewEvent::in_project(event_type, group, user.clone());
        record_event(tx, org, event).await?;
    }
    Ok(())
}

#[derive(FromRow)]
pub(crate) struct EventRow {
    id: String,
    org_id: String,
    group_id: Option<String>,
    event_type: String,
    created_at: i64,
    actor_kind: String,
    actor_api_key_id: Option<String>,
    actor_public_key: Option<String>,
    actor_user_id: Option<String>,
    actor_username: Option<String>,
    remote_address: Option<String>,
    target_username: Option<String>,
    target_user_id: Option<String>,
    team_id: Option<String>,
    target_public_key: Option<String>,
    access_list_entry: Option<String>,
}

impl FromWriterRow for EventRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            org_id: row.get("org_id")?,
            group_id: row.get("group_id")?,
            event_type: row.get("event_type")?,
            created_at: row.get("created_at")?,
            actor_kind: row.get("actor_kind")?,
            actor_api_key_id: row.get("actor_api_key_id")?,
            actor_public_key: row.get("actor_public_key")?,
            actor_user_id: row.get("actor_user_id")?,
            actor_username: row.get("actor_username")?,
            remote_address: row.get("remote_address")?,
            target_username: row.get("target_username")?,
            target_user_id: row.get("target_user_id")?,
            team_id: row.get("team_id")?,
            target_public_key: row.get("target_public_key")?,
            access_list_entry: row.get("access_list_entry")?,
        })
    }
}

fn optional<T: std::str::FromStr>(
    value: Option<String>,
    what: &str,
) -> Result<Option<T>, StoreError> {
    value.map(|value| parse(&value, what)).transpose()
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        let credential = match (
            row.actor_kind.as_str(),
            row.actor_api_key_id,
            row.actor_public_key,
            row.actor_user_id.zip(row.actor_username),
        ) {
            (API_KEY, Some(id), Some(public_key), None) => ActorCredential::ApiKey {
                id: parse(&id, "api key id")?,
                public_key,
            },
            (SERVICE_ACCOUNT, None, Some(client_id), None) => {
                ActorCredential::ServiceAccount { client_id }
            }
            (USER, None, None, Some((user_id, username))) => ActorCredential::User {
                user_id: parse(&user_id, "user id")?,
                username: parse(&username, "username")?,
            },
            (SYSTEM, None, None, None) => ActorCredential::System,
            (kind, ..) => return Err(corrupt(format_args!("event actor {kind:?}"))),
        };
        Ok(Event {
            id: parse(&row.id, "event id")?,
            org_id: parse(&row.org_id, "org id")?,
            group_id: optional(row.group_id, "project id")?,
            event_type: parse(&row.event_type, "event type")?,
            created_at: instant(row.created_at)?,
            actor: Actor {
                credential,
                remote_address: optional(row.remote_address, "remote address")?,
            },
            target: EventTarget {
                username: optional(row.target_username, "username")?,
                user_id: optional(row.target_user_id, "user id")?,
                team_id: optional(row.team_id, "team id")?,
                public_key: row.target_public_key,
                access_list_entry: row.access_list_entry,
            },
        })
    }
}
