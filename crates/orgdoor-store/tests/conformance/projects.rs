//! Projects (groups): paged in creation order, updated in place, found by name; the teams
//! with roles in them.

use std::sync::Arc;

use orgdoor_domain::{GroupRole, GroupRoles, GroupUpdate, OrgId, PageRequest, ProjectName, TeamId};
use orgdoor_store::{ProjectTeam, Rejection, Store};

use crate::fixtures::{NOW, organization, rejection, stored_project, stored_team};

on_every_store!(
    pages_are_ordered_by_creation_and_counted,
    projects_are_found_by_name_in_their_organization,
    teams_get_roles_in_a_project_all_or_none,
);

async fn pages_are_ordered_by_creation_and_counted(store: Arc<dyn Store>) {
    let org = organization(&store, "Paged").await;
    let mut made = Vec::new();
    for n in 0..5 {
        made.push(stored_project(&store, &org.id, &format!("p{n}")).await.id);
    }
    let first = store
        .list_groups(&org.id, PageRequest::new(Some(2), Some(1)))
        .await
        .unwrap();
    let third = store
        .list_groups(&org.id, PageRequest::new(Some(2), Some(3)))
        .await
        .unwrap();
    let past = store
        .list_groups(&org.id, PageRequest::new(Some(2), Some(9)))
        .await
        .unwrap();
    assert_eq!(first.total_count, 5);
    assert_eq!(
        first.items.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
        made[..2]
    );
    assert_eq!(
        third.items.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
        made[4..]
    );
    assert!(past.items.is_empty());
    let updated = store
        .update_group(
            &made[0],
            GroupUpdate {
                name: Some(ProjectName::parse("renamed").unwrap()),
                ..GroupUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name.as_str(), "renamed");
    assert_eq!(store.get_group(&made[0]).await.unwrap().unwrap(), updated);
}

/// A project found by its name in any case, in its own organization only.
async fn projects_are_found_by_name_in_their_organization(store: Arc<dyn Store>) {
    let org = organization(&store, "Named").await;
    let other = organization(&store, "Elsewhere").await;
    let project = stored_project(&store, &org.id, "Payments").await;
    let find = |org: OrgId, name: &str| {
        let (store, name) = (store.clone(), ProjectName::parse(name).unwrap());
        async move { store.find_group_by_name(&org, &name).await.unwrap() }
    };
    assert_eq!(find(org.id.clone(), "pAYMENTS").await, Some(project));
    assert!(find(org.id.clone(), "Ledger").await.is_none());
    assert!(find(other.id.clone(), "Payments").await.is_none());
}

/// Teams get roles in a project all or none, keep their place when their roles change, and
/// come off one at a time; a team of another organization is refused by name.
async fn teams_get_roles_in_a_project_all_or_none(store: Arc<dyn Store>) {
    let org = organization(&store, "Teams").await;
    let other = organization(&store, "Elsewhere").await;
    let project = stored_project(&store, &org.id, "Payments").await;
    let alpha = stored_team(&store, &org.id, "Alpha").await.id;
    let beta = stored_team(&store, &org.id, "Beta").await.id;
    let foreign = stored_team(&store, &other.id, "Foreign").await.id;
    let roles = |role| GroupRoles::single(role);
    let grant = |team: &TeamId, role| ProjectTeam {
        team_id: team.clone(),
        roles: roles(role),
    };
    let listed = || async { store.list_project_teams(&project.id).await.unwrap() };

    let first = [
        grant(&alpha, GroupRole::ReadOnly),
        grant(&beta, GroupRole::Owner),
    ];
    store
        .assign_project_teams(&project.id, &first, NOW)
        .await
        .unwrap();
    assert_eq!(listed().await, first);

    // A refused team leaves the others as they were.
    let refused = [
        grant(&alpha, GroupRole::Owner),
        grant(&foreign, GroupRole::Owner),
    ];
    assert_eq!(
        rejection(store.assign_project_teams(&project.id, &refused, NOW).await),
        Rejection::TeamNotInOrg {
            team: foreign.clone(),
            org: org.id.clone()
        }
    );
    assert_eq!(listed().await, first);

    store
        .assign_project_teams(&project.id, &[grant(&alpha, GroupRole::Owner)], NOW)
        .await
        .unwrap();
    assert_eq!(
        listed().await,
        [
            grant(&alpha, GroupRole::Owner),
            grant(&beta, GroupRole::Owner)
        ]
    );

    store.remove_project_team(&project.id, &beta).await.unwrap();
    assert_eq!(
        rejection(store.remove_project_team(&project.id, &beta).await),
        Rejection::TeamNotFound(beta.clone())
    );
    assert_eq!(listed().await, [grant(&alpha, GroupRole::Owner)]);
}
