//! Organization invitations: inviting, reading and changing pending ones, and the invitee's
//! answer.

use async_trait::async_trait;
use orgdoor_domain::{
    EmailAddress, EventTarget, EventType, Invitation, InvitationId, InvitationLetter,
    LinkTokenHash, MembershipUpdate, NewEvent, OrgId, OrgUser, Organization,
};
use time::OffsetDateTime;
use tracing::instrument;

use crate::rows::{
    ORGANIZATION_COLUMNS, OrganizationRow, OrganizationWithInvitations, parse, seconds,
};
use crate::sql::{Backend, Connection};
use crate::tables::events::{NewEventRow, record_event, record_org_user_changes};
use crate::tables::invitations::{
    fetch_invitation, insert_invitation, invitations_json, invite_at_once, lock_pending_invitation,
    update_invitation_row,
};
use crate::tables::members::accept_invitation;
use crate::tables::outbox::{post_letter, seal_letter};
use crate::tables::projects::fetch_group;
use crate::{
    InvitationAnswer, InvitationSelector, LinkedInvitation, Rejection, StoreError, WhenPending,
};

#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// Invites an address: stores `invitation`, or, while one to the same address is pending,
    /// renews that one in place (same ids; roles, teams, project roles, inviter and dates from
    /// `invitation`) or refuses, as `when_pending` says, and returns what is stored. An expired
    /// or declined invitation gives way to a new one; a member is refused
    /// ([`Rejection::UsernameTaken`]). A person invited before keeps their user id. Refuses with
    /// a team or project rejection when a referenced team or project is missing or belongs to
    /// another organization. With a `letter`, the invitation takes its link (a renewed one's
    /// old link dies) and the letter's message goes into the outbox.
    async fn invite(
        &self,
        invitation: &Invitation,
        when_pending: WhenPending,
        letter: Option<&InvitationLetter>,
        now: OffsetDateTime,
    ) -> Result<Invitation, StoreError>;

    /// An organization with its pending (unexpired, not declined) invitations, oldest first,
    /// optionally only the one to `username`; `None` if there is no such organization. One read,
    /// because listing invitations is what clients do most.
    async fn get_organization_with_pending_invitations(
        &self,
        org: &OrgId,
        username: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<Option<(Organization, Vec<Invitation>)>, StoreError>;

    /// The pending invitations of an organization (none if it does not exist), as
    /// [`InvitationStore::get_organization_with_pending_invitations`] orders and filters them.
    async fn list_pending_invitations(
        &self,
        org: &OrgId,
        username: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<Vec<Invitation>, StoreError> {
        Ok(self
            .get_organization_with_pending_invitations(org, username, now)
            .await?
            .map(|(_, invitations)| invitations)
            .unwrap_or_default())
    }

    async fn get_pending_invitation(
        &self,
        org: &OrgId,
        id: &InvitationId,
        now: OffsetDateTime,
    ) -> Result<Option<Invitation>, StoreError>;

    /// Applies `update` to a pending invitation: [`Rejection::InvitationNotFound`] when there is
    /// none, [`Rejection::InvitationExpired`] when it has expired.
    async fn update_pending_invitation(
        &self,
        org: &OrgId,
        selector: &InvitationSelector,
        update: MembershipUpdate,
        now: OffsetDateTime,
    ) -> Result<Invitation, StoreError>;

    /// Cancels a pending invitation ([`Rejection::InvitationNotFound`] when there is none).
    async fn delete_pending_invitation(
        &self,
        org: &OrgId,
        id: &InvitationId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The invitation whose link carries the token hashed to `link`, with what its page shows;
    /// `None` when no invitation has that link (never had, cancelled, accepted, or given a newer
    /// link).
    async fn find_invitation_by_link(
        &self,
        link: &LinkTokenHash,
    ) -> Result<Option<LinkedInvitation>, StoreError>;

    /// Records the invitee's answer to a pending invitation. Accepting makes them a member with
    /// the invited roles, teams and project roles (creating their account with `profile` if they
    /// have none) and ends the invitation; declining keeps it as declined.
    /// [`Rejection::InvitationNotFound`] when none is pending, [`Rejection::InvitationExpired`]
    /// when it has expired.
    async fn answer_invitation(
        &self,
        org: &OrgId,
        selector: &InvitationSelector,
        answer: InvitationAnswer,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError>;
}

/// An event about the person `invitation` invites.
pub(crate) fn invitee_event(event_type: EventType, invitation: &Invitation) -> NewEvent {
    NewEvent::new(
        event_type,
        EventTarget {
            username: Some(invitation.username.clone()),
            user_id: Some(invitation.user_id.clone()),
            ..EventTarget::default()
        },
    )
}

/// An organization with its pending invitations (only those to `$3` with `by_username`).
fn pending_invitations_sql<C: Connection>(by_username: bool) -> String {
    let filter = if by_username {
        "AND i.username_key = $3"
    } else {
        ""
    };
    // `i.org_id = $1`, not `= o.id`: PostgreSQL plans a correlated reference with the average
    // organization's share of the table (a sequential scan once one holds a million
    // invitations), and the parameter with the real one.
    let invitations = invitations_json::<C>(
        &format!("i.org_id = $1 AND i.expires_at > $2 AND i.declined_at IS NULL {filter}"),
        "i.created_at, i.id",
    );
    format!(
        "SELECT {ORGANIZATION_COLUMNS}, {invitations} AS invitations \
         FROM organizations o WHERE o.id = $1"
    )
}

#[async_trait]
impl<B: Backend> InvitationStore for B {
    #[instrument(level = "debug", skip(self))]
    async fn invite(
        &self,
        invitation: &Invitation,
        when_pending: WhenPending,
        letter: Option<&InvitationLetter>,
        now: OffsetDateTime,
    ) -> Result<Invitation, StoreError> {
        let invitation = invitation.clone();
        let letter = letter.cloned();
        let sealer = self.sealer().clone();
        let at_once = B::WriteConnection::DATA_MODIFYING_WITH
            && invitation.team_ids.is_empty()
            && invitation.group_role_assignments.is_empty();
        if at_once {
            let sealed = letter
                .as_ref()
                .map(|letter| seal_letter(&sealer, letter))
                .transpose()?;
            let event = NewEventRow::of(&invitee_event(EventType::InvitedToOrg, &invitation));
            // Kept for the transaction below, should it renew a pending invitation.
            let (new, new_letter) = (invitation.clone(), letter.clone());
            let done = self
                .write_statement(move |conn| {
                    Box::pin(async move {
                        let letter = new_letter.as_ref().zip(sealed);
                        invite_at_once(conn, &new, letter, event, now).await
                    })
                })
                .await?;
            match (done, when_pending) {
                (Some(stored), _) => return Ok(stored),
                (None, WhenPending::Refuse) => {
                    return Err(Rejection::UsernameTaken(invitation.username).into());
                }
                // Renewed in a transaction, below.
                (None, WhenPending::Renew) => {}
            }
        }
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let link = letter.as_ref().map(|letter| &letter.link);
                let stored = insert_invitation(tx, &invitation, when_pending, link, now).await?;
                if let Some(letter) = &letter {
                    post_letter(tx, &sealer, &stored.org_id, &stored.id, letter, now).await?;
                }
                let event = invitee_event(EventType::InvitedToOrg, &stored);
                record_event(tx, &stored.org_id, event).await?;
                Ok(stored)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn get_organization_with_pending_invitations(
        &self,
        org: &OrgId,
        username: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<Option<(Organization, Vec<Invitation>)>, StoreError> {
        // Built once per dialect: this is the most frequent request.
        let statements = B::Connection::statement_cache();
        let sql = match username {
            Some(_) => statements
                .pending_invitation_to
                .get_or_init(|| pending_invitations_sql::<B::Connection>(true)),
            None => statements
                .pending_invitations
                .get_or_init(|| pending_invitations_sql::<B::Connection>(false)),
        };
        let mut conn = self.read().await?;
        let mut query = conn.query(sql).bind(org.as_str()).bind(seconds(now));
        if let Some(username) = username {
            query = query.bind(username.key());
        }
        let found: Option<OrganizationWithInvitations> = query.fetch_optional().await?;
        conn.shrink_buffers();
        let Some(found) = found else { return Ok(None) };
        let organization = Organization::try_from(found.organization)?;
        Ok(Some((organization, found.invitations.0)))
    }

    #[instrument(level = "debug", skip(self))]
    async fn get_pending_invitation(
        &self,
        org: &OrgId,
        id: &InvitationId,
        now: OffsetDateTime,
    ) -> Result<Option<Invitation>, StoreError> {
        let selector = InvitationSelector::Id(id.clone());
        let invitation = fetch_invitation(&mut *self.read().await?, org, &selector, false).await?;
        Ok(invitation.filter(|invitation| invitation.is_pending(now)))
    }

    #[instrument(level = "debug", skip(self))]
    async fn update_pending_invitation(
        &self,
        org: &OrgId,
        selector: &InvitationSelector,
        update: MembershipUpdate,
        now: OffsetDateTime,
    ) -> Result<Invitation, StoreError> {
        let (org, selector) = (org.clone(), selector.clone());
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let invitation = lock_pending_invitation(tx, &org, &selector, now).await?;
                let before = OrgUser::Invited(invitation.clone());
                let invitation = update_invitation_row(tx, invitation, update).await?;
                let after = OrgUser::Invited(invitation.clone());
                record_org_user_changes(tx, &org, &before, &after).await?;
                Ok(invitation)
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn delete_pending_invitation(
        &self,
        org: &OrgId,
        id: &InvitationId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (org, id) = (org.clone(), id.clone());
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let deleted: Option<(String, String)> = tx
                    .query(
                        "DELETE FROM invitations WHERE org_id = $1 AND id = $2 AND expires_at > $3 \
                         AND declined_at IS NULL RETURNING username, user_id",
                    )
                    .bind(org.as_str())
                    .bind(id.as_str())
                    .bind(seconds(now))
                    .fetch_optional()
                    .await?;
                let (username, user_id) = deleted.ok_or_else(|| {
                    Rejection::InvitationNotFound(InvitationSelector::Id(id.clone()))
                })?;
                let target = EventTarget {
                    username: Some(parse(&username, "username")?),
                    user_id: Some(parse(&user_id, "user id")?),
                    ..EventTarget::default()
                };
                record_event(
                    tx,
                    &org,
                    NewEvent::new(EventType::OrgInvitationDeleted, target),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    #[instrument(level = "debug", skip(self))]
    async fn find_invitation_by_link(
        &self,
        link: &LinkTokenHash,
    ) -> Result<Option<LinkedInvitation>, StoreError> {
        let mut conn = self.read().await?;
        let found: Option<(String, i64)> = conn
            .query(
                "SELECT i.org_id, \
                     (SELECT COUNT(*) FROM users u WHERE u.username_key = i.username_key) \
                 FROM invitations i WHERE i.link_token_hash = $1",
            )
            .bind(link.as_str())
            .fetch_optional()
            .await?;
        let Some((org, accounts)) = found else {
            return Ok(None);
        };
        let org: OrgId = parse(&org, "org id")?;
        let selector = InvitationSelector::Link(link.clone());
        let Some(invitation) = fetch_invitation(&mut *conn, &org, &selector, false).await? else {
            return Ok(None);
        };
        let organization: OrganizationRow = conn
            .query(&format!(
                "SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.id = $1"
            ))
            .bind(org.as_str())
            .fetch_one()
            .await?;
        let mut projects = Vec::new();
        for group in invitation.group_ids() {
            if let Some(project) = fetch_group(&mut *conn, group, false).await? {
                projects.push(project);
            }
        }
        Ok(Some(LinkedInvitation {
            organization: Organization::try_from(organization)?,
            invitation,
            projects,
            has_account: accounts > 0,
        }))
    }

    #[instrument(level = "debug", skip(self))]
    async fn answer_invitation(
        &self,
        org: &OrgId,
        selector: &InvitationSelector,
        answer: InvitationAnswer,
        now: OffsetDateTime,
    ) -> Result<OrgUser, StoreError> {
        let (org, selector) = (org.clone(), selector.clone());
        self.write_transaction(move |tx| {
            Box::pin(async move {
                let invitation = lock_pending_invitation(tx, &org, &selector, now).await?;
                let event = match answer {
                    InvitationAnswer::Accept(_) => EventType::JoinedOrg,
                    InvitationAnswer::Decline => EventType::OrgInvitationDeclined,
                };
                record_event(tx, &org, invitee_event(event, &invitation)).await?;
                let answered = match answer {
                    InvitationAnswer::Accept(profile) => {
                        OrgUser::Member(accept_invitation(tx, invitation, profile, now).await?)
                    }
                    InvitationAnswer::Decline => {
                        let declined_at = orgdoor_domain::truncate_to_seconds(now);
                        tx.query("UPDATE invitations SET declined_at = $1 WHERE id = $2")
                            .bind(seconds(declined_at))
                            .bind(invitation.id.as_str())
                            .execute()
                            .await?;
                        OrgUser::Invited(Invitation {
                            declined_at: Some(declined_at),
                            ..invitation
                        })
                    }
                };
                Ok(answered)
            })
        })
        .await
    }
}
