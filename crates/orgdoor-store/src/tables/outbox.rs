//! The outbox: messages waiting to be delivered, and an invitation's link token.

use orgdoor_domain::{InvitationId, InvitationLetter, OrgId, OutboxMessage};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use time::OffsetDateTime;

use crate::StoreError;
use crate::rows::{corrupt, instant, parse, seconds};
use crate::sealing::Sealer;
use crate::sql::Connection;
use crate::sql::FromWriterRow;

pub(crate) const OUTBOX_COLUMNS: &str = "id, org_id, invitation_id, recipient, subject, \
     sealed_body, status, attempts, created_at, delivered_at, last_error";

/// What is sealed: everything that carries the link's token.
#[derive(Serialize, Deserialize)]
struct Body {
    text: String,
    html: String,
    accept_url: String,
}

/// What a sealed body is bound to: its message.
fn body_context(id: &str) -> Vec<u8> {
    [b"outbox.sealed_body:".as_slice(), id.as_bytes()].concat()
}

#[derive(FromRow)]
pub(crate) struct OutboxRow {
    id: String,
    org_id: String,
    invitation_id: Option<String>,
    recipient: String,
    subject: String,
    sealed_body: Vec<u8>,
    status: String,
    attempts: i64,
    created_at: i64,
    delivered_at: Option<i64>,
    last_error: Option<String>,
}

impl FromWriterRow for OutboxRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            org_id: row.get("org_id")?,
            invitation_id: row.get("invitation_id")?,
            recipient: row.get("recipient")?,
            subject: row.get("subject")?,
            sealed_body: row.get("sealed_body")?,
            status: row.get("status")?,
            attempts: row.get("attempts")?,
            created_at: row.get("created_at")?,
            delivered_at: row.get("delivered_at")?,
            last_error: row.get("last_error")?,
        })
    }
}

impl OutboxRow {
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn open(self, sealer: &Sealer) -> Result<OutboxMessage, StoreError> {
        let body = sealer.open(&self.sealed_body, &body_context(&self.id))?;
        let body: Body = serde_json::from_slice(&body).map_err(corrupt)?;
        Ok(OutboxMessage {
            id: parse(&self.id, "message id")?,
            org_id: parse(&self.org_id, "org id")?,
            invitation_id: self
                .invitation_id
                .map(|id| parse(&id, "invitation id"))
                .transpose()?,
            to: parse(&self.recipient, "recipient")?,
            subject: self.subject,
            text: body.text,
            html: body.html,
            accept_url: body.accept_url,
            status: parse(&self.status, "delivery status")?,
            attempts: u32::try_from(self.attempts).map_err(corrupt)?,
            created_at: instant(self.created_at)?,
            delivered_at: self.delivered_at.map(instant).transpose()?,
            last_error: self.last_error,
        })
    }
}

/// Gives a stored invitation the link in `letter` (the one it had dies), in the caller's
/// transaction; a new invitation takes its link as it is inserted instead.
pub(crate) async fn give_link<C: Connection>(
    tx: &mut C,
    invitation: &InvitationId,
    letter: &InvitationLetter,
) -> Result<(), StoreError> {
    tx.query("UPDATE invitations SET link_token_hash = $1 WHERE id = $2")
        .bind(letter.link.as_str())
        .bind(invitation.as_str())
        .execute()
        .await?;
    Ok(())
}

/// The letter's body as the outbox keeps it, sealed to its message.
pub(crate) fn seal_letter(
    sealer: &Sealer,
    letter: &InvitationLetter,
) -> Result<Vec<u8>, StoreError> {
    let message = &letter.message;
    let body = serde_json::to_vec(&Body {
        text: message.text.clone(),
        html: message.html.clone(),
        accept_url: message.accept_url.clone(),
    })
    .map_err(corrupt)?;
    sealer.seal(&body, &body_context(message.id.as_str()))
}
/// Puts the message of `letter`, to the invitation that has its link, in the outbox, in the
/// caller's transaction.
pub(crate) async fn post_letter<C: Connection>(
    tx: &mut C,
    sealer: &Sealer,
    org: &OrgId,
    invitation: &InvitationId,
    letter: &InvitationLetter,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let message = &letter.message;
    let sealed = seal_letter(sealer, letter)?;
    let created_at = seconds(now);
    tx.query(
        "INSERT INTO outbox (id, org_id, invitation_id, recipient, recipient_key, subject, \
         sealed_body, status, attempts, next_attempt_at, created_at, link_token_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING', 0, $8, $8, $9)",
    )
    .bind(message.id.as_str())
    .bind(org.as_str())
    .bind(invitation.as_str())
    .bind(message.to.as_str())
    .bind(message.to.key())
    .bind(message.subject.as_str())
    .bind(sealed)
    .bind(created_at)
    .bind(letter.link.as_str())
    .execute()
    .await?;
    Ok(())
}
