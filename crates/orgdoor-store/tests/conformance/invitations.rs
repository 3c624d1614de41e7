//! Organization invitations through the invitations API: stored whole, one pending per address,
//! renewed or replaced, updated and deleted only while pending, checked against the
//! organization's teams and projects, and safe under concurrent callers.

use std::sync::Arc;

use orgdoor_domain::{
    GroupRole, GroupRoleAssignment, Invitation, MembershipUpdate, OrgId, OrgRole, OrgRoles,
};
use orgdoor_store::{InvitationSelector, Rejection, Store, WhenPending};
use time::Duration;

use crate::fixtures::{
    NOW, invitation, invite, new_team, organization, pending_invitation, pending_invitations,
    rejection, stored_project, stored_team,
};

on_every_store!(
    invitations_round_trip_with_teams_and_project_roles,
    listed_invitations_keep_every_character_and_their_order,
    one_pending_invitation_per_address_and_expired_ones_give_way,
    references_are_checked_inside_the_transaction,
    updates_and_deletes_see_only_pending_invitations,
    deleting_a_team_or_project_removes_it_from_invitations,
    concurrent_invitations_to_one_address_leave_exactly_one,
    concurrent_renewals_keep_one_caller_s_roles_with_its_teams,
    concurrent_updates_of_one_invitation_lose_no_field,
);

/// Invites `username` into `org` at [`NOW`], renewing what is pending.
async fn renewing(store: &Arc<dyn Store>, org: &OrgId, username: &str) -> Invitation {
    invite(store, invitation(org, username), WhenPending::Renew, NOW).await
}

async fn invitations_round_trip_with_teams_and_project_roles(store: Arc<dyn Store>) {
    let org = organization(&store, "Round").await;
    let team = stored_team(&store, &org.id, "T").await;
    let group = stored_project(&store, &org.id, "G").await;
    let mut new = invitation(&org.id, "Ada@Example.com");
    new.team_ids = vec![team.id.clone()];
    new.group_role_assignments = [GroupRole::ReadOnly, GroupRole::Owner]
        .into_iter()
        .map(|role| GroupRoleAssignment {
            group_id: group.id.clone(),
            role,
        })
        .collect();
    let created = invite(&store, new, WhenPending::Renew, NOW).await;
    let fetched = pending_invitation(&store, &org.id, &created.id).await;
    assert_eq!(fetched, created);
    let by_name = store
        .list_pending_invitations(&org.id, Some(&"ada@example.com".parse().unwrap()), NOW)
        .await
        .unwrap();
    assert_eq!(by_name, vec![created.clone()]);
    let second = renewing(&store, &org.id, "bob@example.com").await;
    assert_eq!(
        pending_invitations(&store, &org.id, NOW).await,
        vec![created, second]
    );
}

/// Lists are read as one aggregated JSON value; whatever the stored text holds comes back
/// unchanged, in creation order and then by id.
async fn listed_invitations_keep_every_character_and_their_order(store: Arc<dyn Store>) {
    let org = organization(&store, "Characters").await;
    let mut created = Vec::new();
    for (username, inviter) in [
        ("o'neil+tag@example.com", r#"say "hi" \ now"#),
        ("josé@exämple.com", "tab\there\nnewline"),
        ("x_y-z.w@example.co.uk", "😀 emoji"),
    ] {
        let mut new = invitation(&org.id, username);
        new.inviter_username = inviter.into();
        // The same instant for all: the id breaks the tie.
        created.push(invite(&store, new, WhenPending::Renew, NOW).await);
    }
    created.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    assert_eq!(pending_invitations(&store, &org.id, NOW).await, created);
    assert!(
        pending_invitations(&store, &OrgId::generate(NOW), NOW)
            .await
            .is_empty()
    );
}

async fn one_pending_invitation_per_address_and_expired_ones_give_way(store: Arc<dyn Store>) {
    let org = organization(&store, "Unique").await;
    let first = invitation(&org.id, "ada@example.com").into_invitation(NOW);
    assert_eq!(
        store
            .invite(&first, WhenPending::Renew, None, NOW)
            .await
            .unwrap(),
        first
    );

    // Inviting a pending address again renews that invitation: same ids, new terms and dates.
    let later = NOW + Duration::days(3);
    let mut again = invitation(&org.id, "ADA@example.com");
    again.roles = OrgRoles::single(OrgRole::Owner);
    again.inviter_username = "zyxwvuts".into();
    let renewed = store
        .invite(
            &again.into_invitation(later),
            WhenPending::Renew,
            None,
            later,
        )
        .await
        .unwrap();
    assert_eq!((&renewed.id, &renewed.user_id), (&first.id, &first.user_id));
    assert_eq!(renewed.roles, OrgRoles::single(OrgRole::Owner));
    assert_eq!(renewed.inviter_username, "zyxwvuts");
    assert_eq!(renewed.created_at, later);
    assert_eq!(renewed.expires_at, later + Duration::days(30));
    assert_eq!(
        pending_invitations(&store, &org.id, later).await,
        vec![renewed.clone()]
    );

    // Another organization may invite the same address.
    let other = organization(&store, "Other").await;
    renewing(&store, &other.id, "ada@example.com").await;

    // Once expired, a new invitation replaces it with new ids.
    let expired = renewed.expires_at;
    assert!(
        pending_invitations(&store, &org.id, expired)
            .await
            .is_empty()
    );
    let replacement = invitation(&org.id, "ada@example.com").into_invitation(expired);
    let stored = store
        .invite(&replacement, WhenPending::Renew, None, expired)
        .await
        .unwrap();
    // A new invitation, to the same person: their user id stays.
    assert_eq!(
        stored,
        Invitation {
            user_id: first.user_id.clone(),
            ..replacement
        }
    );
    assert_ne!(stored.id, first.id);
    assert_eq!(
        pending_invitations(&store, &org.id, expired).await,
        vec![stored]
    );
}

async fn references_are_checked_inside_the_transaction(store: Arc<dyn Store>) {
    let org = organization(&store, "Refs").await;
    let other = organization(&store, "Elsewhere").await;
    let foreign = stored_team(&store, &other.id, "Theirs").await;
    let foreign_group = stored_project(&store, &other.id, "Theirs").await;

    let mut with_team = invitation(&org.id, "ada@example.com");
    with_team.team_ids = vec![foreign.id.clone()];
    let mut with_group = invitation(&org.id, "ada@example.com");
    with_group.group_role_assignments = vec![GroupRoleAssignment {
        group_id: foreign_group.id.clone(),
        role: GroupRole::Owner,
    }];
    for (new, refused) in [
        (
            with_team,
            Rejection::TeamNotInOrg {
                team: foreign.id.clone(),
                org: org.id.clone(),
            },
        ),
        (
            with_group,
            Rejection::GroupNotFound(foreign_group.id.clone()),
        ),
    ] {
        let attempt = store
            .invite(&new.into_invitation(NOW), WhenPending::Renew, None, NOW)
            .await;
        assert_eq!(rejection(attempt), refused);
    }
    // Nothing of either attempt was kept.
    assert!(pending_invitations(&store, &org.id, NOW).await.is_empty());
}

async fn updates_and_deletes_see_only_pending_invitations(store: Arc<dyn Store>) {
    let org = organization(&store, "Updates").await;
    let created = renewing(&store, &org.id, "ada@example.com").await;
    let update = |selector: InvitationSelector, at| {
        let (store, org) = (store.clone(), org.id.clone());
        let owner = MembershipUpdate {
            roles: Some(OrgRoles::single(OrgRole::Owner)),
            ..MembershipUpdate::default()
        };
        async move {
            store
                .update_pending_invitation(&org, &selector, owner, at)
                .await
        }
    };
    let by_id = || InvitationSelector::Id(created.id.clone());
    let updated = update(
        InvitationSelector::Username("ADA@example.com".parse().unwrap()),
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(updated.roles, OrgRoles::single(OrgRole::Owner));
    assert_eq!(updated.expires_at, created.expires_at);
    assert_eq!(
        pending_invitation(&store, &org.id, &created.id).await,
        updated
    );

    let expired = NOW + Duration::days(31);
    assert_eq!(
        rejection(update(by_id(), expired).await),
        Rejection::InvitationExpired
    );
    let other = organization(&store, "NotMine").await;
    for (org, at) in [(&org.id, expired), (&other.id, NOW)] {
        assert_eq!(
            rejection(store.delete_pending_invitation(org, &created.id, at).await),
            Rejection::InvitationNotFound(by_id())
        );
    }
    store
        .delete_pending_invitation(&org.id, &created.id, NOW)
        .await
        .unwrap();
    assert_eq!(
        rejection(update(by_id(), NOW).await),
        Rejection::InvitationNotFound(by_id())
    );
}

async fn deleting_a_team_or_project_removes_it_from_invitations(store: Arc<dyn Store>) {
    let org = organization(&store, "Cascade").await;
    let team = stored_team(&store, &org.id, "T").await;
    let group = stored_project(&store, &org.id, "G").await;
    let mut new = invitation(&org.id, "ada@example.com");
    new.team_ids = vec![team.id.clone()];
    new.group_role_assignments = vec![GroupRoleAssignment {
        group_id: group.id.clone(),
        role: GroupRole::Owner,
    }];
    let created = invite(&store, new, WhenPending::Renew, NOW).await;
    store.delete_team(&org.id, &team.id).await.unwrap();
    store.delete_group(&group.id).await.unwrap();
    let fetched = pending_invitation(&store, &org.id, &created.id).await;
    assert!(fetched.team_ids.is_empty());
    assert!(fetched.group_role_assignments.is_empty());
}

async fn concurrent_invitations_to_one_address_leave_exactly_one(store: Arc<dyn Store>) {
    let org = organization(&store, "Race").await;
    let attempts = (0..16).map(|_| {
        let store = store.clone();
        let created = invitation(&org.id, "ada@example.com").into_invitation(NOW);
        tokio::spawn(async move { store.invite(&created, WhenPending::Renew, None, NOW).await })
    });
    let mut ids = std::collections::HashSet::new();
    for attempt in attempts {
        ids.insert(attempt.await.unwrap().unwrap().id);
    }
    assert_eq!(ids.len(), 1, "every caller got the one invitation");
    let pending = pending_invitations(&store, &org.id, NOW).await;
    assert_eq!(pending.len(), 1);
    assert!(ids.contains(&pending[0].id));
}

/// Callers renewing one address at once, half of them with a team and owner's role, half with
/// neither: whoever wins, the invitation holds one caller's terms, never one's roles with
/// another's teams (on PostgreSQL an invitation without teams is first tried as one statement,
/// whose view of the store predates the writes it waits for).
async fn concurrent_renewals_keep_one_caller_s_roles_with_its_teams(store: Arc<dyn Store>) {
    let org = organization(&store, "Terms").await;
    let team = stored_team(&store, &org.id, "T").await;
    for round in 0..8 {
        let username = format!("user{round}@example.com");
        let attempts: Vec<_> = (0..8)
            .map(|attempt| {
                let store = store.clone();
                let mut new = invitation(&org.id, &username);
                if attempt % 2 == 0 {
                    new.roles = OrgRoles::single(OrgRole::Owner);
                    new.team_ids = vec![team.id.clone()];
                }
                let created = new.into_invitation(NOW);
                tokio::spawn(
                    async move { store.invite(&created, WhenPending::Renew, None, NOW).await },
                )
            })
            .collect();
        for attempt in attempts {
            attempt.await.unwrap().unwrap();
        }
        let pending = pending_invitations(&store, &org.id, NOW).await;
        let stored = pending
            .iter()
            .find(|invitation| invitation.username.as_str() == username)
            .unwrap();
        let with_team = stored.roles == OrgRoles::single(OrgRole::Owner);
        let teams = if with_team {
            vec![team.id.clone()]
        } else {
            vec![]
        };
        assert_eq!(stored.team_ids, teams, "round {round}: {stored:?}");
    }
}

async fn concurrent_updates_of_one_invitation_lose_no_field(store: Arc<dyn Store>) {
    let org = organization(&store, "Updates").await;
    let teams: Vec<_> = (0..8)
        .map(|n| new_team(&org.id, &format!("team-{n}")))
        .collect();
    for team in &teams {
        store.create_team(team, &[]).await.unwrap();
    }
    for (round, team) in teams.iter().enumerate() {
        let created = renewing(&store, &org.id, &format!("user{round}@example.com")).await;
        let selector = InvitationSelector::Id(created.id.clone());
        let roles = MembershipUpdate {
            roles: Some(OrgRoles::single(OrgRole::Owner)),
            ..MembershipUpdate::default()
        };
        let team_ids = MembershipUpdate {
            team_ids: Some(vec![team.id.clone()]),
            ..MembershipUpdate::default()
        };
        let [first, second] = [roles, team_ids].map(|update| {
            let store = store.clone();
            let (org, selector) = (org.id.clone(), selector.clone());
            tokio::spawn(async move {
                store
                    .update_pending_invitation(&org, &selector, update, NOW)
                    .await
            })
        });
        let (first, second) = tokio::join!(first, second);
        first.unwrap().unwrap();
        second.unwrap().unwrap();
        let result = pending_invitation(&store, &org.id, &created.id).await;
        assert_eq!(
            result.roles,
            OrgRoles::single(OrgRole::Owner),
            "round {round}"
        );
        assert_eq!(result.team_ids, vec![team.id.clone()], "round {round}");
    }
}
