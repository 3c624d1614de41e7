//! A store call may be dropped at any await (a client disconnects, a deadline fires): whatever
//! point it is cut off at, the store must stay usable by every later call and hold either all of
//! the call's write or none of it. Each test cuts a call off after 0, 1, 2, … polls that found it
//! pending, until the call runs through, and checks the store after every cut, on both stores.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use orgdoor_domain::{
    EmailAddress, Invitation, NewApiKey, NewInvitation, NewTeam, OrgId, OrgRole, OrgRoles, OrgUser,
    Organization, PageRequest, ProfileChoices, TeamName, TokenBucket,
};
use orgdoor_store::{InvitationAnswer, InvitationSelector, Store, WhenPending};
use orgdoor_test_db::Backend;
use time::OffsetDateTime;
use time::macros::datetime;

#[path = "support/store.rs"]
mod support;

const NOW: OffsetDateTime = datetime!(2026-08-10 03:03:37 UTC);
/// A call that is still pending after this many polls is not a store call but a hang.
const MOST_POLLS: usize = 500;
/// How long a check after a cut may take; a wedged connection makes it time out.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
const BUCKET: TokenBucket = TokenBucket {
    capacity: 1_000_000,
    refill: 1_000_000,
    period_seconds: 60,
};

type Call<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Drives a future until it has been found pending `cut_after` times, then drops it.
struct CutOff<'a> {
    call: Call<'a>,
    pending_polls_left: usize,
}

impl Future for CutOff<'_> {
    /// Whether the call ran to its end before the cut.
    type Output = bool;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<bool> {
        match self.call.as_mut().poll(context) {
            Poll::Ready(()) => Poll::Ready(true),
            Poll::Pending if self.pending_polls_left == 0 => Poll::Ready(false),
            Poll::Pending => {
                self.pending_polls_left -= 1;
                Poll::Pending
            }
        }
    }
}

/// Cuts `make(attempt)` off after 0, 1, 2, … pending polls until one attempt runs through; after
/// every attempt `check(attempt, ran_through)` must find the store whole and working. Returns
/// how many attempts were cut off (the number of await points reached).
async fn cut_at_every_await(
    make: impl Fn(usize) -> Call<'static>,
    check: impl Fn(usize, bool) -> Call<'static>,
) -> usize {
    for attempt in 0..MOST_POLLS {
        let ran_through = CutOff {
            call: make(attempt),
            pending_polls_left: attempt,
        }
        .await;
        tokio::time::timeout(CHECK_TIMEOUT, check(attempt, ran_through))
            .await
            .unwrap_or_else(|_| panic!("the store hung after a cut at poll {attempt}"));
        // A call over the network can run through without waiting when the server is quick;
        // going on to the next attempt still cuts it wherever it does wait.
        if ran_through && attempt > 0 {
            return attempt;
        }
    }
    panic!("the call was still pending after {MOST_POLLS} polls");
}

/// The store still takes writes and reads: a new invitation, a rate-limit token, a key look-up.
async fn store_still_works(store: &Arc<dyn Store>, org: &OrgId, attempt: usize) {
    let probe = invitation(org, &format!("probe-{attempt}@example.com"));
    store
        .invite(&probe, WhenPending::Refuse, None, NOW)
        .await
        .unwrap_or_else(|error| panic!("a write after a cut at poll {attempt}: {error}"));
    store
        .take_rate_limit_token(&format!("probe:{org}"), BUCKET, NOW)
        .await
        .unwrap_or_else(|error| panic!("a bucket write after a cut at poll {attempt}: {error}"));
    store
        .ping()
        .await
        .unwrap_or_else(|error| panic!("the health check after a cut at poll {attempt}: {error}"));
}

use support::open;

async fn organization(store: &Arc<dyn Store>) -> Organization {
    support::organization(store, "Acme", NOW).await
}

fn invitation(org: &OrgId, username: &str) -> Invitation {
    NewInvitation {
        org_id: org.clone(),
        username: username.parse::<EmailAddress>().unwrap(),
        roles: OrgRoles::new([OrgRole::Member, OrgRole::BillingAdmin]).unwrap(),
        team_ids: vec![],
        group_role_assignments: vec![],
        inviter_username: "abcdefgh".into(),
    }
    .into_invitation(NOW)
}

macro_rules! on_every_store {
    ($($name:ident),+ $(,)?) => {
        mod sqlite_store {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _database) = super::open(super::Backend::Sqlite).await;
                    super::$name(store).await;
                }
            )+
        }

        mod postgres_store {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _database) = super::open(super::Backend::Postgres).await;
                    super::$name(store).await;
                }
            )+
        }
    };
}

on_every_store!(
    an_invitation_cut_off_anywhere_is_whole_or_absent,
    a_rate_limit_token_cut_off_anywhere_leaves_the_writer_usable,
    an_acceptance_cut_off_anywhere_is_whole_or_absent,
    a_team_cut_off_anywhere_is_whole_or_absent,
    reads_cut_off_anywhere_leave_their_connections_usable,
);

async fn an_invitation_cut_off_anywhere_is_whole_or_absent(store: Arc<dyn Store>) {
    let org = organization(&store).await.id;
    let make = |attempt: usize| -> Call<'static> {
        let invited = invitation(&org, &format!("cut-{attempt}@example.com"));
        let store = store.clone();
        Box::pin(async move {
            store
                .invite(&invited, WhenPending::Refuse, None, NOW)
                .await
                .unwrap();
        })
    };
    let check = |attempt: usize, ran_through: bool| -> Call<'static> {
        let (store, org) = (store.clone(), org.clone());
        Box::pin(async move {
            store_still_works(&store, &org, attempt).await;
            let username: EmailAddress = format!("cut-{attempt}@example.com").parse().unwrap();
            let found = store
                .list_pending_invitations(&org, Some(&username), NOW)
                .await
                .unwrap();
            match found.as_slice() {
                [] => assert!(!ran_through, "a finished invitation is missing"),
                [stored] => assert_eq!(
                    stored.roles,
                    OrgRoles::new([OrgRole::Member, OrgRole::BillingAdmin]).unwrap(),
                    "a cut invitation was stored in part"
                ),
                more => panic!("{} invitations for one address", more.len()),
            }
        })
    };
    let cuts = cut_at_every_await(make, check).await;
    eprintln!("invite: cut at {cuts} await points");
}

async fn a_rate_limit_token_cut_off_anywhere_leaves_the_writer_usable(store: Arc<dyn Store>) {
    let org = organization(&store).await.id;
    let make = |_attempt: usize| -> Call<'static> {
        let store = store.clone();
        Box::pin(async move {
            store
                .take_rate_limit_token("cut", BUCKET, NOW)
                .await
                .unwrap();
        })
    };
    let check = |attempt: usize, _ran_through: bool| -> Call<'static> {
        let (store, org) = (store.clone(), org.clone());
        Box::pin(async move { store_still_works(&store, &org, attempt).await })
    };
    let cuts = cut_at_every_await(make, check).await;
    // Every cut call took its token or none, and the last one took its own.
    let outcome = store
        .take_rate_limit_token("cut", BUCKET, NOW)
        .await
        .unwrap();
    assert!(outcome.allowed);
    let taken = BUCKET.capacity - outcome.remaining;
    assert!(
        (2..=i64::try_from(cuts).unwrap() + 2).contains(&taken),
        "{taken} tokens taken by {cuts} cut calls, one whole call and this one"
    );
}

async fn an_acceptance_cut_off_anywhere_is_whole_or_absent(store: Arc<dyn Store>) {
    let org = organization(&store).await.id;
    for attempt in 0..MOST_POLLS {
        let invited = invitation(&org, &format!("accept-{attempt}@example.com"));
        store
            .invite(&invited, WhenPending::Refuse, None, NOW)
            .await
            .unwrap();
        let call: Call<'static> = Box::pin({
            let store = store.clone();
            let org = org.clone();
            let id = invited.id.clone();
            async move {
                store
                    .answer_invitation(
                        &org,
                        &InvitationSelector::Id(id),
                        InvitationAnswer::Accept(ProfileChoices::default()),
                        NOW,
                    )
                    .await
                    .unwrap();
            }
        });
        let ran_through = CutOff {
            call,
            pending_polls_left: attempt,
        }
        .await;
        tokio::time::timeout(CHECK_TIMEOUT, async {
            store_still_works(&store, &org, attempt).await;
            let user = store
                .get_org_user(&org, &invited.user_id)
                .await
                .unwrap()
                .expect("the invitee is still there, as member or invitee");
            let pending = store
                .get_pending_invitation(&org, &invited.id, NOW)
                .await
                .unwrap();
            match &user {
                OrgUser::Member(member) => {
                    assert!(pending.is_none(), "a member with a pending invitation");
                    assert_eq!(
                        member.roles, invited.roles,
                        "a member with part of the roles"
                    );
                }
                OrgUser::Invited(_) => {
                    assert!(!ran_through, "an acceptance that finished left an invitee");
                    assert!(pending.is_some(), "an invitee without a pending invitation");
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the store hung after a cut at poll {attempt}"));
        if ran_through && attempt > 0 {
            return;
        }
    }
    panic!("the acceptance was still pending after {MOST_POLLS} polls");
}

async fn a_team_cut_off_anywhere_is_whole_or_absent(store: Arc<dyn Store>) {
    let org = organization(&store).await.id;
    let make = |attempt: usize| -> Call<'static> {
        let team = NewTeam {
            org_id: org.clone(),
            name: TeamName::parse(format!("team {attempt}")).unwrap(),
        }
        .into_team(NOW);
        let store = store.clone();
        Box::pin(async move { store.create_team(&team, &[]).await.unwrap() })
    };
    let check = |attempt: usize, ran_through: bool| -> Call<'static> {
        let (store, org) = (store.clone(), org.clone());
        Box::pin(async move {
            store_still_works(&store, &org, attempt).await;
            let teams = store
                .list_teams(&org, PageRequest::new(Some(500), None))
                .await
                .unwrap();
            let name = format!("team {attempt}");
            let stored = teams
                .items
                .iter()
                .filter(|team| team.name.as_str() == name)
                .count();
            assert!(stored <= 1);
            if ran_through {
                assert_eq!(stored, 1, "a finished team is missing");
            }
        })
    };
    cut_at_every_await(make, check).await;
}

async fn reads_cut_off_anywhere_leave_their_connections_usable(store: Arc<dyn Store>) {
    let org = organization(&store).await.id;
    let reader = NewApiKey {
        description: "reader".into(),
        roles: OrgRoles::single(OrgRole::ReadOnly),
        ..support::new_api_key(&org)
    };
    let (key, _) = support::store_api_key(&store, reader, NOW).await;
    for attempt in 0..50 {
        let invited = invitation(&org, &format!("listed-{attempt}@example.com"));
        store
            .invite(&invited, WhenPending::Refuse, None, NOW)
            .await
            .unwrap();
    }
    let listed = |store: Arc<dyn Store>, org: OrgId| async move {
        store
            .list_pending_invitations(&org, None, NOW)
            .await
            .unwrap()
            .into_iter()
            .filter(|invitation| invitation.username.as_str().starts_with("listed-"))
            .count()
    };
    let make = |_attempt: usize| -> Call<'static> {
        let (store, org, public_key) = (store.clone(), org.clone(), key.public_key.clone());
        Box::pin(async move {
            assert!(store.find_api_key(&public_key).await.unwrap().is_some());
            assert_eq!(listed(store, org).await, 50);
        })
    };
    let check = |attempt: usize, _ran_through: bool| -> Call<'static> {
        let (store, org) = (store.clone(), org.clone());
        Box::pin(async move {
            store_still_works(&store, &org, attempt).await;
            // Every reader connection answers a whole list after the cut.
            for _ in 0..4 {
                assert_eq!(listed(store.clone(), org.clone()).await, 50);
            }
        })
    };
    cut_at_every_await(make, check).await;
}
