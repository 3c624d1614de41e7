//! Teams: names unique per organization ignoring case, and team membership, which only the
//! organization's members (and, one at a time, its invitees) may hold.

use std::sync::Arc;

use orgdoor_domain::{OrgId, PageRequest, TeamId, TeamName, UserId};
use orgdoor_store::{Rejection, Store};

use crate::fixtures::{
    NOW, member, new_team, org_user, organization, pending, pending_invitation, rejection,
    stored_team,
};

on_every_store!(
    team_names_are_unique_per_organization_ignoring_case,
    teams_take_members_only_and_lose_them_with_the_membership,
    members_and_invitees_join_and_leave_teams_one_at_a_time,
    teams_are_listed_oldest_first_and_found_by_name_in_any_case,
);

/// The teams user `id` of `org` is on.
async fn teams_of(store: &Arc<dyn Store>, org: &OrgId, id: &UserId) -> Vec<TeamId> {
    org_user(store, org, id).await.team_ids().to_vec()
}

async fn team_names_are_unique_per_organization_ignoring_case(store: Arc<dyn Store>) {
    let first = organization(&store, "First").await;
    let second = organization(&store, "Second").await;
    store
        .create_team(&new_team(&first.id, "Platform"), &[])
        .await
        .unwrap();
    assert_eq!(
        rejection(
            store
                .create_team(&new_team(&first.id, "PLATFORM"), &[])
                .await
        ),
        Rejection::TeamNameTaken("PLATFORM".into())
    );
    store
        .create_team(&new_team(&second.id, "Platform"), &[])
        .await
        .unwrap();
    let other = stored_team(&store, &first.id, "Data").await;
    let renamed = store
        .rename_team(&first.id, &other.id, &TeamName::parse("Infra").unwrap())
        .await
        .unwrap();
    assert_eq!(renamed.name.as_str(), "Infra");
    assert_eq!(
        rejection(
            store
                .rename_team(&first.id, &other.id, &TeamName::parse("platform").unwrap())
                .await
        ),
        Rejection::TeamNameTaken("platform".into())
    );
    // A team is only reachable through its own organization.
    assert!(
        store
            .get_team(&second.id, &other.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        rejection(store.delete_team(&second.id, &other.id).await),
        Rejection::TeamNotFound(other.id.clone())
    );
}

async fn teams_take_members_only_and_lose_them_with_the_membership(store: Arc<dyn Store>) {
    let org = organization(&store, "Acme").await;
    let team = stored_team(&store, &org.id, "Platform").await;
    let active = member(&store, &org.id, "amy@example.com").await;
    let pending = pending(&store, &org.id, "bea@example.com").await;
    let stranger: UserId = "5f0000000000000000000001".parse().unwrap();
    let add = |users: Vec<UserId>| {
        let (store, org, team) = (store.clone(), org.id.clone(), team.id.clone());
        async move { store.add_team_members(&org, &team, &users, NOW).await }
    };

    assert_eq!(
        rejection(add(vec![pending.user_id.clone()]).await),
        Rejection::PendingUser(pending.user_id.to_string())
    );
    assert!(matches!(
        rejection(add(vec![stranger.clone()]).await),
        Rejection::UserNotInOrg { .. }
    ));
    // All or none: the member listed before the stranger was not added either.
    assert!(matches!(
        rejection(add(vec![active.id().clone(), stranger]).await),
        Rejection::UserNotInOrg { .. }
    ));
    assert!(teams_of(&store, &org.id, active.id()).await.is_empty());

    add(vec![active.id().clone()]).await.unwrap();
    assert_eq!(
        rejection(add(vec![active.id().clone()]).await),
        Rejection::AlreadyInTeam {
            user: active.id().clone(),
            team: team.id.clone()
        }
    );
    assert_eq!(
        teams_of(&store, &org.id, active.id()).await,
        vec![team.id.clone()]
    );
    store
        .remove_team_member(&org.id, &team.id, active.id())
        .await
        .unwrap();
    assert!(matches!(
        rejection(
            store
                .remove_team_member(&org.id, &team.id, active.id())
                .await
        ),
        Rejection::UserNotInOrg { .. }
    ));

    // A team created with members by address; deleting the team drops the membership link.
    let named = new_team(&org.id, "Named");
    assert_eq!(
        rejection(
            store
                .create_team(&named, std::slice::from_ref(&pending.username))
                .await
        ),
        Rejection::PendingUser(pending.username.to_string())
    );
    assert_eq!(
        store.get_team(&org.id, &named.id).await.unwrap(),
        None,
        "nothing half-written"
    );
    store
        .create_team(
            &named,
            &[active.username().clone(), active.username().clone()],
        )
        .await
        .unwrap();
    assert_eq!(
        teams_of(&store, &org.id, active.id()).await,
        vec![named.id.clone()]
    );
    store.delete_team(&org.id, &named.id).await.unwrap();
    assert!(teams_of(&store, &org.id, active.id()).await.is_empty());
}

async fn members_and_invitees_join_and_leave_teams_one_at_a_time(store: Arc<dyn Store>) {
    let org = organization(&store, "Acme").await;
    let team = stored_team(&store, &org.id, "Platform").await;
    let active = member(&store, &org.id, "amy@example.com").await;
    let pending = pending(&store, &org.id, "bea@example.com").await;
    let change = |team: &TeamId, user: &UserId, join: bool| {
        let (store, org, team, user) = (store.clone(), org.id.clone(), team.clone(), user.clone());
        async move {
            store
                .change_team_membership(&org, &team, &user, join, NOW)
                .await
        }
    };
    for id in [active.id(), &pending.user_id] {
        let joined = change(&team.id, id, true).await.unwrap();
        assert_eq!(joined.team_ids(), std::slice::from_ref(&team.id));
        assert!(matches!(
            rejection(change(&team.id, id, true).await),
            Rejection::AlreadyInTeam { .. }
        ));
    }
    // The invitee's team is on the invitation, for acceptance.
    let seen = pending_invitation(&store, &org.id, &pending.id).await;
    assert_eq!(seen.team_ids, vec![team.id.clone()]);
    let left = change(&team.id, active.id(), false).await.unwrap();
    assert!(left.team_ids().is_empty());
    assert!(matches!(
        rejection(change(&team.id, active.id(), false).await),
        Rejection::UserNotInOrg { .. }
    ));
    let other = organization(&store, "Other").await;
    let foreign = stored_team(&store, &other.id, "Foreign").await;
    assert_eq!(
        rejection(change(&foreign.id, active.id(), true).await),
        Rejection::TeamNotFound(foreign.id.clone())
    );
}

/// An organization's teams, oldest first and paged, and one found by its name in any case;
/// another organization's are not there.
async fn teams_are_listed_oldest_first_and_found_by_name_in_any_case(store: Arc<dyn Store>) {
    let org = organization(&store, "Listed").await;
    let other = organization(&store, "Elsewhere").await;
    let made: Vec<TeamId> = [
        stored_team(&store, &org.id, "Alpha").await,
        stored_team(&store, &org.id, "Beta").await,
        stored_team(&store, &org.id, "Gamma").await,
    ]
    .into_iter()
    .map(|team| team.id)
    .collect();
    stored_team(&store, &other.id, "Alpha").await;
    let page = |items, number| {
        let (store, org) = (store.clone(), org.id.clone());
        async move {
            let page = store
                .list_teams(&org, PageRequest::new(Some(items), Some(number)))
                .await
                .unwrap();
            let ids: Vec<TeamId> = page.items.into_iter().map(|team| team.id).collect();
            (ids, page.total_count)
        }
    };
    assert_eq!(page(10, 1).await, (made.clone(), 3));
    assert_eq!(page(2, 2).await, (vec![made[2].clone()], 3));

    let found = |org: OrgId, name: &str| {
        let (store, name) = (store.clone(), TeamName::parse(name).unwrap());
        async move { store.find_team_by_name(&org, &name).await.unwrap() }
    };
    assert_eq!(
        found(org.id.clone(), "bETA").await.map(|team| team.id),
        Some(made[1].clone())
    );
    assert!(found(org.id.clone(), "Delta").await.is_none());
    assert_ne!(
        found(other.id.clone(), "ALPHA").await.map(|team| team.id),
        Some(made[0].clone())
    );
}
