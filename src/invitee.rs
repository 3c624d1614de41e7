//! The invitee's side of an invitation: accepting it (with what they tell about themselves) or
//! declining it. Atlas does this out of band (an e-mail link); orgdoor's HTTP hook and its CLI
//! both come here.

use orgdoor_domain::{EmailAddress, OrgId, OrgUser, ProfileChoices};
use orgdoor_store::{InvitationAnswer, InvitationSelector, Rejection, Store, StoreError};
use time::OffsetDateTime;

use crate::error::AppError;

/// What the invitee tells about themselves on accepting; every field is optional.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Profile {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub country: Option<String>,
    pub mobile_number: Option<String>,
}

/// An accept or a decline, with the profile an accept may carry.
#[derive(Debug)]
pub enum Answer {
    Accept(Profile),
    Decline,
}

/// Answers the pending invitation `invitee` names (an invitation id, a pending user's id or an
/// address): the one place the HTTP hook and the CLI share.
pub async fn answer_as_invitee(
    store: &dyn Store,
    org: &OrgId,
    invitee: &str,
    answer: Answer,
    now: OffsetDateTime,
) -> Result<OrgUser, AppError> {
    let not_found = || AppError::ResourceNotFound(invitee.to_owned());
    let selectors = if invitee.contains('@') {
        let address: EmailAddress = invitee
            .parse()
            .map_err(|_| AppError::InvalidEmailAddress(invitee.to_owned()))?;
        vec![InvitationSelector::Username(address)]
    } else {
        // Invitation ids and user ids look alike; try the invitation first.
        vec![
            InvitationSelector::Id(invitee.parse().map_err(|_| not_found())?),
            InvitationSelector::UserId(invitee.parse().map_err(|_| not_found())?),
        ]
    };
    let answer = match answer {
        Answer::Decline => InvitationAnswer::Decline,
        Answer::Accept(profile) => InvitationAnswer::Accept(
            ProfileChoices::new(
                profile.first_name,
                profile.last_name,
                profile.country,
                profile.mobile_number,
            )
            .map_err(|reason| AppError::InvalidAttributeValue {
                attribute: "profile".into(),
                reason: reason.to_string(),
            })?,
        ),
    };
    for selector in &selectors {
        match store
            .answer_invitation(org, selector, answer.clone(), now)
            .await
        {
            Err(StoreError::Rejected(Rejection::InvitationNotFound(_))) => continue,
            other => return other.map_err(AppError::from),
        }
    }
    Err(not_found())
}
