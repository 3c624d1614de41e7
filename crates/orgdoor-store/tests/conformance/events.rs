//! Events: recorded by the changes themselves, in their transactions, with the actor of the
//! audit context; read back per feed, newest first, filtered by type and date.

use std::sync::Arc;

use orgdoor_domain::{Actor, ActorCredential, EventType, PageRequest};
use orgdoor_store::audit::{AuditContext, acting_as};
use orgdoor_store::{EventFilter, EventScope, Store, WhenPending};
use time::Duration;

use crate::fixtures::{NOW, invitation, invite, organization, rejection};

on_every_store!(
    changes_record_their_events_with_the_actor_in_context,
    feeds_are_filtered_by_type_and_date_newest_first,
    a_refused_change_records_no_event,
);

/// The invitation events, leaving out those of making the organization and its keys.
fn invitation_events() -> EventFilter {
    EventFilter {
        types: vec![EventType::InvitedToOrg, EventType::OrgInvitationDeleted],
        ..EventFilter::default()
    }
}

fn key_actor() -> Actor {
    Actor {
        credential: ActorCredential::ApiKey {
            id: "0123456789abcdef01234567".parse().unwrap(),
            public_key: "abcdefgh".into(),
        },
        remote_address: Some("192.0.2.7".parse().unwrap()),
    }
}

async fn changes_record_their_events_with_the_actor_in_context(store: Arc<dyn Store>) {
    let org = organization(&store, "Audited").await;
    let context = AuditContext {
        actor: key_actor(),
        at: NOW,
    };
    let invited = acting_as(
        context,
        invite(
            &store,
            invitation(&org.id, "ada@example.com"),
            WhenPending::Renew,
            NOW,
        ),
    )
    .await;
    // Outside any context the system acts.
    store
        .delete_pending_invitation(&org.id, &invited.id, NOW)
        .await
        .unwrap();

    let page = store
        .list_events(
            EventScope::Organization(&org.id),
            &invitation_events(),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(page.total_count, 2);
    let [deleted, created] = page.items.as_slice() else {
        panic!("two events: {:?}", page.items)
    };
    assert_eq!(created.event_type, EventType::InvitedToOrg);
    assert_eq!(created.actor, key_actor());
    assert_eq!(created.created_at, NOW);
    assert_eq!(created.org_id, org.id);
    assert_eq!(created.group_id, None);
    assert_eq!(created.target.username, Some(invited.username.clone()));
    assert_eq!(created.target.user_id, Some(invited.user_id.clone()));
    assert_eq!(deleted.event_type, EventType::OrgInvitationDeleted);
    assert_eq!(deleted.actor.credential, ActorCredential::System);
    assert_eq!(
        store
            .get_event(EventScope::Organization(&org.id), &created.id)
            .await
            .unwrap()
            .as_ref(),
        Some(created)
    );
    let other = organization(&store, "Other").await;
    assert_eq!(
        store
            .get_event(EventScope::Organization(&other.id), &created.id)
            .await
            .unwrap(),
        None
    );
}

async fn feeds_are_filtered_by_type_and_date_newest_first(store: Arc<dyn Store>) {
    let org = organization(&store, "Filtered").await;
    for hours in 0..3 {
        let at = NOW + Duration::hours(hours);
        let context = AuditContext {
            actor: key_actor(),
            at,
        };
        let invited = acting_as(
            context.clone(),
            invite(
                &store,
                invitation(&org.id, &format!("p{hours}@example.com")),
                WhenPending::Renew,
                at,
            ),
        )
        .await;
        if hours == 2 {
            acting_as(
                context,
                store.delete_pending_invitation(&org.id, &invited.id, at),
            )
            .await
            .unwrap();
        }
    }
    let list = |filter: EventFilter| {
        let store = store.clone();
        let org = org.id.clone();
        async move {
            store
                .list_events(
                    EventScope::Organization(&org),
                    &filter,
                    PageRequest::default(),
                )
                .await
                .unwrap()
        }
    };
    let all = list(invitation_events()).await;
    let types: Vec<EventType> = all.items.iter().map(|event| event.event_type).collect();
    assert_eq!(
        types,
        [
            EventType::OrgInvitationDeleted,
            EventType::InvitedToOrg,
            EventType::InvitedToOrg,
            EventType::InvitedToOrg
        ]
    );
    let deleted = list(EventFilter {
        types: vec![EventType::OrgInvitationDeleted],
        ..EventFilter::default()
    })
    .await;
    assert_eq!(deleted.total_count, 1);
    let window = list(EventFilter {
        min_date: Some(NOW + Duration::hours(1)),
        max_date: Some(NOW + Duration::hours(1)),
        ..invitation_events()
    })
    .await;
    assert_eq!(window.total_count, 1);
    assert_eq!(
        window.items[0].target.username.as_ref().unwrap().as_str(),
        "p1@example.com"
    );
    let second_page = store
        .list_events(
            EventScope::Organization(&org.id),
            &invitation_events(),
            PageRequest::new(Some(3), Some(2)),
        )
        .await
        .unwrap();
    assert_eq!(second_page.total_count, 4);
    assert_eq!(second_page.items.len(), 1);
    assert_eq!(
        second_page.items[0]
            .target
            .username
            .as_ref()
            .unwrap()
            .as_str(),
        "p0@example.com"
    );
}

async fn a_refused_change_records_no_event(store: Arc<dyn Store>) {
    let org = organization(&store, "Refused").await;
    invite(
        &store,
        invitation(&org.id, "ada@example.com"),
        WhenPending::Renew,
        NOW,
    )
    .await;
    let again = invitation(&org.id, "ada@example.com").into_invitation(NOW);
    rejection(store.invite(&again, WhenPending::Refuse, None, NOW).await);
    let page = store
        .list_events(
            EventScope::Organization(&org.id),
            &invitation_events(),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(page.total_count, 1);
}
