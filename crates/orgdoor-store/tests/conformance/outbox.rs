//! The outbox: an invitation's message is written with it, read back per organization, and
//! handed to delivery workers under leases that never let two hold one message.

use std::collections::HashSet;
use std::sync::Arc;

use orgdoor_domain::{
    DeliveryStatus, EmailAddress, GroupRole, GroupRoles, InvitationLetter, LinkToken, MessageId,
    NewMessage, OrgId, OutboxMessage, PageRequest,
};
use orgdoor_store::{
    DeliveryOutcome, Newcomer, OutboxDepth, ProjectAddition, Rejection, Store, WhenPending,
};
use time::{Duration, OffsetDateTime};

use crate::fixtures::{NOW, invitation, organization, rejection, stored_project};

on_every_store!(
    an_invitations_message_is_stored_with_it_and_read_back_newest_first,
    a_refused_invitation_leaves_no_message,
    adding_a_newcomer_to_a_project_writes_their_message,
    a_claimed_message_is_nobody_elses_until_its_lease_ends,
    failures_wait_for_their_retry_and_give_up_without_one,
    concurrent_claims_never_share_a_message,
    old_messages_are_pruned,
    a_message_whose_link_died_is_withdrawn_not_claimed,
    the_depth_counts_pending_and_failed_messages_of_every_organization,
    a_claim_takes_at_most_its_limit,
);

/// A letter to `to`, composed at `at`.
fn letter(to: &str, at: OffsetDateTime) -> InvitationLetter {
    let token = LinkToken::generate();
    InvitationLetter {
        link: token.hash(),
        message: NewMessage {
            id: MessageId::generate(at),
            to: to.parse().unwrap(),
            subject: format!("Invitation for {to}"),
            text: format!("Hello {to}, follow /invitations/{}", token.as_str()),
            html: format!("<p>Hello {to} &amp; welcome</p>"),
            accept_url: format!("http://127.0.0.1/invitations/{}", token.as_str()),
        },
    }
}

/// Invites `to` into `org` at `at` with a letter; returns the letter.
async fn invite_with_letter(
    store: &Arc<dyn Store>,
    org: &OrgId,
    to: &str,
    at: OffsetDateTime,
) -> InvitationLetter {
    let letter = letter(to, at);
    store
        .invite(
            &invitation(org, to).into_invitation(at),
            WhenPending::Renew,
            Some(&letter),
            at,
        )
        .await
        .unwrap();
    letter
}

async fn outbox(store: &Arc<dyn Store>, org: &OrgId, to: Option<&str>) -> Vec<OutboxMessage> {
    let to: Option<EmailAddress> = to.map(|to| to.parse().unwrap());
    store
        .list_outbox(org, to.as_ref(), PageRequest::new(Some(500), None))
        .await
        .unwrap()
        .items
}

async fn an_invitations_message_is_stored_with_it_and_read_back_newest_first(
    store: Arc<dyn Store>,
) {
    let org = organization(&store, "Mail").await;
    let other = organization(&store, "Other").await;
    let first = invite_with_letter(&store, &org.id, "ada@example.com", NOW).await;
    let later = NOW + Duration::seconds(5);
    let second = invite_with_letter(&store, &org.id, "Bob@Example.com", later).await;

    let messages = outbox(&store, &org.id, None).await;
    let ids: Vec<&MessageId> = messages.iter().map(|message| &message.id).collect();
    assert_eq!(ids, [&second.message.id, &first.message.id], "newest first");
    let stored = &messages[1];
    let invitations = store
        .list_pending_invitations(&org.id, None, NOW)
        .await
        .unwrap();
    assert_eq!(
        stored,
        &OutboxMessage {
            id: first.message.id.clone(),
            org_id: org.id.clone(),
            invitation_id: Some(invitations[0].id.clone()),
            to: first.message.to.clone(),
            subject: first.message.subject.clone(),
            text: first.message.text.clone(),
            html: first.message.html.clone(),
            accept_url: first.message.accept_url.clone(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            created_at: NOW,
            delivered_at: None,
            last_error: None,
        }
    );

    // Filtered by address, in any case; paged with the total of all that match.
    let to_bob = outbox(&store, &org.id, Some("BOB@example.com")).await;
    assert_eq!(to_bob.len(), 1);
    assert_eq!(to_bob[0].id, second.message.id);
    let page = store
        .list_outbox(&org.id, None, PageRequest::new(Some(1), Some(2)))
        .await
        .unwrap();
    assert_eq!(page.total_count, 2);
    assert_eq!(page.items[0].id, first.message.id);
    assert!(outbox(&store, &other.id, None).await.is_empty());

    // Renewing sends again: a second message to the same person.
    let again = invite_with_letter(&store, &org.id, "ada@example.com", later).await;
    let to_ada = outbox(&store, &org.id, Some("ada@example.com")).await;
    assert_eq!(to_ada.len(), 2);
    assert_eq!(to_ada[0].id, again.message.id);
}

async fn a_refused_invitation_leaves_no_message(store: Arc<dyn Store>) {
    let org = organization(&store, "Refused").await;
    invite_with_letter(&store, &org.id, "ada@example.com", NOW).await;
    let refused = letter("ada@example.com", NOW);
    assert_eq!(
        rejection(
            store
                .invite(
                    &invitation(&org.id, "ada@example.com").into_invitation(NOW),
                    WhenPending::Refuse,
                    Some(&refused),
                    NOW,
                )
                .await
        ),
        Rejection::UsernameTaken("ada@example.com".parse().unwrap())
    );
    let messages = outbox(&store, &org.id, None).await;
    assert_eq!(messages.len(), 1);
    assert_ne!(messages[0].id, refused.message.id);
}

async fn adding_a_newcomer_to_a_project_writes_their_message(store: Arc<dyn Store>) {
    let org = organization(&store, "Projects").await;
    let group = stored_project(&store, &org.id, "P").await;
    let roles = GroupRoles::single(GroupRole::ReadOnly);
    let newcomer = invitation(&org.id, "new@example.com").into_invitation(NOW);
    let sent = letter("new@example.com", NOW);
    store
        .add_project_user(
            &group.id,
            &roles,
            Newcomer {
                invitation: &newcomer,
                letter: Some(&sent),
            },
            ProjectAddition::Invitation,
            NOW,
        )
        .await
        .unwrap();
    let messages = outbox(&store, &org.id, None).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].id, sent.message.id);
    assert_eq!(messages[0].invitation_id, Some(newcomer.id.clone()));

    // Sent again: the pending invitation is renewed and a second message written.
    let again = letter("new@example.com", NOW);
    store
        .add_project_user(
            &group.id,
            &roles,
            Newcomer {
                invitation: &invitation(&org.id, "new@example.com").into_invitation(NOW),
                letter: Some(&again),
            },
            ProjectAddition::Invitation,
            NOW,
        )
        .await
        .unwrap();
    let messages = outbox(&store, &org.id, None).await;
    assert_eq!(messages.len(), 2);
    assert!(
        messages
            .iter()
            .any(|message| message.id == again.message.id)
    );
    assert!(
        messages
            .iter()
            .all(|message| message.invitation_id == Some(newcomer.id.clone())),
        "both are about the one invitation"
    );
}

async fn a_claimed_message_is_nobody_elses_until_its_lease_ends(store: Arc<dyn Store>) {
    let org = organization(&store, "Leases").await;
    let sent = invite_with_letter(&store, &org.id, "ada@example.com", NOW).await;
    let lease_end = NOW + Duration::seconds(60);

    let claimed = store
        .claim_due_messages("a", NOW, lease_end, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, sent.message.id);
    assert_eq!(claimed[0].text, sent.message.text, "the body opens");
    let during = NOW + Duration::seconds(59);
    assert!(
        store
            .claim_due_messages("b", during, during + Duration::seconds(60), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The lease ends without a word from "a" (it died): "b" takes the message over, and what
    // "a" says afterwards is not recorded.
    let taken_over = store
        .claim_due_messages("b", lease_end, lease_end + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(taken_over.len(), 1);
    let id = &sent.message.id;
    assert!(
        !store
            .record_delivery(id, "a", DeliveryOutcome::Delivered, lease_end)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_delivery(id, "b", DeliveryOutcome::Delivered, lease_end)
            .await
            .unwrap()
    );
    let delivered = &outbox(&store, &org.id, None).await[0];
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
    assert_eq!(delivered.delivered_at, Some(lease_end));
    assert_eq!(delivered.attempts, 1);
    let far = lease_end + Duration::days(1);
    assert!(
        store
            .claim_due_messages("c", far, far + Duration::seconds(60), 10)
            .await
            .unwrap()
            .is_empty(),
        "a delivered message is not claimed again"
    );
}

async fn failures_wait_for_their_retry_and_give_up_without_one(store: Arc<dyn Store>) {
    let org = organization(&store, "Retries").await;
    let sent = invite_with_letter(&store, &org.id, "ada@example.com", NOW).await;
    let lease = |at: OffsetDateTime| at + Duration::seconds(60);
    let id = &sent.message.id;
    store
        .claim_due_messages("a", NOW, lease(NOW), 1)
        .await
        .unwrap();
    let retry_at = NOW + Duration::seconds(30);
    let failed = DeliveryOutcome::Failed {
        error: "connection refused".into(),
        retry_at: Some(retry_at),
    };
    assert!(store.record_delivery(id, "a", failed, NOW).await.unwrap());
    let waiting = &outbox(&store, &org.id, None).await[0];
    assert_eq!(waiting.status, DeliveryStatus::Pending);
    assert_eq!(waiting.attempts, 1);
    assert_eq!(waiting.last_error.as_deref(), Some("connection refused"));

    let before = retry_at - Duration::seconds(1);
    assert!(
        store
            .claim_due_messages("a", before, lease(before), 1)
            .await
            .unwrap()
            .is_empty(),
        "not before its retry"
    );
    let again = store
        .claim_due_messages("a", retry_at, lease(retry_at), 1)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);

    let refused = DeliveryOutcome::Failed {
        error: "550 no such mailbox".into(),
        retry_at: None,
    };
    assert!(
        store
            .record_delivery(id, "a", refused, retry_at)
            .await
            .unwrap()
    );
    let given_up = &outbox(&store, &org.id, None).await[0];
    assert_eq!(given_up.status, DeliveryStatus::Failed);
    assert_eq!(given_up.attempts, 2);
    assert_eq!(given_up.last_error.as_deref(), Some("550 no such mailbox"));
    let far = retry_at + Duration::days(1);
    assert!(
        store
            .claim_due_messages("a", far, lease(far), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_depth_counts_pending_and_failed_messages_of_every_organization(store: Arc<dyn Store>) {
    assert_eq!(store.outbox_depth().await.unwrap(), OutboxDepth::default());
    let first = organization(&store, "DepthOne").await;
    let second = organization(&store, "DepthTwo").await;
    invite_with_letter(&store, &first.id, "ada@example.com", NOW).await;
    invite_with_letter(&store, &first.id, "bob@example.com", NOW).await;
    invite_with_letter(&store, &second.id, "cy@example.com", NOW).await;
    let pending = OutboxDepth {
        pending: 3,
        failed: 0,
    };
    assert_eq!(store.outbox_depth().await.unwrap(), pending);

    let lease = NOW + Duration::seconds(60);
    let claimed = store.claim_due_messages("a", NOW, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert_eq!(
        store.outbox_depth().await.unwrap(),
        pending,
        "a leased message is still pending"
    );
    let refused = DeliveryOutcome::Failed {
        error: "550 no such mailbox".into(),
        retry_at: None,
    };
    let given_up = store.record_delivery(&claimed[0].id, "a", refused, NOW);
    assert!(given_up.await.unwrap());
    let delivered = store.record_delivery(&claimed[1].id, "a", DeliveryOutcome::Delivered, NOW);
    assert!(delivered.await.unwrap());
    let retried = DeliveryOutcome::Failed {
        error: "connection refused".into(),
        retry_at: Some(NOW + Duration::seconds(30)),
    };
    assert!(
        store
            .record_delivery(&claimed[2].id, "a", retried, NOW)
            .await
            .unwrap()
    );
    assert_eq!(
        store.outbox_depth().await.unwrap(),
        OutboxDepth {
            pending: 1,
            failed: 1,
        }
    );
}

async fn concurrent_claims_never_share_a_message(store: Arc<dyn Store>) {
    let org = organization(&store, "Crowd").await;
    let mut sent = HashSet::new();
    for n in 0..24 {
        let letter = invite_with_letter(&store, &org.id, &format!("p{n}@example.com"), NOW).await;
        sent.insert(letter.message.id);
    }
    let workers = (0..4).map(|worker| {
        let store = store.clone();
        tokio::spawn(async move {
            let owner = format!("worker-{worker}");
            let mut mine = Vec::new();
            loop {
                let claimed = store
                    .claim_due_messages(&owner, NOW, NOW + Duration::seconds(60), 3)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|message| message.id));
            }
        })
    });
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    let distinct: HashSet<MessageId> = claimed.iter().cloned().collect();
    assert_eq!(distinct.len(), claimed.len(), "no message claimed twice");
    assert_eq!(distinct, sent, "every message claimed");
}

async fn old_messages_are_pruned(store: Arc<dyn Store>) {
    let org = organization(&store, "Prune").await;
    let old = invite_with_letter(&store, &org.id, "old@example.com", NOW).await;
    let recent_at = NOW + Duration::days(10);
    let recent = invite_with_letter(&store, &org.id, "new@example.com", recent_at).await;
    assert_eq!(store.prune_outbox(recent_at).await.unwrap(), 1);
    let left: Vec<MessageId> = outbox(&store, &org.id, None)
        .await
        .into_iter()
        .map(|message| message.id)
        .collect();
    assert_eq!(left, [recent.message.id]);
    assert!(!left.contains(&old.message.id));
}

async fn a_message_whose_link_died_is_withdrawn_not_claimed(store: Arc<dyn Store>) {
    let org = organization(&store, "Withdrawn").await;
    let first = invite_with_letter(&store, &org.id, "ada@example.com", NOW).await;
    // Sent again: the first message's link is no longer the invitation's.
    let second = invite_with_letter(&store, &org.id, "ada@example.com", NOW).await;
    let lease = |at: OffsetDateTime| at + Duration::seconds(60);
    let claimed = store
        .claim_due_messages("a", NOW, lease(NOW), 10)
        .await
        .unwrap();
    let ids: Vec<&MessageId> = claimed.iter().map(|message| &message.id).collect();
    assert_eq!(ids, [&second.message.id]);
    let status = |messages: &[OutboxMessage], id: &MessageId| {
        messages
            .iter()
            .find(|message| &message.id == id)
            .unwrap()
            .status
    };
    let messages = outbox(&store, &org.id, None).await;
    assert_eq!(
        status(&messages, &first.message.id),
        DeliveryStatus::Withdrawn
    );

    // The second fails once; the invitation is then cancelled: its retry is withdrawn.
    let retry_at = NOW + Duration::seconds(30);
    let failed = DeliveryOutcome::Failed {
        error: "connection refused".into(),
        retry_at: Some(retry_at),
    };
    store
        .record_delivery(&second.message.id, "a", failed, NOW)
        .await
        .unwrap();
    let invitation = store
        .list_pending_invitations(&org.id, None, NOW)
        .await
        .unwrap()
        .remove(0);
    store
        .delete_pending_invitation(&org.id, &invitation.id, NOW)
        .await
        .unwrap();
    assert!(
        store
            .claim_due_messages("a", retry_at, lease(retry_at), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let messages = outbox(&store, &org.id, None).await;
    assert_eq!(
        status(&messages, &second.message.id),
        DeliveryStatus::Withdrawn
    );
}

async fn a_claim_takes_at_most_its_limit(store: Arc<dyn Store>) {
    let org = organization(&store, "Limited").await;
    for to in [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
    ] {
        invite_with_letter(&store, &org.id, to, NOW).await;
    }
    let lease_end = NOW + Duration::seconds(60);
    let first = store
        .claim_due_messages("a", NOW, lease_end, 2)
        .await
        .unwrap();
    assert_eq!(first.len(), 2, "{first:?}");
    let second = store
        .claim_due_messages("b", NOW, lease_end, 2)
        .await
        .unwrap();
    assert_eq!(second.len(), 2, "{second:?}");
    let ids: HashSet<_> = first
        .iter()
        .chain(&second)
        .map(|message| message.id.clone())
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(
        store
            .claim_due_messages("c", NOW, lease_end, 2)
            .await
            .unwrap()
            .is_empty()
    );
}
