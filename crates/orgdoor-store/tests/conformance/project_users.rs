//! A project's users and its invitations: someone is added to a project as an invitee of the
//! organization or, when already a member, at once; their roles there change and always keep
//! one; removing a pending user cancels only what the project asked for; the project's list
//! reaches through teams and organization roles when asked.

use std::sync::Arc;

use orgdoor_domain::{
    Group, GroupId, GroupRole, GroupRoleAssignment, GroupRoles, MembershipStatus, NewInvitation,
    OrgRole, OrgRoles, OrgUser, Organization, PageRequest, ProjectRoleChange, TeamId, UserId,
};
use orgdoor_store::{
    InvitationSelector, OrgUserFilter, ProjectAddition, ProjectFilter, Rejection, Store,
    WhenPending,
};
use time::Duration;

use crate::fixtures::{
    NOW, ProjectUsers, accept, invitation, invite, invited, member, org_user, organization,
    pending_invitations, rejection, statuses, stored_project, stored_team,
};

on_every_store!(
    project_invitations_follow_the_invitation_rules,
    project_users_are_members_and_invitees_with_roles_there,
    removing_a_pending_project_user_cancels_what_only_the_project_asked_for,
    project_role_changes_keep_at_least_one_role,
    projects_users_lists_reach_through_teams_and_org_roles_when_asked,
);

/// The organization these tests take place in, with its projects P and Q.
async fn projects_p_and_q(store: &Arc<dyn Store>) -> (Organization, Group, Group) {
    let org = organization(store, "Projects").await;
    let group = stored_project(store, &org.id, "P").await;
    let other = stored_project(store, &org.id, "Q").await;
    (org, group, other)
}

/// Removes `user` from `group` (with `members_only`, as the deprecated version does).
async fn remove(
    store: &Arc<dyn Store>,
    group: &GroupId,
    user: &UserId,
    members_only: bool,
) -> Result<(), orgdoor_store::StoreError> {
    store.remove_project_user(group, user, members_only).await
}

/// Every invitation into `group` pending at `at`, through the project invitations API.
async fn project_invitations(
    store: &Arc<dyn Store>,
    group: &GroupId,
    at: time::OffsetDateTime,
) -> Vec<orgdoor_domain::ProjectInvitation> {
    store
        .list_pending_project_invitations(group, None, at)
        .await
        .unwrap()
}

async fn project_invitations_follow_the_invitation_rules(store: Arc<dyn Store>) {
    let (org, group, other) = projects_p_and_q(&store).await;
    let in_group = ProjectUsers::of(&store, &group);
    let invite = ProjectAddition::Invitation;
    let first = in_group
        .invitee("ada@example.com", GroupRole::ReadOnly, invite, NOW)
        .await;
    // One record: the organization's invitation, offering membership and the project's roles.
    assert_eq!(first.roles, OrgRoles::single(OrgRole::Member));
    assert_eq!(
        pending_invitations(&store, &org.id, NOW).await,
        vec![first.clone()]
    );
    let later = NOW + Duration::days(1);
    let renewed = in_group
        .invitee("ADA@example.com", GroupRole::Owner, invite, later)
        .await;
    assert_eq!(renewed.id, first.id);
    assert_eq!(renewed.user_id, first.user_id);
    assert_eq!(renewed.created_at, later);
    let seen = project_invitations(&store, &group.id, later).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].id, first.id);
    assert_eq!(seen[0].roles, GroupRoles::single(GroupRole::Owner));
    assert_eq!(seen[0].created_at, later);
    assert!(
        project_invitations(&store, &other.id, later)
            .await
            .is_empty()
    );
    assert!(
        store
            .get_pending_project_invitation(&other.id, &first.id, later)
            .await
            .unwrap()
            .is_none()
    );

    let roles = GroupRoles::new([GroupRole::ClusterManager, GroupRole::ReadOnly]).unwrap();
    let selector = InvitationSelector::Username("ada@example.com".parse().unwrap());
    let update = |group: &GroupId, at| {
        let (store, group, selector, roles) = (
            store.clone(),
            group.clone(),
            selector.clone(),
            roles.clone(),
        );
        async move {
            store
                .update_pending_project_invitation(&group, &selector, &roles, at)
                .await
        }
    };
    let updated = update(&group.id, later).await.unwrap();
    assert_eq!(updated.roles, roles);
    assert_eq!(updated.expires_at, renewed.expires_at);
    assert_eq!(
        rejection(update(&other.id, later).await),
        Rejection::InvitationNotFound(selector.clone())
    );
    let expired = renewed.expires_at;
    assert_eq!(
        rejection(update(&group.id, expired).await),
        Rejection::InvitationExpired
    );
    let delete = |at| store.delete_pending_project_invitation(&group.id, &first.id, at);
    assert_eq!(
        rejection(delete(expired).await),
        Rejection::InvitationNotFound(InvitationSelector::Id(first.id.clone()))
    );
    delete(later).await.unwrap();
    assert!(
        project_invitations(&store, &group.id, later)
            .await
            .is_empty()
    );
    // It only brought Ada into the project: the organization's invitation went with it.
    assert!(pending_invitations(&store, &org.id, later).await.is_empty());

    let missing = Group {
        id: GroupId::generate(NOW),
        ..group.clone()
    };
    assert!(matches!(
        rejection(
            ProjectUsers::of(&store, &missing)
                .add("bob@example.com", GroupRole::Owner, invite, NOW)
                .await
        ),
        Rejection::GroupNotFound(_)
    ));
    // A member cannot be invited; the other additions give them the roles at once.
    let member = member(&store, &org.id, "cy@example.com").await;
    assert_eq!(
        rejection(
            in_group
                .add("cy@example.com", GroupRole::Owner, invite, NOW)
                .await
        ),
        Rejection::UsernameTaken("cy@example.com".parse().unwrap())
    );
    let granted = in_group
        .add(
            "cy@example.com",
            GroupRole::Owner,
            ProjectAddition::Access,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(granted.id(), member.id());
    assert_eq!(
        granted.roles_in(&group.id),
        Some(GroupRoles::single(GroupRole::Owner))
    );
}

async fn project_users_are_members_and_invitees_with_roles_there(store: Arc<dyn Store>) {
    let (org, group, other) = projects_p_and_q(&store).await;
    let in_group = ProjectUsers::of(&store, &group);
    let new_user = ProjectAddition::NewUser;
    // A stranger is invited into the organization and the project.
    let pending = in_group
        .invitee("ada@example.com", GroupRole::ReadOnly, new_user, NOW)
        .await;
    assert_eq!(pending.roles, OrgRoles::single(OrgRole::Member));
    assert_eq!(
        rejection(
            in_group
                .add("ada@example.com", GroupRole::Owner, new_user, NOW)
                .await
        ),
        Rejection::UsernameTaken("ada@example.com".parse().unwrap())
    );
    // A pending invitation of the organization takes the project's roles, keeping the rest.
    let offered = NewInvitation {
        roles: OrgRoles::single(OrgRole::Owner),
        group_role_assignments: vec![GroupRoleAssignment {
            group_id: other.id.clone(),
            role: GroupRole::Owner,
        }],
        ..invitation(&org.id, "bob@example.com")
    };
    let org_invite = invite(&store, offered, WhenPending::Refuse, NOW).await;
    let later = NOW + Duration::hours(1);
    let bob = in_group
        .invitee("bob@example.com", GroupRole::Owner, new_user, later)
        .await;
    assert_eq!(bob.id, org_invite.id);
    assert_eq!(bob.created_at, NOW, "an addition is no new invitation");
    assert_eq!(bob.roles, OrgRoles::single(OrgRole::Owner));
    assert_eq!(bob.group_role_assignments.len(), 2);
    // A member gets the roles at once; a member already in the project is refused.
    let cy = member(&store, &org.id, "cy@example.com").await;
    let cy_in = in_group
        .add("cy@example.com", GroupRole::ReadOnly, new_user, NOW)
        .await
        .unwrap();
    assert!(matches!(cy_in, OrgUser::Member(_)));
    assert_eq!(
        rejection(
            in_group
                .add("cy@example.com", GroupRole::Owner, new_user, NOW)
                .await
        ),
        Rejection::UsernameTaken("cy@example.com".parse().unwrap())
    );
    member(&store, &org.id, "dee@example.com").await;
    assert_eq!(
        in_group.listed().await,
        vec![
            ("cy@example.com".to_owned(), vec![GroupRole::ReadOnly]),
            ("ada@example.com".to_owned(), vec![GroupRole::ReadOnly]),
            ("bob@example.com".to_owned(), vec![GroupRole::Owner]),
        ]
    );
    // Accepting makes the invitee an active user of the project with the roles.
    let accepted = accept(
        &store,
        &org.id,
        InvitationSelector::UserId(pending.user_id.clone()),
    )
    .await;
    assert!(matches!(accepted, OrgUser::Member(_)));
    assert_eq!(accepted.id(), &pending.user_id);
    assert_eq!(accepted.roles(), &OrgRoles::single(OrgRole::Member));
    assert_eq!(in_group.listed().await[0].0, "ada@example.com");
    // An expired invitation gives way to a new one, for the same person.
    let expired = NOW + Duration::days(30);
    let eve = in_group
        .invitee("eve@example.com", GroupRole::Owner, new_user, NOW)
        .await;
    let again = in_group
        .invitee("eve@example.com", GroupRole::Owner, new_user, expired)
        .await;
    assert_ne!(again.id, eve.id);
    assert_eq!(again.user_id, eve.user_id);
    // Removing: a member loses the project's roles, not the organization.
    remove(&store, &group.id, cy.id(), false).await.unwrap();
    let cy_now = org_user(&store, &org.id, cy.id()).await;
    assert_eq!(cy_now.roles_in(&group.id), None);
    let not_in_group = |user: &UserId| Rejection::UserNotInGroup {
        user: user.to_string(),
        group: group.id.clone(),
    };
    assert_eq!(
        rejection(remove(&store, &group.id, cy.id(), false).await),
        not_in_group(cy.id())
    );
    // The deprecated version removes members only.
    assert_eq!(
        rejection(remove(&store, &group.id, &bob.user_id, true).await),
        not_in_group(&bob.user_id)
    );
    let stranger = UserId::generate(NOW);
    assert_eq!(
        rejection(remove(&store, &group.id, &stranger, false).await),
        not_in_group(&stranger)
    );
}

async fn removing_a_pending_project_user_cancels_what_only_the_project_asked_for(
    store: Arc<dyn Store>,
) {
    let (org, group, other) = projects_p_and_q(&store).await;
    let (in_group, in_other) = (
        ProjectUsers::of(&store, &group),
        ProjectUsers::of(&store, &other),
    );
    let access = ProjectAddition::Access;
    let ada = in_group
        .invitee("ada@example.com", GroupRole::Owner, access, NOW)
        .await;
    let bob = in_group
        .invitee("bob@example.com", GroupRole::Owner, access, NOW)
        .await;
    in_other
        .add("bob@example.com", GroupRole::ReadOnly, access, NOW)
        .await
        .unwrap();
    remove(&store, &group.id, &ada.user_id, false)
        .await
        .unwrap();
    remove(&store, &group.id, &bob.user_id, false)
        .await
        .unwrap();
    // Ada's invitation only brought her into P: cancelled. Bob's still brings him into Q.
    assert_eq!(
        store.get_org_user(&org.id, &ada.user_id).await.unwrap(),
        None
    );
    let bob_now = org_user(&store, &org.id, &bob.user_id).await;
    assert_eq!(bob_now.roles_in(&group.id), None);
    assert_eq!(
        bob_now.roles_in(&other.id),
        Some(GroupRoles::single(GroupRole::ReadOnly))
    );
    assert_eq!(invited(bob_now).id, bob.id);
    // The same through the project invitations.
    store
        .delete_pending_project_invitation(&other.id, &bob.id, NOW)
        .await
        .unwrap();
    assert_eq!(
        store.get_org_user(&org.id, &bob.user_id).await.unwrap(),
        None
    );
    // An invitation with more in it than the project keeps the rest.
    let offered = NewInvitation {
        roles: OrgRoles::single(OrgRole::Owner),
        ..invitation(&org.id, "cy@example.com")
    };
    let owner = invite(&store, offered, WhenPending::Refuse, NOW).await;
    in_group
        .add("cy@example.com", GroupRole::Owner, access, NOW)
        .await
        .unwrap();
    remove(&store, &group.id, &owner.user_id, false)
        .await
        .unwrap();
    let kept = invited(org_user(&store, &org.id, &owner.user_id).await);
    assert_eq!(kept.roles, OrgRoles::single(OrgRole::Owner));
    assert!(kept.group_role_assignments.is_empty());
}

async fn project_role_changes_keep_at_least_one_role(store: Arc<dyn Store>) {
    let (org, group, other) = projects_p_and_q(&store).await;
    let (in_group, in_other) = (
        ProjectUsers::of(&store, &group),
        ProjectUsers::of(&store, &other),
    );
    let access = ProjectAddition::Access;
    let pending = in_group
        .add("ada@example.com", GroupRole::ReadOnly, access, NOW)
        .await
        .unwrap();
    in_other
        .add("ada@example.com", GroupRole::Owner, access, NOW)
        .await
        .unwrap();
    let bob = member(&store, &org.id, "bob@example.com").await;
    in_group
        .add("bob@example.com", GroupRole::ReadOnly, access, NOW)
        .await
        .unwrap();
    for user in [pending.id(), bob.id()] {
        let change = |change| store.change_project_user_roles(&group.id, user, change, NOW);
        let added = change(ProjectRoleChange::Add(GroupRole::Owner))
            .await
            .unwrap();
        assert_eq!(
            added.roles_in(&group.id),
            GroupRoles::new([GroupRole::ReadOnly, GroupRole::Owner])
        );
        let again = change(ProjectRoleChange::Add(GroupRole::Owner))
            .await
            .unwrap();
        assert_eq!(again.roles_in(&group.id), added.roles_in(&group.id));
        let removed = change(ProjectRoleChange::Remove(GroupRole::ReadOnly))
            .await
            .unwrap();
        assert_eq!(
            removed.roles_in(&group.id),
            Some(GroupRoles::single(GroupRole::Owner))
        );
        assert_eq!(
            rejection(change(ProjectRoleChange::Remove(GroupRole::Owner)).await),
            Rejection::LastRole
        );
        let replaced = change(ProjectRoleChange::Replace(GroupRoles::single(
            GroupRole::BackupManager,
        )))
        .await
        .unwrap();
        assert_eq!(
            replaced.roles_in(&group.id),
            Some(GroupRoles::single(GroupRole::BackupManager))
        );
    }
    // Ada's roles elsewhere were left alone.
    let ada = org_user(&store, &org.id, pending.id()).await;
    assert_eq!(
        ada.roles_in(&other.id),
        Some(GroupRoles::single(GroupRole::Owner))
    );
    // Not a user of the project, or not in the organization at all.
    let outsider = member(&store, &org.id, "cy@example.com").await;
    for user in [outsider.id().clone(), UserId::generate(NOW)] {
        assert_eq!(
            rejection(
                store
                    .change_project_user_roles(
                        &group.id,
                        &user,
                        ProjectRoleChange::Add(GroupRole::Owner),
                        NOW
                    )
                    .await
            ),
            Rejection::UserNotInGroup {
                user: user.to_string(),
                group: group.id.clone()
            }
        );
    }
}

async fn projects_users_lists_reach_through_teams_and_org_roles_when_asked(store: Arc<dyn Store>) {
    let org = organization(&store, "Projects").await;
    let group = stored_project(&store, &org.id, "P").await;
    let team = stored_team(&store, &org.id, "T").await;
    let direct = member(&store, &org.id, "ada@example.com").await;
    ProjectUsers::of(&store, &group)
        .add(
            "ada@example.com",
            GroupRole::ReadOnly,
            ProjectAddition::Access,
            NOW,
        )
        .await
        .unwrap();
    let teammate = member(&store, &org.id, "bob@example.com").await;
    store
        .add_team_members(&org.id, &team.id, &[teammate.id().clone()], NOW)
        .await
        .unwrap();
    let owner_invite = NewInvitation {
        roles: OrgRoles::single(OrgRole::Owner),
        ..invitation(&org.id, "cy@example.com")
    };
    invite(&store, owner_invite, WhenPending::Refuse, NOW).await;
    let listed = |teams: Vec<TeamId>, org_roles: Vec<OrgRole>| {
        let filter = OrgUserFilter {
            project: Some(ProjectFilter {
                group: group.id.clone(),
                teams,
                org_roles,
            }),
            ..statuses(&MembershipStatus::DEFAULT)
        };
        let store = store.clone();
        let org = org.id.clone();
        async move {
            store
                .list_org_users(&org, &filter, PageRequest::new(None, None), NOW)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|user| user.username().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(vec![], vec![]).await, vec!["ada@example.com"]);
    assert_eq!(
        listed(vec![team.id.clone()], vec![]).await,
        vec!["ada@example.com", "bob@example.com"]
    );
    assert_eq!(
        listed(vec![], vec![OrgRole::Owner, OrgRole::ReadOnly]).await,
        vec!["ada@example.com", "cy@example.com"]
    );
    assert_eq!(direct.roles_in(&group.id), None, "read before the addition");
}
