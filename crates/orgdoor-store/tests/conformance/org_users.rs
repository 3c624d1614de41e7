//! Organization users, members and invitees alike: an invitation answered (accepted, declined
//! or left to expire), the list in Atlas's order, and role changes that keep one role and lose
//! none under concurrency.

use std::sync::Arc;

use orgdoor_domain::{
    GroupRole, GroupRoleAssignment, INVITATION_LIFETIME, MembershipStatus, MembershipUpdate,
    NewInvitation, OrgId, OrgRole, OrgRoles, OrgUser, PageRequest, ProfileChoices, RoleChange,
};
use orgdoor_store::{
    InvitationAnswer, InvitationSelector, OrgUserFilter, ProjectFilter, Rejection, Store,
    UserSelector, WhenPending,
};
use time::Duration;

use crate::fixtures::{
    NOW, accept, invitation, invite, member, org_user, organization, pending, pending_invitation,
    pending_invitations, rejection, statuses, stored_project, stored_team,
};

on_every_store!(
    accepting_makes_a_member_with_everything_the_invitation_offered,
    declining_and_expiry_show_as_statuses_and_give_way_to_a_new_invitation,
    org_users_are_listed_members_first_then_by_status_and_address,
    every_org_user_filter_and_page_is_chosen_by_the_store,
    pages_of_every_size_cut_the_same_list_across_statuses,
    a_page_read_while_invitations_are_accepted_misses_no_one,
    role_changes_are_atomic_and_keep_at_least_one_role,
    concurrent_role_changes_of_one_member_lose_none,
);

async fn accepting_makes_a_member_with_everything_the_invitation_offered(store: Arc<dyn Store>) {
    let org = organization(&store, "Acme").await;
    let team = stored_team(&store, &org.id, "Platform").await;
    let group = stored_project(&store, &org.id, "Payments").await;
    let mut offered = invitation(&org.id, "Ada@Example.com");
    offered.roles = OrgRoles::new([OrgRole::Member, OrgRole::GroupCreator]).unwrap();
    offered.team_ids = vec![team.id.clone()];
    offered.group_role_assignments = vec![GroupRoleAssignment {
        group_id: group.id.clone(),
        role: GroupRole::Owner,
    }];
    let offered = invite(&store, offered, WhenPending::Refuse, NOW).await;
    let accepted = accept(
        &store,
        &org.id,
        InvitationSelector::UserId(offered.user_id.clone()),
    )
    .await;
    let OrgUser::Member(member) = &accepted else {
        panic!("not a member: {accepted:?}")
    };
    assert_eq!(
        member.user.id, offered.user_id,
        "the pending user's id is kept"
    );
    assert_eq!(member.roles, offered.roles);
    assert_eq!(member.team_ids, vec![team.id.clone()]);
    assert_eq!(
        member.group_role_assignments,
        offered.group_role_assignments
    );
    assert_eq!(member.user.profile.first_name, "Ada");
    assert_eq!(
        store.get_org_user(&org.id, &offered.user_id).await.unwrap(),
        Some(accepted.clone())
    );
    // The invitation is over: not listed, not answerable again, and a member cannot be invited.
    assert!(pending_invitations(&store, &org.id, NOW).await.is_empty());
    assert_eq!(
        rejection(
            store
                .answer_invitation(
                    &org.id,
                    &InvitationSelector::Id(offered.id.clone()),
                    InvitationAnswer::Decline,
                    NOW
                )
                .await
        ),
        Rejection::InvitationNotFound(InvitationSelector::Id(offered.id.clone()))
    );
    for when_pending in [WhenPending::Renew, WhenPending::Refuse] {
        let again = invitation(&org.id, "ada@example.com").into_invitation(NOW);
        assert_eq!(
            rejection(store.invite(&again, when_pending, None, NOW).await),
            Rejection::UsernameTaken(again.username.clone())
        );
    }
    // One person, one id: another organization's invitation is to the same user.
    let other = organization(&store, "Other").await;
    let elsewhere = store
        .invite(
            &invitation(&other.id, "ada@example.com").into_invitation(NOW),
            WhenPending::Refuse,
            None,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(elsewhere.user_id, offered.user_id);
    let (user, memberships) = store
        .find_user(&UserSelector::Username("ADA@example.com".parse().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.id, offered.user_id);
    assert_eq!(memberships.len(), 1);
    // Removing the member drops their teams and project roles with the membership.
    store
        .remove_org_user(&org.id, &offered.user_id, true)
        .await
        .unwrap();
    assert_eq!(
        store.get_org_user(&org.id, &offered.user_id).await.unwrap(),
        None
    );
    let filter = OrgUserFilter {
        team: Some(team.id.clone()),
        ..statuses(&MembershipStatus::ALL)
    };
    assert_eq!(
        store
            .list_org_users(&org.id, &filter, PageRequest::default(), NOW)
            .await
            .unwrap()
            .total_count,
        0
    );
}

async fn declining_and_expiry_show_as_statuses_and_give_way_to_a_new_invitation(
    store: Arc<dyn Store>,
) {
    let org = organization(&store, "Acme").await;
    let declined = pending(&store, &org.id, "bob@example.com").await;
    let answered = store
        .answer_invitation(
            &org.id,
            &InvitationSelector::Username(declined.username.clone()),
            InvitationAnswer::Decline,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(answered.status(NOW), MembershipStatus::InvitationRejected);
    assert_eq!(
        org_user(&store, &org.id, &declined.user_id)
            .await
            .status(NOW),
        MembershipStatus::InvitationRejected
    );
    // Declined is not pending: the invitations API no longer sees it.
    assert_eq!(
        store
            .get_pending_invitation(&org.id, &declined.id, NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        rejection(
            store
                .update_org_user(&org.id, &declined.user_id, MembershipUpdate::default(), NOW)
                .await
        ),
        Rejection::UserNotInOrg {
            user: declined.user_id.to_string(),
            org: org.id.clone()
        }
    );

    let expiring = pending(&store, &org.id, "cy@example.com").await;
    let later = expiring.expires_at;
    assert_eq!(
        rejection(
            store
                .answer_invitation(
                    &org.id,
                    &InvitationSelector::Id(expiring.id.clone()),
                    InvitationAnswer::Accept(ProfileChoices::default()),
                    later
                )
                .await
        ),
        Rejection::InvitationExpired
    );
    let expired_users = store
        .list_org_users(
            &org.id,
            &statuses(&[MembershipStatus::InvitationExpired]),
            PageRequest::default(),
            later,
        )
        .await
        .unwrap();
    assert_eq!(expired_users.total_count, 1);
    assert_eq!(expired_users.items[0].username().as_str(), "cy@example.com");

    // Both give way to a new invitation, which a pending one would refuse.
    for (previous, at) in [(&declined, NOW), (&expiring, later)] {
        let fresh = invitation(&org.id, previous.username.as_str()).into_invitation(at);
        let stored = store
            .invite(&fresh, WhenPending::Refuse, None, at)
            .await
            .unwrap();
        assert_eq!(stored.id, fresh.id);
        assert_eq!(
            stored.user_id, previous.user_id,
            "the person keeps their id"
        );
        assert_eq!(
            rejection(store.invite(&fresh, WhenPending::Refuse, None, at).await),
            Rejection::UsernameTaken(fresh.username.clone())
        );
    }
}

async fn org_users_are_listed_members_first_then_by_status_and_address(store: Arc<dyn Store>) {
    let org = organization(&store, "Acme").await;
    let team = stored_team(&store, &org.id, "Platform").await;
    member(&store, &org.id, "zed@example.com").await;
    member(&store, &org.id, "amy@example.com").await;
    for address in ["yan@example.com", "bea@example.com"] {
        let mut offered = invitation(&org.id, address);
        offered.team_ids = vec![team.id.clone()];
        invite(&store, offered, WhenPending::Refuse, NOW).await;
    }
    let month_ago = NOW - Duration::days(31);
    let old = invitation(&org.id, "old@example.com");
    invite(&store, old, WhenPending::Refuse, month_ago).await;
    // Other organizations' users never show.
    let other = organization(&store, "Other").await;
    member(&store, &other.id, "amy@example.com").await;

    let listed = |filter, page| listed_addresses(&store, &org.id, filter, page);
    assert_eq!(
        listed(statuses(&MembershipStatus::DEFAULT), PageRequest::default()).await,
        (
            vec![
                "amy@example.com".to_owned(),
                "zed@example.com".to_owned(),
                "bea@example.com".to_owned(),
                "yan@example.com".to_owned()
            ],
            4
        )
    );
    assert_eq!(
        listed(
            statuses(&MembershipStatus::ALL),
            PageRequest::new(Some(2), Some(3))
        )
        .await,
        (vec!["old@example.com".to_owned()], 5)
    );
    let on_team = OrgUserFilter {
        team: Some(team.id.clone()),
        username: Some("YAN@example.com".parse().unwrap()),
        ..statuses(&MembershipStatus::DEFAULT)
    };
    assert_eq!(
        listed(on_team, PageRequest::default()).await,
        (vec!["yan@example.com".to_owned()], 1)
    );
}

/// Statuses (worked out from `now`), every filter and the page, over members and invitees of
/// every status, with role names that contain one another.
async fn every_org_user_filter_and_page_is_chosen_by_the_store(store: Arc<dyn Store>) {
    let org = organization(&store, "Acme").await;
    let project = stored_project(&store, &org.id, "Apollo").await;
    let mut offered = invitation(&org.id, "ada@example.com");
    offered.group_role_assignments = vec![GroupRoleAssignment {
        group_id: project.id.clone(),
        role: GroupRole::ReadOnly,
    }];
    let ada = invite(&store, offered, WhenPending::Refuse, NOW).await;
    accept(&store, &org.id, InvitationSelector::Id(ada.id)).await;
    // `ORG_READ_ONLY` is inside `ORG_BILLING_READ_ONLY`; only the second invitee holds it.
    let billing = NewInvitation {
        roles: OrgRoles::single(OrgRole::BillingReadOnly),
        ..invitation(&org.id, "bil@example.com")
    };
    invite(&store, billing, WhenPending::Refuse, NOW).await;
    let reader = NewInvitation {
        roles: OrgRoles::new([OrgRole::Member, OrgRole::ReadOnly]).unwrap(),
        ..invitation(&org.id, "rea@example.com")
    };
    invite(&store, reader, WhenPending::Refuse, NOW).await;
    // Expired from the second it expires.
    let due = invitation(&org.id, "due@example.com");
    invite(&store, due, WhenPending::Refuse, NOW - INVITATION_LIFETIME).await;
    let declined = pending(&store, &org.id, "dec@example.com").await;
    store
        .answer_invitation(
            &org.id,
            &InvitationSelector::Id(declined.id.clone()),
            InvitationAnswer::Decline,
            NOW,
        )
        .await
        .unwrap();

    let listed = |filter, page| {
        let listing = listed_addresses(&store, &org.id, filter, page);
        async move {
            let (addresses, total) = listing.await;
            (addresses.join(" "), total)
        }
    };
    let all = || statuses(&MembershipStatus::ALL);
    let first_page = PageRequest::default();
    assert_eq!(
        listed(all(), first_page).await,
        (
            "ada@example.com bil@example.com rea@example.com due@example.com dec@example.com"
                .into(),
            5
        )
    );
    assert_eq!(
        listed(all(), PageRequest::new(Some(2), Some(2))).await,
        ("rea@example.com due@example.com".into(), 5)
    );
    assert_eq!(
        listed(all(), PageRequest::new(Some(2), Some(9))).await,
        (String::new(), 5)
    );
    let expired_or_declined = statuses(&[
        MembershipStatus::InvitationRejected,
        MembershipStatus::InvitationExpired,
    ]);
    assert_eq!(
        listed(expired_or_declined, first_page).await,
        ("due@example.com dec@example.com".into(), 2)
    );
    let by_id = OrgUserFilter {
        user_id: Some(declined.user_id.clone()),
        ..all()
    };
    assert_eq!(
        listed(by_id, first_page).await,
        ("dec@example.com".into(), 1)
    );
    let readers = OrgUserFilter {
        project: Some(ProjectFilter {
            group: project.id.clone(),
            teams: vec![],
            org_roles: vec![OrgRole::ReadOnly],
        }),
        ..all()
    };
    assert_eq!(
        listed(readers, first_page).await,
        ("ada@example.com rea@example.com".into(), 2)
    );
}

/// A page is cut out of per-status segments; whatever the page size, the pages put end to end
/// are the whole list, and every page gives the same total.
async fn pages_of_every_size_cut_the_same_list_across_statuses(store: Arc<dyn Store>) {
    let org = organization(&store, "Acme").await;
    for address in ["m3@example.com", "m1@example.com", "m2@example.com"] {
        member(&store, &org.id, address).await;
    }
    for address in [
        "p4@example.com",
        "p2@example.com",
        "p1@example.com",
        "p3@example.com",
    ] {
        pending(&store, &org.id, address).await;
    }
    for address in ["e2@example.com", "e1@example.com"] {
        let due = invitation(&org.id, address);
        invite(&store, due, WhenPending::Refuse, NOW - INVITATION_LIFETIME).await;
    }
    for address in ["d2@example.com", "d1@example.com"] {
        let declined = pending(&store, &org.id, address).await;
        store
            .answer_invitation(
                &org.id,
                &InvitationSelector::Id(declined.id),
                InvitationAnswer::Decline,
                NOW,
            )
            .await
            .unwrap();
    }
    let whole = "m1 m2 m3 p1 p2 p3 p4 e1 e2 d1 d2";
    let (listed, total) = listed_addresses(
        &store,
        &org.id,
        statuses(&MembershipStatus::ALL),
        PageRequest::default(),
    )
    .await;
    let short = |addresses: &[String]| {
        addresses
            .iter()
            .map(|address| address.trim_end_matches("@example.com"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!((short(&listed).as_str(), total), (whole, 11));

    for size in 1..=12 {
        let mut joined = Vec::new();
        for number in 1..=13 {
            let (page, total) = listed_addresses(
                &store,
                &org.id,
                statuses(&MembershipStatus::ALL),
                PageRequest::new(Some(size), Some(number)),
            )
            .await;
            assert_eq!(total, 11, "page {number} of size {size}");
            assert!(page.len() <= size as usize);
            joined.extend(page);
        }
        assert_eq!(short(&joined), whole, "pages of {size}");
    }
    // A segment left out by the filter leaves no gap in the pages.
    let (page, total) = listed_addresses(
        &store,
        &org.id,
        statuses(&[
            MembershipStatus::InvitationRejected,
            MembershipStatus::Active,
        ]),
        PageRequest::new(Some(2), Some(2)),
    )
    .await;
    assert_eq!((short(&page).as_str(), total), ("m3 d1", 5));
}

/// A page is read in several statements (the total, the keys of the page, then the members and
/// the invitations on it). Accepting an invitation turns an invitee into a member between any
/// two of them; each page still holds everyone, once.
async fn a_page_read_while_invitations_are_accepted_misses_no_one(store: Arc<dyn Store>) {
    const PEOPLE: usize = 40;
    let org = organization(&store, "Acme").await;
    let mut invitations = Vec::new();
    for n in 0..PEOPLE {
        invitations.push(pending(&store, &org.id, &format!("user{n:02}@example.com")).await);
    }
    let accepting = {
        let (store, org) = (store.clone(), org.id.clone());
        tokio::spawn(async move {
            for invited in invitations {
                accept(&store, &org, InvitationSelector::Id(invited.id)).await;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut pages = 0;
    while !accepting.is_finished() || pages == 0 {
        let (addresses, total) = listed_addresses(
            &store,
            &org.id,
            statuses(&MembershipStatus::DEFAULT),
            PageRequest::default(),
        )
        .await;
        assert_eq!((addresses.len(), total), (PEOPLE, PEOPLE as u64));
        pages += 1;
    }
    accepting.await.unwrap();
}

/// The addresses on a page of the organization's users that `filter` selects, and the total.
async fn listed_addresses(
    store: &Arc<dyn Store>,
    org: &OrgId,
    filter: OrgUserFilter,
    page: PageRequest,
) -> (Vec<String>, u64) {
    let page = store.list_org_users(org, &filter, page, NOW).await.unwrap();
    let addresses = page
        .items
        .iter()
        .map(|user| user.username().to_string())
        .collect();
    (addresses, page.total_count)
}

async fn role_changes_are_atomic_and_keep_at_least_one_role(store: Arc<dyn Store>) {
    let org = organization(&store, "Acme").await;
    let pending = pending(&store, &org.id, "bea@example.com").await;
    let active = member(&store, &org.id, "amy@example.com").await;
    for id in [&pending.user_id, active.id()] {
        let change = |change| store.change_org_user_role(&org.id, id, change, NOW);
        let changed = change(RoleChange::Add(OrgRole::Owner)).await.unwrap();
        assert_eq!(
            changed.roles().as_slice(),
            &[OrgRole::Member, OrgRole::Owner]
        );
        change(RoleChange::Remove(OrgRole::Member)).await.unwrap();
        assert_eq!(
            rejection(change(RoleChange::Remove(OrgRole::Owner)).await),
            Rejection::LastRole
        );
        let stored = org_user(&store, &org.id, id).await;
        assert_eq!(stored.roles(), &OrgRoles::single(OrgRole::Owner));
    }
    // The invitations API sees the pending user's new roles: one state, two views.
    let seen = pending_invitation(&store, &org.id, &pending.id).await;
    assert_eq!(seen.roles, OrgRoles::single(OrgRole::Owner));
}

async fn concurrent_role_changes_of_one_member_lose_none(store: Arc<dyn Store>) {
    let org = organization(&store, "Acme").await;
    let active = member(&store, &org.id, "amy@example.com").await;
    let changes = OrgRole::ALL.iter().map(|role| {
        let (store, org, id) = (store.clone(), org.id.clone(), active.id().clone());
        let role = *role;
        tokio::spawn(async move {
            store
                .change_org_user_role(&org, &id, RoleChange::Add(role), NOW)
                .await
                .unwrap();
        })
    });
    for change in changes {
        change.await.unwrap();
    }
    let stored = org_user(&store, &org.id, active.id()).await;
    assert_eq!(stored.roles().as_slice().len(), OrgRole::ALL.len());
}

/// A test that works on the database itself, in a module of its own (each runner module holds
/// one module per backend).
mod byte_order {
    use orgdoor_domain::{MembershipStatus, PageRequest};
    use orgdoor_store::WhenPending;

    use super::listed_addresses;
    use crate::fixtures::{Backend, NOW, invitation, invite, member, organization, statuses};
    use crate::support::open;

    on_every_backend!(addresses_are_listed_in_byte_order_whatever_the_collation);

    /// Addresses whose byte order differs from a language's (which passes over `@` and `.` first):
    /// lists keep byte order on PostgreSQL too, where a database created under such a locale
    /// compares text by it. The test gives the address columns that collation itself, as such a
    /// database would, since the test database is usually created under "C".
    async fn addresses_are_listed_in_byte_order_whatever_the_collation(backend: Backend) {
        let (store, database) = open(backend).await;
        if backend == Backend::Postgres {
            let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&database.url)
                .await
                .unwrap();
            // ICU's English with punctuation shifted aside compares as glibc's `en_US` does.
            sqlx::query(
                "CREATE COLLATION language_order (provider = icu, locale = 'en-US-u-ka-shifted')",
            )
            .execute(&mut connection)
            .await
            .unwrap();
            for table in ["users", "invitations"] {
                sqlx::query(&format!(
                    "ALTER TABLE {table} ALTER COLUMN username_key TYPE TEXT COLLATE language_order"
                ))
                .execute(&mut connection)
                .await
                .unwrap();
            }
            // The column now sorts the other way, so the test below can fail.
            let language_order: Vec<String> = sqlx::query_scalar(
                "SELECT username_key FROM (VALUES ('ann@z.com'), ('anna@a.com')) AS a(username_key) \
                 ORDER BY username_key COLLATE language_order",
            )
            .fetch_all(&mut connection)
            .await
            .unwrap();
            assert_eq!(language_order, ["anna@a.com", "ann@z.com"]);
        }
        let org = organization(&store, "Acme").await;
        for address in ["anna@a.com", "ann@z.com", "ab@x.com", "a.c@x.com"] {
            member(&store, &org.id, address).await;
        }
        for address in ["zoe@y.com", "zo.e@y.com", "zoey@a.com", "zo@z.com"] {
            invite(
                &store,
                invitation(&org.id, address),
                WhenPending::Refuse,
                NOW,
            )
            .await;
        }
        let (addresses, _) = listed_addresses(
            &store,
            &org.id,
            statuses(&MembershipStatus::DEFAULT),
            PageRequest::default(),
        )
        .await;
        assert_eq!(
            addresses,
            [
                "a.c@x.com",
                "ab@x.com",
                "ann@z.com",
                "anna@a.com",
                "zo.e@y.com",
                "zo@z.com",
                "zoe@y.com",
                "zoey@a.com"
            ]
        );
    }
}
