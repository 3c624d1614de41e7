//! Every storage behaviour the API relies on, written once against `&dyn Store` and run on each
//! real backend: a SQLite file in a temporary directory and a fresh PostgreSQL schema.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use orgdoor_domain::{
    AccessToken, AllowedNetwork, ApiKey, ClientId, DigestHa1, EmailAddress, Group, GroupId,
    GroupRole, GroupRoleAssignment, GroupRoles, GroupUpdate, Invitation, MembershipStatus,
    MembershipUpdate, NewApiKey, NewGroup, NewInvitation, NewOrganization, NewTeam, OrgId, OrgName,
    OrgRole, OrgRoles, OrgUser, Organization, PageRequest, ProfileChoices, ProjectGrant,
    ProjectName, ProjectRoleChange, PublicKey, RoleChange, ServiceAccount, ServiceAccountSecret,
    Team, TeamName, UserId,
};
use orgdoor_store::{
    Credential, InvitationAnswer, InvitationSelector, OrgUserFilter, ProjectAddition,
    ProjectFilter, Rejection, Store, StoreError, UserSelector, WhenPending,
};
use orgdoor_test_db::{Backend, TestDatabase};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-08-10 03:03:37 UTC);

async fn open(backend: Backend) -> (Arc<dyn Store>, TestDatabase) {
    let database = TestDatabase::new(backend).await;
    (
        orgdoor_store::connect(&database.url, &orgdoor_store::SecretsKey::generate())
            .await
            .unwrap(),
        database,
    )
}

/// Runs each behaviour on every backend: `sqlite_store::name` and `postgres_store::name`.
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
    api_keys_hold_roles_in_projects_of_their_organization,
    a_shared_secret_is_created_once,
    api_keys_are_found_by_public_key_with_their_credential,
    team_names_are_unique_per_organization_ignoring_case,
    pages_are_ordered_by_creation_and_counted,
    invitations_round_trip_with_teams_and_project_roles,
    listed_invitations_keep_every_character_and_their_order,
    one_pending_invitation_per_address_and_expired_ones_give_way,
    references_are_checked_inside_the_transaction,
    updates_and_deletes_see_only_pending_invitations,
    deleting_a_team_or_project_removes_it_from_invitations,
    concurrent_invitations_to_one_address_leave_exactly_one,
    concurrent_updates_of_one_invitation_lose_no_field,
    only_one_of_many_first_starts_creates_an_organization,
    api_keys_are_managed_within_their_organization,
    project_invitations_follow_the_invitation_rules,
    project_users_are_members_and_invitees_with_roles_there,
    removing_a_pending_project_user_cancels_what_only_the_project_asked_for,
    project_role_changes_keep_at_least_one_role,
    projects_users_lists_reach_through_teams_and_org_roles_when_asked,
    service_accounts_hold_secrets_tokens_and_access_lists,
    accepting_makes_a_member_with_everything_the_invitation_offered,
    declining_and_expiry_show_as_statuses_and_give_way_to_a_new_invitation,
    org_users_are_listed_members_first_then_by_status_and_address,
    role_changes_are_atomic_and_keep_at_least_one_role,
    teams_take_members_only_and_lose_them_with_the_membership,
    concurrent_role_changes_of_one_member_lose_none,
    members_and_invitees_join_and_leave_teams_one_at_a_time,
);

/// Invites `username` into `org` and accepts on their behalf.
async fn member(store: &Arc<dyn Store>, org: &OrgId, username: &str) -> OrgUser {
    let invited = invitation(org, username).into_invitation(NOW);
    store
        .invite(&invited, WhenPending::Refuse, NOW)
        .await
        .unwrap();
    store
        .answer_invitation(
            org,
            &InvitationSelector::Id(invited.id),
            InvitationAnswer::Accept(ProfileChoices::default()),
            NOW,
        )
        .await
        .unwrap()
}

fn statuses(all: &[MembershipStatus]) -> OrgUserFilter {
    OrgUserFilter {
        statuses: all.to_vec(),
        username: None,
        user_id: None,
        team: None,
        project: None,
    }
}

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
    let offered = offered.into_invitation(NOW);
    store
        .invite(&offered, WhenPending::Refuse, NOW)
        .await
        .unwrap();
    let accepted = store
        .answer_invitation(
            &org.id,
            &InvitationSelector::UserId(offered.user_id.clone()),
            InvitationAnswer::Accept(ProfileChoices::default()),
            NOW,
        )
        .await
        .unwrap();
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
    assert!(
        store
            .list_pending_invitations(&org.id, None, NOW)
            .await
            .unwrap()
            .is_empty()
    );
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
        Rejection::InvitationNotFound
    );
    for when_pending in [WhenPending::Renew, WhenPending::Refuse] {
        let again = invitation(&org.id, "ada@example.com").into_invitation(NOW);
        assert_eq!(
            rejection(store.invite(&again, when_pending, NOW).await),
            Rejection::UsernameTaken(again.username.clone())
        );
    }
    // One person, one id: another organization's invitation is to the same user.
    let other = organization(&store, "Other").await;
    let elsewhere = store
        .invite(
            &invitation(&other.id, "ada@example.com").into_invitation(NOW),
            WhenPending::Refuse,
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
    let declined = invitation(&org.id, "bob@example.com").into_invitation(NOW);
    store
        .invite(&declined, WhenPending::Refuse, NOW)
        .await
        .unwrap();
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
        store
            .get_org_user(&org.id, &declined.user_id)
            .await
            .unwrap()
            .map(|user| user.status(NOW)),
        Some(MembershipStatus::InvitationRejected)
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

    let expiring = invitation(&org.id, "cy@example.com").into_invitation(NOW);
    store
        .invite(&expiring, WhenPending::Refuse, NOW)
        .await
        .unwrap();
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
        let stored = store.invite(&fresh, WhenPending::Refuse, at).await.unwrap();
        assert_eq!(stored.id, fresh.id);
        assert_eq!(
            stored.user_id, previous.user_id,
            "the person keeps their id"
        );
        assert_eq!(
            rejection(store.invite(&fresh, WhenPending::Refuse, at).await),
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
        store
            .invite(&offered.into_invitation(NOW), WhenPending::Refuse, NOW)
            .await
            .unwrap();
    }
    let expiring = invitation(&org.id, "old@example.com").into_invitation(NOW - Duration::days(31));
    store
        .invite(&expiring, WhenPending::Refuse, NOW - Duration::days(31))
        .await
        .unwrap();
    // Other organizations' users never show.
    let other = organization(&store, "Other").await;
    member(&store, &other.id, "amy@example.com").await;

    let listed = |filter: OrgUserFilter, page: PageRequest| {
        let store = store.clone();
        let org = org.id.clone();
        async move {
            let page = store
                .list_org_users(&org, &filter, page, NOW)
                .await
                .unwrap();
            let names: Vec<String> = page
                .items
                .iter()
                .map(|user| user.username().to_string())
                .collect();
            (names, page.total_count)
        }
    };
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

async fn role_changes_are_atomic_and_keep_at_least_one_role(store: Arc<dyn Store>) {
    let org = organization(&store, "Acme").await;
    let pending = invitation(&org.id, "bea@example.com").into_invitation(NOW);
    store
        .invite(&pending, WhenPending::Refuse, NOW)
        .await
        .unwrap();
    let active = member(&store, &org.id, "amy@example.com").await;
    for id in [&pending.user_id, active.id()] {
        let changed = store
            .change_org_user_role(&org.id, id, RoleChange::Add(OrgRole::Owner), NOW)
            .await
            .unwrap();
        assert_eq!(
            changed.roles().as_slice(),
            &[OrgRole::Member, OrgRole::Owner]
        );
        store
            .change_org_user_role(&org.id, id, RoleChange::Remove(OrgRole::Member), NOW)
            .await
            .unwrap();
        assert_eq!(
            rejection(
                store
                    .change_org_user_role(&org.id, id, RoleChange::Remove(OrgRole::Owner), NOW)
                    .await
            ),
            Rejection::LastRole
        );
        let stored = store.get_org_user(&org.id, id).await.unwrap().unwrap();
        assert_eq!(stored.roles(), &OrgRoles::single(OrgRole::Owner));
    }
    // The invitations API sees the pending user's new roles: one state, two views.
    let seen = store
        .get_pending_invitation(&org.id, &pending.id, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.roles, OrgRoles::single(OrgRole::Owner));
}

async fn teams_take_members_only_and_lose_them_with_the_membership(store: Arc<dyn Store>) {
    let org = organization(&store, "Acme").await;
    let team = stored_team(&store, &org.id, "Platform").await;
    let active = member(&store, &org.id, "amy@example.com").await;
    let pending = invitation(&org.id, "bea@example.com").into_invitation(NOW);
    store
        .invite(&pending, WhenPending::Refuse, NOW)
        .await
        .unwrap();
    let stranger: orgdoor_domain::UserId = "5f0000000000000000000001".parse().unwrap();

    assert_eq!(
        rejection(
            store
                .add_team_members(
                    &org.id,
                    &team.id,
                    std::slice::from_ref(&pending.user_id),
                    NOW
                )
                .await
        ),
        Rejection::PendingUser(pending.user_id.to_string())
    );
    assert!(matches!(
        rejection(
            store
                .add_team_members(&org.id, &team.id, std::slice::from_ref(&stranger), NOW)
                .await
        ),
        Rejection::UserNotInOrg { .. }
    ));
    // All or none: the member listed before the stranger was not added either.
    assert!(matches!(
        rejection(
            store
                .add_team_members(&org.id, &team.id, &[active.id().clone(), stranger], NOW)
                .await
        ),
        Rejection::UserNotInOrg { .. }
    ));
    assert!(
        store
            .get_org_user(&org.id, active.id())
            .await
            .unwrap()
            .unwrap()
            .team_ids()
            .is_empty()
    );

    store
        .add_team_members(&org.id, &team.id, &[active.id().clone()], NOW)
        .await
        .unwrap();
    assert_eq!(
        rejection(
            store
                .add_team_members(&org.id, &team.id, &[active.id().clone()], NOW)
                .await
        ),
        Rejection::AlreadyInTeam {
            user: active.id().clone(),
            team: team.id.clone()
        }
    );
    assert_eq!(
        store
            .get_org_user(&org.id, active.id())
            .await
            .unwrap()
            .unwrap()
            .team_ids(),
        std::slice::from_ref(&team.id)
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
    let named = NewTeam {
        org_id: org.id.clone(),
        name: TeamName::parse("Named").unwrap(),
    }
    .into_team(NOW);
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
        store
            .get_org_user(&org.id, active.id())
            .await
            .unwrap()
            .unwrap()
            .team_ids(),
        std::slice::from_ref(&named.id)
    );
    store.delete_team(&org.id, &named.id).await.unwrap();
    assert!(
        store
            .get_org_user(&org.id, active.id())
            .await
            .unwrap()
            .unwrap()
            .team_ids()
            .is_empty()
    );
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
    let stored = store
        .get_org_user(&org.id, active.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.roles().as_slice().len(), OrgRole::ALL.len());
}

async fn organization(store: &Arc<dyn Store>, name: &str) -> Organization {
    let organization = NewOrganization {
        name: OrgName::parse(name).unwrap(),
        skip_default_alerts_settings: false,
    }
    .into_organization(NOW);
    store
        .create_organization(&organization, &[], None)
        .await
        .unwrap();
    organization
}

async fn stored_team(store: &Arc<dyn Store>, org: &OrgId, name: &str) -> Team {
    let team = NewTeam {
        org_id: org.clone(),
        name: TeamName::parse(name).unwrap(),
    }
    .into_team(NOW);
    store.create_team(&team, &[]).await.unwrap();
    team
}

async fn stored_project(store: &Arc<dyn Store>, org: &OrgId, name: &str) -> Group {
    let group = NewGroup {
        org_id: org.clone(),
        name: ProjectName::parse(name).unwrap(),
        tags: vec![],
        with_default_alerts_settings: true,
    }
    .into_group(NOW);
    store.create_group(&group, None).await.unwrap();
    group
}

fn invitation(org: &OrgId, username: &str) -> NewInvitation {
    NewInvitation {
        org_id: org.clone(),
        username: username.parse::<EmailAddress>().unwrap(),
        roles: OrgRoles::single(OrgRole::Member),
        team_ids: vec![],
        group_role_assignments: vec![],
        inviter_username: "abcdefgh".into(),
    }
}

fn rejection(result: Result<impl std::fmt::Debug, StoreError>) -> Rejection {
    match result {
        Err(StoreError::Rejected(rejection)) => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

async fn a_shared_secret_is_created_once(store: Arc<dyn Store>) {
    let first = store
        .shared_secret("nonce", &|| vec![1, 2, 3])
        .await
        .unwrap();
    let second = store
        .shared_secret("nonce", &|| vec![9, 9, 9])
        .await
        .unwrap();
    assert_eq!(first, vec![1, 2, 3]);
    assert_eq!(second, first);
    assert_eq!(
        store.shared_secret("other", &|| vec![7]).await.unwrap(),
        vec![7]
    );
}

async fn api_keys_are_found_by_public_key_with_their_credential(store: Arc<dyn Store>) {
    let org = organization(&store, "Keys").await;
    let public_key = PublicKey::generate();
    let (key, ha1): (ApiKey, DigestHa1) = NewApiKey {
        org_id: org.id.clone(),
        public_key: public_key.clone(),
        ha1: DigestHa1([42; 16]),
        description: "ci".into(),
        roles: OrgRoles::new([OrgRole::Member, OrgRole::ReadOnly]).unwrap(),
        project_roles: Vec::new(),
    }
    .into_api_key(NOW);
    store.create_api_key(&key, &ha1).await.unwrap();
    let found = store.find_api_key(&public_key).await.unwrap().unwrap();
    assert_eq!(found.key, key);
    assert_eq!(found.ha1, ha1);
    assert!(found.access_list.is_empty());
    assert_eq!(
        found.organization, org,
        "the key's organization comes along"
    );
    assert!(
        store
            .find_api_key(&PublicKey::generate())
            .await
            .unwrap()
            .is_none()
    );

    let (orphan, orphan_ha1) = NewApiKey {
        org_id: OrgId::generate(NOW),
        public_key: PublicKey::generate(),
        ha1: DigestHa1([0; 16]),
        description: String::new(),
        roles: OrgRoles::single(OrgRole::Owner),
        project_roles: Vec::new(),
    }
    .into_api_key(NOW);
    assert_eq!(
        rejection(store.create_api_key(&orphan, &orphan_ha1).await),
        Rejection::OrganizationNotFound
    );
}

async fn team_names_are_unique_per_organization_ignoring_case(store: Arc<dyn Store>) {
    let first = organization(&store, "First").await;
    let second = organization(&store, "Second").await;
    let team = |org: &OrgId, name: &str| {
        NewTeam {
            org_id: org.clone(),
            name: TeamName::parse(name).unwrap(),
        }
        .into_team(NOW)
    };
    store
        .create_team(&team(&first.id, "Platform"), &[])
        .await
        .unwrap();
    assert_eq!(
        rejection(store.create_team(&team(&first.id, "PLATFORM"), &[]).await),
        Rejection::TeamNameTaken("PLATFORM".into())
    );
    store
        .create_team(&team(&second.id, "Platform"), &[])
        .await
        .unwrap();
    let other = team(&first.id, "Data");
    store.create_team(&other, &[]).await.unwrap();
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
        Rejection::NotFound
    );
}

async fn pages_are_ordered_by_creation_and_counted(store: Arc<dyn Store>) {
    let org = organization(&store, "Paged").await;
    let mut made = Vec::new();
    for n in 0..5 {
        let group = NewGroup {
            org_id: org.id.clone(),
            name: ProjectName::parse(format!("p{n}")).unwrap(),
            tags: vec![],
            with_default_alerts_settings: true,
        }
        .into_group(NOW);
        store.create_group(&group, None).await.unwrap();
        made.push(group.id);
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
        let invitation = new.into_invitation(NOW);
        store
            .invite(&invitation, WhenPending::Renew, NOW)
            .await
            .unwrap();
        created.push(invitation);
    }
    created.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    let listed = store
        .list_pending_invitations(&org.id, None, NOW)
        .await
        .unwrap();
    assert_eq!(listed, created);
    let none = store
        .list_pending_invitations(&OrgId::generate(NOW), None, NOW)
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn invitations_round_trip_with_teams_and_project_roles(store: Arc<dyn Store>) {
    let org = organization(&store, "Round").await;
    let team = stored_team(&store, &org.id, "T").await;
    let group = stored_project(&store, &org.id, "G").await;
    let mut new = invitation(&org.id, "Ada@Example.com");
    new.team_ids = vec![team.id.clone()];
    new.group_role_assignments = vec![
        GroupRoleAssignment {
            group_id: group.id.clone(),
            role: GroupRole::ReadOnly,
        },
        GroupRoleAssignment {
            group_id: group.id.clone(),
            role: GroupRole::Owner,
        },
    ];
    let created = new.into_invitation(NOW);
    store
        .invite(&created, WhenPending::Renew, NOW)
        .await
        .unwrap();
    let fetched = store
        .get_pending_invitation(&org.id, &created.id, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fetched, created);
    let by_name = store
        .list_pending_invitations(&org.id, Some(&"ada@example.com".parse().unwrap()), NOW)
        .await
        .unwrap();
    assert_eq!(by_name, vec![created.clone()]);
    let second = invitation(&org.id, "bob@example.com").into_invitation(NOW);
    store
        .invite(&second, WhenPending::Renew, NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .list_pending_invitations(&org.id, None, NOW)
            .await
            .unwrap(),
        vec![created, second]
    );
}

async fn one_pending_invitation_per_address_and_expired_ones_give_way(store: Arc<dyn Store>) {
    let org = organization(&store, "Unique").await;
    let first = invitation(&org.id, "ada@example.com").into_invitation(NOW);
    assert_eq!(
        store.invite(&first, WhenPending::Renew, NOW).await.unwrap(),
        first
    );

    // Inviting a pending address again renews that invitation: same ids, new terms and dates.
    let later = NOW + Duration::days(3);
    let mut again = invitation(&org.id, "ADA@example.com");
    again.roles = OrgRoles::single(OrgRole::Owner);
    again.inviter_username = "zyxwvuts".into();
    let renewed = store
        .invite(&again.into_invitation(later), WhenPending::Renew, later)
        .await
        .unwrap();
    assert_eq!((&renewed.id, &renewed.user_id), (&first.id, &first.user_id));
    assert_eq!(renewed.roles, OrgRoles::single(OrgRole::Owner));
    assert_eq!(renewed.inviter_username, "zyxwvuts");
    assert_eq!(renewed.created_at, later);
    assert_eq!(renewed.expires_at, later + Duration::days(30));
    assert_eq!(
        store
            .list_pending_invitations(&org.id, None, later)
            .await
            .unwrap(),
        vec![renewed.clone()]
    );

    // Another organization may invite the same address.
    let other = organization(&store, "Other").await;
    store
        .invite(
            &invitation(&other.id, "ada@example.com").into_invitation(NOW),
            WhenPending::Renew,
            NOW,
        )
        .await
        .unwrap();

    // Once expired, a new invitation replaces it with new ids.
    let expired = renewed.expires_at;
    assert!(
        store
            .list_pending_invitations(&org.id, None, expired)
            .await
            .unwrap()
            .is_empty()
    );
    let replacement = invitation(&org.id, "ada@example.com").into_invitation(expired);
    let stored = store
        .invite(&replacement, WhenPending::Renew, expired)
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
        store
            .list_pending_invitations(&org.id, None, expired)
            .await
            .unwrap(),
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
    assert_eq!(
        rejection(
            store
                .invite(&with_team.into_invitation(NOW), WhenPending::Renew, NOW)
                .await
        ),
        Rejection::TeamNotInOrg {
            team: foreign.id.clone(),
            org: org.id.clone()
        }
    );
    let mut with_group = invitation(&org.id, "ada@example.com");
    with_group.group_role_assignments = vec![GroupRoleAssignment {
        group_id: foreign_group.id.clone(),
        role: GroupRole::Owner,
    }];
    assert_eq!(
        rejection(
            store
                .invite(&with_group.into_invitation(NOW), WhenPending::Renew, NOW)
                .await
        ),
        Rejection::GroupNotFound(foreign_group.id.clone())
    );
    // Nothing of either attempt was kept.
    assert!(
        store
            .list_pending_invitations(&org.id, None, NOW)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn updates_and_deletes_see_only_pending_invitations(store: Arc<dyn Store>) {
    let org = organization(&store, "Updates").await;
    let created: Invitation = invitation(&org.id, "ada@example.com").into_invitation(NOW);
    store
        .invite(&created, WhenPending::Renew, NOW)
        .await
        .unwrap();
    let update = || MembershipUpdate {
        roles: Some(OrgRoles::single(OrgRole::Owner)),
        ..MembershipUpdate::default()
    };
    let updated = store
        .update_pending_invitation(
            &org.id,
            &InvitationSelector::Username("ADA@example.com".parse().unwrap()),
            update(),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(updated.roles, OrgRoles::single(OrgRole::Owner));
    assert_eq!(updated.expires_at, created.expires_at);
    assert_eq!(
        store
            .get_pending_invitation(&org.id, &created.id, NOW)
            .await
            .unwrap()
            .unwrap(),
        updated
    );

    let expired = NOW + Duration::days(31);
    assert_eq!(
        rejection(
            store
                .update_pending_invitation(
                    &org.id,
                    &InvitationSelector::Id(created.id.clone()),
                    update(),
                    expired
                )
                .await
        ),
        Rejection::InvitationExpired
    );
    assert_eq!(
        rejection(
            store
                .delete_pending_invitation(&org.id, &created.id, expired)
                .await
        ),
        Rejection::InvitationNotFound
    );
    let other = organization(&store, "NotMine").await;
    assert_eq!(
        rejection(
            store
                .delete_pending_invitation(&other.id, &created.id, NOW)
                .await
        ),
        Rejection::InvitationNotFound
    );
    store
        .delete_pending_invitation(&org.id, &created.id, NOW)
        .await
        .unwrap();
    assert_eq!(
        rejection(
            store
                .update_pending_invitation(
                    &org.id,
                    &InvitationSelector::Id(created.id.clone()),
                    update(),
                    NOW
                )
                .await
        ),
        Rejection::InvitationNotFound
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
    let created = new.into_invitation(NOW);
    store
        .invite(&created, WhenPending::Renew, NOW)
        .await
        .unwrap();
    store.delete_team(&org.id, &team.id).await.unwrap();
    store.delete_group(&group.id).await.unwrap();
    let fetched = store
        .get_pending_invitation(&org.id, &created.id, NOW)
        .await
        .unwrap()
        .unwrap();
    assert!(fetched.team_ids.is_empty());
    assert!(fetched.group_role_assignments.is_empty());
}

async fn concurrent_invitations_to_one_address_leave_exactly_one(store: Arc<dyn Store>) {
    let org = organization(&store, "Race").await;
    let attempts = (0..16).map(|_| {
        let store = store.clone();
        let created = invitation(&org.id, "ada@example.com").into_invitation(NOW);
        tokio::spawn(async move { store.invite(&created, WhenPending::Renew, NOW).await })
    });
    let mut ids = std::collections::HashSet::new();
    for attempt in attempts {
        ids.insert(attempt.await.unwrap().unwrap().id);
    }
    assert_eq!(ids.len(), 1, "every caller got the one invitation");
    let pending = store
        .list_pending_invitations(&org.id, None, NOW)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert!(ids.contains(&pending[0].id));
}

async fn concurrent_updates_of_one_invitation_lose_no_field(store: Arc<dyn Store>) {
    let org = organization(&store, "Updates").await;
    let teams: Vec<_> = (0..8)
        .map(|n| {
            NewTeam {
                org_id: org.id.clone(),
                name: TeamName::parse(format!("team-{n}")).unwrap(),
            }
            .into_team(NOW)
        })
        .collect();
    for team in &teams {
        store.create_team(team, &[]).await.unwrap();
    }
    for (round, team) in teams.iter().enumerate() {
        let created = invitation(&org.id, &format!("user{round}@example.com")).into_invitation(NOW);
        store
            .invite(&created, WhenPending::Renew, NOW)
            .await
            .unwrap();
        let selector = InvitationSelector::Id(created.id.clone());
        let roles = MembershipUpdate {
            roles: Some(OrgRoles::single(OrgRole::Owner)),
            ..MembershipUpdate::default()
        };
        let team_ids = MembershipUpdate {
            team_ids: Some(vec![team.id.clone()]),
            ..MembershipUpdate::default()
        };
        let (first, second) = tokio::join!(
            {
                let store = store.clone();
                let (org, selector) = (org.id.clone(), selector.clone());
                tokio::spawn(async move {
                    store
                        .update_pending_invitation(&org, &selector, roles, NOW)
                        .await
                })
            },
            {
                let store = store.clone();
                let (org, selector) = (org.id.clone(), selector.clone());
                tokio::spawn(async move {
                    store
                        .update_pending_invitation(&org, &selector, team_ids, NOW)
                        .await
                })
            }
        );
        first.unwrap().unwrap();
        second.unwrap().unwrap();
        let result = store
            .get_pending_invitation(&org.id, &created.id, NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            result.roles,
            OrgRoles::single(OrgRole::Owner),
            "round {round}"
        );
        assert_eq!(result.team_ids, vec![team.id.clone()], "round {round}");
    }
}

/// Rows written by the schema before org members (migration 6 rebuilds the SQLite invitation
/// tables); the same SQL in both dialects.
const SEED_BEFORE_MEMBERS: &[&str] = &[
    "INSERT INTO organizations (id, name, skip_default_alerts_settings, created_at) \
     VALUES ('5f0000000000000000000001', 'Acme', FALSE, 1786330000)",
    "INSERT INTO teams (id, org_id, name, name_key, created_at) \
     VALUES ('5f0000000000000000000002', '5f0000000000000000000001', 'Platform', 'platform', 1786330000)",
    "INSERT INTO projects (id, org_id, name, name_key, with_default_alerts_settings, created_at) \
     VALUES ('5f0000000000000000000003', '5f0000000000000000000001', 'Payments', 'payments', TRUE, 1786330000)",
    "INSERT INTO invitations (id, user_id, org_id, username, username_key, roles, inviter_username, \
     created_at, expires_at) VALUES ('5f0000000000000000000004', '5f0000000000000000000005', \
     '5f0000000000000000000001', 'Ada@example.com', 'ada@example.com', 'ORG_MEMBER', 'abcdefgh', \
     1786330000, 1788922000)",
    "INSERT INTO invitation_teams (invitation_id, org_id, team_id, position) \
     VALUES ('5f0000000000000000000004', '5f0000000000000000000001', '5f0000000000000000000002', 0)",
    "INSERT INTO invitation_project_roles (invitation_id, org_id, project_id, role, position) \
     VALUES ('5f0000000000000000000004', '5f0000000000000000000001', '5f0000000000000000000003', \
     'GROUP_OWNER', 0)",
];

/// The migrations before org members, read from `dialect`'s folder.
async fn migrations_before_members(dialect: &str) -> sqlx::migrate::Migrator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect);
    let all = sqlx::migrate::Migrator::new(dir).await.unwrap();
    sqlx::migrate::Migrator {
        migrations: all
            .migrations
            .iter()
            .filter(|migration| migration.version < 20261122000006)
            .cloned()
            .collect::<Vec<_>>()
            .into(),
        ..sqlx::migrate::Migrator::DEFAULT
    }
}

async fn pending_invitations_survive_the_members_migration(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    match backend {
        Backend::Sqlite => {
            let options = database
                .url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .unwrap()
                .create_if_missing(true)
                .foreign_keys(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            migrations_before_members("sqlite")
                .await
                .run(&pool)
                .await
                .unwrap();
            for statement in SEED_BEFORE_MEMBERS {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
            migrations_before_members("postgres")
                .await
                .run(&pool)
                .await
                .unwrap();
            for statement in SEED_BEFORE_MEMBERS {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }
    let store = orgdoor_store::connect(&database.url, &orgdoor_store::SecretsKey::generate())
        .await
        .unwrap();
    let org: OrgId = "5f0000000000000000000001".parse().unwrap();
    let now = datetime!(2026-08-10 03:03:37 UTC);
    let pending = store
        .list_pending_invitations(&org, None, now)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    let migrated = &pending[0];
    assert_eq!(migrated.team_ids.len(), 1, "{migrated:?}");
    assert_eq!(migrated.group_role_assignments.len(), 1);
    assert_eq!(migrated.declined_at, None);
    // The rebuilt tables keep their constraints: cascades, and one invitation per address.
    store
        .delete_team(&org, &migrated.team_ids[0])
        .await
        .unwrap();
    let again = invitation(&org, "ada@example.com").into_invitation(now);
    assert_eq!(
        rejection(store.invite(&again, WhenPending::Refuse, now).await),
        Rejection::UsernameTaken(again.username.clone())
    );
    let after = store
        .list_pending_invitations(&org, None, now)
        .await
        .unwrap();
    assert!(after[0].team_ids.is_empty());
    assert_eq!(after[0].group_role_assignments.len(), 1);
}

#[tokio::test]
async fn sqlite_pending_invitations_survive_the_members_migration() {
    pending_invitations_survive_the_members_migration(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_pending_invitations_survive_the_members_migration() {
    pending_invitations_survive_the_members_migration(Backend::Postgres).await;
}

/// Project invitations an older version stored on their own become the organization
/// invitations they are now when a store opens; what could never be accepted is dropped.
async fn old_project_invitations_are_folded_into_invitations(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let key = orgdoor_store::SecretsKey::generate();
    let store = orgdoor_store::connect(&database.url, &key).await.unwrap();
    let org = organization(&store, "Old").await;
    let group = stored_project(&store, &org.id, "P").await;
    let other = stored_project(&store, &org.id, "Q").await;
    member(&store, &org.id, "cy@example.com").await;
    // The fold runs by the real clock, so this invitation must be pending by it.
    let now = OffsetDateTime::now_utc();
    let org_invite = invitation(&org.id, "bob@example.com").into_invitation(now);
    store
        .invite(&org_invite, WhenPending::Refuse, now)
        .await
        .unwrap();
    drop(store);
    // (id, project, address, roles, created_at, expires_at): pending for a stranger (twice,
    // in two projects), pending for an invitee of the organization, for a member, and expired
    // (in 2001: the fold judges by the real clock).
    let (created, far) = ("1786331017", "4102444800"); // NOW, 2100-01-01
    let rows = [
        (
            "5f00000000000000000000a1",
            &group.id,
            "ada@example.com",
            "GROUP_OWNER,GROUP_READ_ONLY",
            created,
            far,
        ),
        (
            "5f00000000000000000000a2",
            &other.id,
            "Ada@example.com",
            "GROUP_READ_ONLY",
            created,
            far,
        ),
        (
            "5f00000000000000000000a3",
            &group.id,
            "bob@example.com",
            "GROUP_OWNER",
            created,
            far,
        ),
        (
            "5f00000000000000000000a4",
            &group.id,
            "cy@example.com",
            "GROUP_OWNER",
            created,
            far,
        ),
        (
            "5f00000000000000000000a5",
            &group.id,
            "old@example.com",
            "GROUP_OWNER",
            "999000000",
            "1000000000",
        ),
    ];
    let statements: Vec<String> = rows
        .iter()
        .map(|(id, project, username, roles, created, expires)| {
            format!(
                "INSERT INTO project_invitations (id, project_id, username, username_key, roles, \
                 inviter_username, created_at, expires_at) VALUES ('{id}', '{project}', '{username}', \
                 '{}', '{roles}', 'abcdefgh', {created}, {expires})",
                username.to_lowercase()
            )
        })
        .collect();
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&database.url).await.unwrap();
            for statement in &statements {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
            for statement in &statements {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }
    let store = orgdoor_store::connect(&database.url, &key).await.unwrap();
    let pending = store
        .list_pending_invitations(&org.id, None, now)
        .await
        .unwrap();
    let summary: Vec<(String, usize)> = pending
        .iter()
        .map(|invitation| {
            (
                invitation.username.to_string(),
                invitation.group_role_assignments.len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            // The second one renewed the first, in its spelling.
            ("Ada@example.com".to_owned(), 3),
            ("bob@example.com".to_owned(), 1)
        ]
    );
    assert_eq!(pending[0].id.as_str(), "5f00000000000000000000a1");
    assert_eq!(pending[0].roles, OrgRoles::single(OrgRole::Member));
    assert_eq!(pending[1].id, org_invite.id);
    let in_group = store
        .list_pending_project_invitations(&group.id, None, now)
        .await
        .unwrap();
    assert_eq!(in_group.len(), 2);
    assert_eq!(
        in_group[0].roles,
        GroupRoles::new([GroupRole::Owner, GroupRole::ReadOnly]).unwrap()
    );
    // Nothing is folded twice.
    drop(store);
    let store = orgdoor_store::connect(&database.url, &key).await.unwrap();
    assert_eq!(
        store
            .list_pending_invitations(&org.id, None, now)
            .await
            .unwrap(),
        pending
    );
}

#[tokio::test]
async fn sqlite_old_project_invitations_are_folded_into_invitations() {
    old_project_invitations_are_folded_into_invitations(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_old_project_invitations_are_folded_into_invitations() {
    old_project_invitations_are_folded_into_invitations(Backend::Postgres).await;
}

#[test]
fn both_dialects_have_the_same_migrations() {
    let names = |dialect: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    assert!(!names("sqlite").is_empty());
    assert_eq!(names("sqlite"), names("postgres"));
}

async fn only_one_of_many_first_starts_creates_an_organization(store: Arc<dyn Store>) {
    let attempts = (0..8).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let organization = NewOrganization {
                name: OrgName::parse(format!("first-{n}")).unwrap(),
                skip_default_alerts_settings: false,
            }
            .into_organization(NOW);
            store
                .create_first_organization(&organization, &[])
                .await
                .unwrap()
        })
    });
    let mut created = 0;
    for attempt in attempts {
        if attempt.await.unwrap() {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    let later = NewOrganization {
        name: OrgName::parse("later").unwrap(),
        skip_default_alerts_settings: false,
    }
    .into_organization(NOW);
    assert!(!store.create_first_organization(&later, &[]).await.unwrap());
}

async fn api_keys_are_managed_within_their_organization(store: Arc<dyn Store>) {
    let org = organization(&store, "Managed").await;
    let other = organization(&store, "Elsewhere").await;
    let mut made = Vec::new();
    for n in 0..3 {
        let (key, ha1) = NewApiKey {
            org_id: org.id.clone(),
            public_key: PublicKey::generate(),
            ha1: DigestHa1([n; 16]),
            description: format!("key {n}"),
            roles: OrgRoles::single(OrgRole::Member),
            project_roles: Vec::new(),
        }
        .into_api_key(NOW);
        store.create_api_key(&key, &ha1).await.unwrap();
        made.push(key);
    }
    let page = store
        .list_api_keys(&org.id, PageRequest::new(Some(2), Some(1)))
        .await
        .unwrap();
    assert_eq!(page.total_count, 3);
    assert_eq!(page.items, made[..2]);
    assert!(
        store
            .get_api_key(&other.id, &made[0].id)
            .await
            .unwrap()
            .is_none()
    );

    let owner = OrgRoles::single(OrgRole::Owner);
    let updated = store
        .update_api_key(&org.id, &made[0].id, Some("renamed"), Some(&owner))
        .await
        .unwrap();
    assert_eq!(
        (updated.description.as_str(), &updated.roles),
        ("renamed", &owner)
    );
    assert_eq!(
        store
            .get_api_key(&org.id, &made[0].id)
            .await
            .unwrap()
            .unwrap(),
        updated
    );
    assert_eq!(
        rejection(
            store
                .update_api_key(&other.id, &made[0].id, Some("theirs"), None)
                .await
        ),
        Rejection::NotFound
    );

    let home: AllowedNetwork = "192.0.2.0/24".parse().unwrap();
    let office = AllowedNetwork::from_address("203.0.113.9").unwrap();
    store
        .add_to_access_list(
            &org.id,
            &Credential::ApiKey(made[1].id.clone()),
            &[home, office, home],
            NOW,
        )
        .await
        .unwrap();
    let list = store
        .list_access_list(
            &org.id,
            &Credential::ApiKey(made[1].id.clone()),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(list.total_count, 2);
    let credential = store
        .find_api_key(&made[1].public_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(credential.access_list.len(), 2);
    assert!(credential.access_list.contains(&office));
    assert!(
        store
            .get_access_list_entry(&org.id, &Credential::ApiKey(made[1].id.clone()), &home)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_access_list_entry(&other.id, &Credential::ApiKey(made[1].id.clone()), &home)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        rejection(
            store
                .remove_from_access_list(&other.id, &Credential::ApiKey(made[1].id.clone()), &home)
                .await
        ),
        Rejection::NotFound
    );
    store
        .remove_from_access_list(&org.id, &Credential::ApiKey(made[1].id.clone()), &home)
        .await
        .unwrap();
    assert_eq!(
        rejection(
            store
                .remove_from_access_list(&org.id, &Credential::ApiKey(made[1].id.clone()), &home)
                .await
        ),
        Rejection::NotFound
    );

    store.delete_api_key(&org.id, &made[1].id).await.unwrap();
    assert!(
        store
            .find_api_key(&made[1].public_key)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        rejection(store.delete_api_key(&org.id, &made[1].id).await),
        Rejection::NotFound
    );
    assert_eq!(
        rejection(
            store
                .list_access_list(
                    &org.id,
                    &Credential::ApiKey(made[1].id.clone()),
                    PageRequest::default()
                )
                .await
        ),
        Rejection::NotFound
    );
}

/// A request to add `username` to `group` with `role`, made at `now`.
fn newcomer(group: &Group, username: &str, role: GroupRole, now: OffsetDateTime) -> Invitation {
    NewInvitation::into_project(
        group.org_id.clone(),
        &group.id,
        username.parse().unwrap(),
        &GroupRoles::single(role),
        "abcdefgh".into(),
    )
    .into_invitation(now)
}

/// Adds `username` to `group` with one role.
async fn add_to_project(
    store: &Arc<dyn Store>,
    group: &Group,
    username: &str,
    role: GroupRole,
    addition: ProjectAddition,
    now: OffsetDateTime,
) -> Result<OrgUser, StoreError> {
    let request = newcomer(group, username, role, now);
    store
        .add_project_user(
            &group.id,
            &GroupRoles::single(role),
            &request,
            addition,
            now,
        )
        .await
}

fn invited(user: OrgUser) -> Invitation {
    match user {
        OrgUser::Invited(invitation) => invitation,
        other => panic!("expected an invitee, got {other:?}"),
    }
}

/// The users of `group` in default list order, with their roles there.
async fn project_users(store: &Arc<dyn Store>, group: &Group) -> Vec<(String, Vec<GroupRole>)> {
    let filter = OrgUserFilter {
        project: Some(ProjectFilter {
            group: group.id.clone(),
            teams: vec![],
            org_roles: vec![],
        }),
        ..statuses(&MembershipStatus::ALL)
    };
    store
        .list_org_users(&group.org_id, &filter, PageRequest::new(None, None), NOW)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|user| {
            let roles = user
                .roles_in(&group.id)
                .map(|roles| roles.as_slice().to_vec());
            (user.username().to_string(), roles.unwrap_or_default())
        })
        .collect()
}

async fn project_invitations_follow_the_invitation_rules(store: Arc<dyn Store>) {
    let org = organization(&store, "Projects").await;
    let group = stored_project(&store, &org.id, "P").await;
    let other = stored_project(&store, &org.id, "Q").await;
    let invite = ProjectAddition::Invitation;
    let first = invited(
        add_to_project(
            &store,
            &group,
            "ada@example.com",
            GroupRole::ReadOnly,
            invite,
            NOW,
        )
        .await
        .unwrap(),
    );
    // One record: the organization's invitation, offering membership and the project's roles.
    assert_eq!(first.roles, OrgRoles::single(OrgRole::Member));
    assert_eq!(
        store
            .list_pending_invitations(&org.id, None, NOW)
            .await
            .unwrap(),
        vec![first.clone()]
    );
    let later = NOW + Duration::days(1);
    let renewed = invited(
        add_to_project(
            &store,
            &group,
            "ADA@example.com",
            GroupRole::Owner,
            invite,
            later,
        )
        .await
        .unwrap(),
    );
    assert_eq!(renewed.id, first.id);
    assert_eq!(renewed.user_id, first.user_id);
    assert_eq!(renewed.created_at, later);
    let seen = store
        .list_pending_project_invitations(&group.id, None, later)
        .await
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].id, first.id);
    assert_eq!(seen[0].roles, GroupRoles::single(GroupRole::Owner));
    assert_eq!(seen[0].created_at, later);
    assert!(
        store
            .list_pending_project_invitations(&other.id, None, later)
            .await
            .unwrap()
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
    let updated = store
        .update_pending_project_invitation(&group.id, &selector, &roles, later)
        .await
        .unwrap();
    assert_eq!(updated.roles, roles);
    assert_eq!(updated.expires_at, renewed.expires_at);
    assert_eq!(
        rejection(
            store
                .update_pending_project_invitation(&other.id, &selector, &roles, later)
                .await
        ),
        Rejection::InvitationNotFound
    );
    let expired = renewed.expires_at;
    assert_eq!(
        rejection(
            store
                .update_pending_project_invitation(&group.id, &selector, &roles, expired)
                .await
        ),
        Rejection::InvitationExpired
    );
    assert_eq!(
        rejection(
            store
                .delete_pending_project_invitation(&group.id, &first.id, expired)
                .await
        ),
        Rejection::InvitationNotFound
    );
    store
        .delete_pending_project_invitation(&group.id, &first.id, later)
        .await
        .unwrap();
    assert!(
        store
            .list_pending_project_invitations(&group.id, None, later)
            .await
            .unwrap()
            .is_empty()
    );
    // It only brought Ada into the project: the organization's invitation went with it.
    assert!(
        store
            .list_pending_invitations(&org.id, None, later)
            .await
            .unwrap()
            .is_empty()
    );

    let missing = Group {
        id: GroupId::generate(NOW),
        ..group.clone()
    };
    assert!(matches!(
        rejection(
            add_to_project(
                &store,
                &missing,
                "bob@example.com",
                GroupRole::Owner,
                invite,
                NOW
            )
            .await
        ),
        Rejection::GroupNotFound(_)
    ));
    // A member cannot be invited; the other additions give them the roles at once.
    let member = member(&store, &org.id, "cy@example.com").await;
    assert_eq!(
        rejection(
            add_to_project(
                &store,
                &group,
                "cy@example.com",
                GroupRole::Owner,
                invite,
                NOW
            )
            .await
        ),
        Rejection::UsernameTaken("cy@example.com".parse().unwrap())
    );
    let granted = add_to_project(
        &store,
        &group,
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
    let org = organization(&store, "Projects").await;
    let group = stored_project(&store, &org.id, "P").await;
    let other = stored_project(&store, &org.id, "Q").await;
    let new_user = ProjectAddition::NewUser;
    // A stranger is invited into the organization and the project.
    let pending = invited(
        add_to_project(
            &store,
            &group,
            "ada@example.com",
            GroupRole::ReadOnly,
            new_user,
            NOW,
        )
        .await
        .unwrap(),
    );
    assert_eq!(pending.roles, OrgRoles::single(OrgRole::Member));
    assert_eq!(
        rejection(
            add_to_project(
                &store,
                &group,
                "ada@example.com",
                GroupRole::Owner,
                new_user,
                NOW
            )
            .await
        ),
        Rejection::UsernameTaken("ada@example.com".parse().unwrap())
    );
    // A pending invitation of the organization takes the project's roles, keeping the rest.
    let org_invite = NewInvitation {
        roles: OrgRoles::single(OrgRole::Owner),
        group_role_assignments: vec![GroupRoleAssignment {
            group_id: other.id.clone(),
            role: GroupRole::Owner,
        }],
        ..invitation(&org.id, "bob@example.com")
    }
    .into_invitation(NOW);
    store
        .invite(&org_invite, WhenPending::Refuse, NOW)
        .await
        .unwrap();
    let later = NOW + Duration::hours(1);
    let bob = invited(
        add_to_project(
            &store,
            &group,
            "bob@example.com",
            GroupRole::Owner,
            new_user,
            later,
        )
        .await
        .unwrap(),
    );
    assert_eq!(bob.id, org_invite.id);
    assert_eq!(bob.created_at, NOW, "an addition is no new invitation");
    assert_eq!(bob.roles, OrgRoles::single(OrgRole::Owner));
    assert_eq!(bob.group_role_assignments.len(), 2);
    // A member gets the roles at once; a member already in the project is refused.
    let cy = member(&store, &org.id, "cy@example.com").await;
    let cy_in = add_to_project(
        &store,
        &group,
        "cy@example.com",
        GroupRole::ReadOnly,
        new_user,
        NOW,
    )
    .await
    .unwrap();
    assert!(matches!(cy_in, OrgUser::Member(_)));
    assert_eq!(
        rejection(
            add_to_project(
                &store,
                &group,
                "cy@example.com",
                GroupRole::Owner,
                new_user,
                NOW
            )
            .await
        ),
        Rejection::UsernameTaken("cy@example.com".parse().unwrap())
    );
    member(&store, &org.id, "dee@example.com").await;
    assert_eq!(
        project_users(&store, &group).await,
        vec![
            ("cy@example.com".to_owned(), vec![GroupRole::ReadOnly]),
            ("ada@example.com".to_owned(), vec![GroupRole::ReadOnly]),
            ("bob@example.com".to_owned(), vec![GroupRole::Owner]),
        ]
    );
    // Accepting makes the invitee an active user of the project with the roles.
    let accepted = store
        .answer_invitation(
            &org.id,
            &InvitationSelector::UserId(pending.user_id.clone()),
            InvitationAnswer::Accept(ProfileChoices::default()),
            NOW,
        )
        .await
        .unwrap();
    assert!(matches!(accepted, OrgUser::Member(_)));
    assert_eq!(accepted.id(), &pending.user_id);
    assert_eq!(accepted.roles(), &OrgRoles::single(OrgRole::Member));
    assert_eq!(project_users(&store, &group).await[0].0, "ada@example.com");
    // An expired invitation gives way to a new one, for the same person.
    let expired = NOW + Duration::days(30);
    let eve = invited(
        add_to_project(
            &store,
            &group,
            "eve@example.com",
            GroupRole::Owner,
            new_user,
            NOW,
        )
        .await
        .unwrap(),
    );
    let again = invited(
        add_to_project(
            &store,
            &group,
            "eve@example.com",
            GroupRole::Owner,
            new_user,
            expired,
        )
        .await
        .unwrap(),
    );
    assert_ne!(again.id, eve.id);
    assert_eq!(again.user_id, eve.user_id);
    // Removing: a member loses the project's roles, not the organization.
    store
        .remove_project_user(&group.id, cy.id(), false)
        .await
        .unwrap();
    let cy_now = store.get_org_user(&org.id, cy.id()).await.unwrap().unwrap();
    assert_eq!(cy_now.roles_in(&group.id), None);
    assert_eq!(
        rejection(store.remove_project_user(&group.id, cy.id(), false).await),
        Rejection::NotFound
    );
    // The deprecated version removes members only.
    assert_eq!(
        rejection(
            store
                .remove_project_user(&group.id, &bob.user_id, true)
                .await
        ),
        Rejection::NotFound
    );
    assert_eq!(
        rejection(
            store
                .remove_project_user(&group.id, &UserId::generate(NOW), false)
                .await
        ),
        Rejection::NotFound
    );
}

async fn removing_a_pending_project_user_cancels_what_only_the_project_asked_for(
    store: Arc<dyn Store>,
) {
    let org = organization(&store, "Projects").await;
    let group = stored_project(&store, &org.id, "P").await;
    let other = stored_project(&store, &org.id, "Q").await;
    let access = ProjectAddition::Access;
    let ada = invited(
        add_to_project(
            &store,
            &group,
            "ada@example.com",
            GroupRole::Owner,
            access,
            NOW,
        )
        .await
        .unwrap(),
    );
    let bob = invited(
        add_to_project(
            &store,
            &group,
            "bob@example.com",
            GroupRole::Owner,
            access,
            NOW,
        )
        .await
        .unwrap(),
    );
    add_to_project(
        &store,
        &other,
        "bob@example.com",
        GroupRole::ReadOnly,
        access,
        NOW,
    )
    .await
    .unwrap();
    store
        .remove_project_user(&group.id, &ada.user_id, false)
        .await
        .unwrap();
    store
        .remove_project_user(&group.id, &bob.user_id, false)
        .await
        .unwrap();
    // Ada's invitation only brought her into P: cancelled. Bob's still brings him into Q.
    assert_eq!(
        store.get_org_user(&org.id, &ada.user_id).await.unwrap(),
        None
    );
    let bob_now = store
        .get_org_user(&org.id, &bob.user_id)
        .await
        .unwrap()
        .unwrap();
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
    let owner = NewInvitation {
        roles: OrgRoles::single(OrgRole::Owner),
        ..invitation(&org.id, "cy@example.com")
    }
    .into_invitation(NOW);
    store
        .invite(&owner, WhenPending::Refuse, NOW)
        .await
        .unwrap();
    add_to_project(
        &store,
        &group,
        "cy@example.com",
        GroupRole::Owner,
        access,
        NOW,
    )
    .await
    .unwrap();
    store
        .remove_project_user(&group.id, &owner.user_id, false)
        .await
        .unwrap();
    let kept = invited(
        store
            .get_org_user(&org.id, &owner.user_id)
            .await
            .unwrap()
            .unwrap(),
    );
    assert_eq!(kept.roles, OrgRoles::single(OrgRole::Owner));
    assert!(kept.group_role_assignments.is_empty());
}

async fn project_role_changes_keep_at_least_one_role(store: Arc<dyn Store>) {
    let org = organization(&store, "Projects").await;
    let group = stored_project(&store, &org.id, "P").await;
    let other = stored_project(&store, &org.id, "Q").await;
    let access = ProjectAddition::Access;
    let pending = add_to_project(
        &store,
        &group,
        "ada@example.com",
        GroupRole::ReadOnly,
        access,
        NOW,
    )
    .await
    .unwrap();
    add_to_project(
        &store,
        &other,
        "ada@example.com",
        GroupRole::Owner,
        access,
        NOW,
    )
    .await
    .unwrap();
    let bob = member(&store, &org.id, "bob@example.com").await;
    add_to_project(
        &store,
        &group,
        "bob@example.com",
        GroupRole::ReadOnly,
        access,
        NOW,
    )
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
    let ada = store
        .get_org_user(&org.id, pending.id())
        .await
        .unwrap()
        .unwrap();
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
            Rejection::NotFound
        );
    }
}

async fn projects_users_lists_reach_through_teams_and_org_roles_when_asked(store: Arc<dyn Store>) {
    let org = organization(&store, "Projects").await;
    let group = stored_project(&store, &org.id, "P").await;
    let team = stored_team(&store, &org.id, "T").await;
    let direct = member(&store, &org.id, "ada@example.com").await;
    add_to_project(
        &store,
        &group,
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
    }
    .into_invitation(NOW);
    store
        .invite(&owner_invite, WhenPending::Refuse, NOW)
        .await
        .unwrap();
    let listed = |teams: Vec<orgdoor_domain::TeamId>, org_roles: Vec<OrgRole>| {
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

async fn service_accounts_hold_secrets_tokens_and_access_lists(store: Arc<dyn Store>) {
    let org = organization(&store, "Robots").await;
    let other = organization(&store, "Humans").await;
    let (secret, _) = ServiceAccountSecret::generate(NOW, 8);
    let account = ServiceAccount {
        client_id: ClientId::generate(NOW),
        org_id: org.id.clone(),
        name: "deployer".into(),
        description: "ships things".into(),
        roles: OrgRoles::single(OrgRole::Member),
        created_at: NOW,
        secrets: vec![secret.clone()],
    };
    store.create_service_account(&account).await.unwrap();
    assert_eq!(
        store
            .get_service_account(&org.id, &account.client_id)
            .await
            .unwrap()
            .unwrap(),
        account
    );
    assert!(
        store
            .get_service_account(&other.id, &account.client_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .list_service_accounts(&org.id, PageRequest::default())
            .await
            .unwrap()
            .items,
        vec![account.clone()]
    );

    let owner = OrgRoles::single(OrgRole::Owner);
    let updated = store
        .update_service_account(&org.id, &account.client_id, Some("ops"), None, Some(&owner))
        .await
        .unwrap();
    assert_eq!(
        (
            updated.name.as_str(),
            updated.description.as_str(),
            &updated.roles
        ),
        ("ops", "ships things", &owner)
    );

    let (second, _) = ServiceAccountSecret::generate(NOW + Duration::seconds(1), 24);
    store
        .add_service_account_secret(&org.id, &account.client_id, &second)
        .await
        .unwrap();
    assert_eq!(
        rejection(
            store
                .add_service_account_secret(&other.id, &account.client_id, &second)
                .await
        ),
        Rejection::NotFound
    );
    store
        .delete_service_account_secret(&org.id, &account.client_id, &secret.id)
        .await
        .unwrap();
    let found = store
        .find_service_account(&account.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.account.secrets, vec![second]);

    // Tokens: a cap on active ones, expired ones do not count, revocation is per account.
    let mut issued = Vec::new();
    for _ in 0..3 {
        let (token, _) = AccessToken::generate(account.client_id.clone(), NOW);
        store
            .issue_access_token(&token, None, NOW, 3)
            .await
            .unwrap();
        issued.push(token);
    }
    let (extra, _) = AccessToken::generate(account.client_id.clone(), NOW);
    assert_eq!(
        rejection(store.issue_access_token(&extra, None, NOW, 3).await),
        Rejection::TooManyTokens
    );
    let later = NOW + Duration::hours(1);
    let (fresh, _) = AccessToken::generate(account.client_id.clone(), later);
    store
        .issue_access_token(&fresh, None, later, 3)
        .await
        .unwrap();
    let bearer = store
        .find_access_token(&fresh.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bearer.token, fresh);
    assert_eq!(bearer.credential.account.client_id, account.client_id);
    assert_eq!(
        bearer.organization, org,
        "the account's organization comes along"
    );
    let stranger = ClientId::generate(NOW);
    store
        .revoke_access_token(&stranger, &fresh.digest)
        .await
        .unwrap();
    assert!(
        store
            .find_access_token(&fresh.digest)
            .await
            .unwrap()
            .is_some(),
        "only the owner revokes"
    );
    store
        .revoke_access_token(&account.client_id, &fresh.digest)
        .await
        .unwrap();
    assert!(
        store
            .find_access_token(&fresh.digest)
            .await
            .unwrap()
            .is_none()
    );

    let credential = Credential::ServiceAccount(account.client_id.clone());
    let network = AllowedNetwork::from_address("198.51.100.7").unwrap();
    store
        .add_to_access_list(&org.id, &credential, &[network], NOW)
        .await
        .unwrap();
    assert_eq!(
        rejection(
            store
                .add_to_access_list(&other.id, &credential, &[network], NOW)
                .await
        ),
        Rejection::NotFound
    );
    assert_eq!(
        store
            .find_service_account(&account.client_id)
            .await
            .unwrap()
            .unwrap()
            .access_list,
        vec![network]
    );

    let (kept, _) = AccessToken::generate(account.client_id.clone(), later);
    store
        .issue_access_token(&kept, None, later, 3)
        .await
        .unwrap();
    store
        .delete_service_account(&org.id, &account.client_id)
        .await
        .unwrap();
    assert!(
        store
            .find_access_token(&kept.digest)
            .await
            .unwrap()
            .is_none(),
        "tokens go with the account"
    );
    assert!(
        store
            .find_service_account(&account.client_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        rejection(
            store
                .delete_service_account(&org.id, &account.client_id)
                .await
        ),
        Rejection::NotFound
    );
}

async fn members_and_invitees_join_and_leave_teams_one_at_a_time(store: Arc<dyn Store>) {
    let org = organization(&store, "Acme").await;
    let team = stored_team(&store, &org.id, "Platform").await;
    let active = member(&store, &org.id, "amy@example.com").await;
    let pending = invitation(&org.id, "bea@example.com").into_invitation(NOW);
    store
        .invite(&pending, WhenPending::Refuse, NOW)
        .await
        .unwrap();
    for id in [active.id(), &pending.user_id] {
        let joined = store
            .change_team_membership(&org.id, &team.id, id, true, NOW)
            .await
            .unwrap();
        assert_eq!(joined.team_ids(), std::slice::from_ref(&team.id));
        assert!(matches!(
            rejection(
                store
                    .change_team_membership(&org.id, &team.id, id, true, NOW)
                    .await
            ),
            Rejection::AlreadyInTeam { .. }
        ));
    }
    // The invitee's team is on the invitation, for acceptance.
    let seen = store
        .get_pending_invitation(&org.id, &pending.id, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.team_ids, vec![team.id.clone()]);
    let left = store
        .change_team_membership(&org.id, &team.id, active.id(), false, NOW)
        .await
        .unwrap();
    assert!(left.team_ids().is_empty());
    assert!(matches!(
        rejection(
            store
                .change_team_membership(&org.id, &team.id, active.id(), false, NOW)
                .await
        ),
        Rejection::UserNotInOrg { .. }
    ));
    let other = organization(&store, "Other").await;
    let foreign = stored_team(&store, &other.id, "Foreign").await;
    assert_eq!(
        rejection(
            store
                .change_team_membership(&org.id, &foreign.id, active.id(), true, NOW)
                .await
        ),
        Rejection::NotFound
    );
}

fn org_key(org: &OrgId, project_roles: Vec<ProjectGrant>) -> (ApiKey, DigestHa1) {
    NewApiKey {
        org_id: org.clone(),
        public_key: PublicKey::generate(),
        ha1: DigestHa1([7; 16]),
        description: "project key".into(),
        roles: OrgRoles::single(OrgRole::Member),
        project_roles,
    }
    .into_api_key(NOW)
}

/// Keys given roles in projects: stored with the key or granted later, read back with every
/// read of the key (authentication included), listed per project, replaced, revoked, and
/// dropped with the project; a key of another organization cannot be given any.
async fn api_keys_hold_roles_in_projects_of_their_organization(store: Arc<dyn Store>) {
    let org = organization(&store, "Grants").await;
    let payments = stored_project(&store, &org.id, "Payments").await;
    let ledger = stored_project(&store, &org.id, "Ledger").await;
    let owner_of_payments = ProjectGrant {
        group_id: payments.id.clone(),
        roles: GroupRoles::single(GroupRole::Owner),
    };
    let (made_for_project, ha1) = org_key(&org.id, vec![owner_of_payments.clone()]);
    store.create_api_key(&made_for_project, &ha1).await.unwrap();
    let (plain, ha1) = org_key(&org.id, vec![]);
    store.create_api_key(&plain, &ha1).await.unwrap();

    let found = store
        .find_api_key(&made_for_project.public_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.key.project_roles, vec![owner_of_payments.clone()]);
    let readers = GroupRoles::new([GroupRole::ReadOnly, GroupRole::DataAccessReadOnly]).unwrap();
    let granted = store
        .grant_api_key_project_roles(&ledger.id, &plain.id, &readers, NOW)
        .await
        .unwrap();
    assert_eq!(
        granted.project_roles,
        vec![ProjectGrant {
            group_id: ledger.id.clone(),
            roles: readers.clone()
        }]
    );
    // Granting again replaces.
    let owner = GroupRoles::single(GroupRole::Owner);
    store
        .grant_api_key_project_roles(&payments.id, &plain.id, &owner, NOW)
        .await
        .unwrap();
    let listed = store
        .list_project_api_keys(&payments.id, PageRequest::new(None, None))
        .await
        .unwrap();
    assert_eq!(listed.total_count, 2);
    let ids: Vec<_> = listed.items.iter().map(|key| key.id.clone()).collect();
    assert_eq!(ids, vec![made_for_project.id.clone(), plain.id.clone()]);
    assert_eq!(
        listed.items[1].project_roles.len(),
        2,
        "both of its projects"
    );
    let all = store
        .list_api_keys(&org.id, PageRequest::new(None, None))
        .await
        .unwrap();
    let plain_listed = all.items.iter().find(|key| key.id == plain.id).unwrap();
    assert_eq!(plain_listed.project_roles.len(), 2);

    store
        .revoke_api_key_project_roles(&payments.id, &plain.id)
        .await
        .unwrap();
    assert!(matches!(
        store
            .revoke_api_key_project_roles(&payments.id, &plain.id)
            .await,
        Err(StoreError::Rejected(Rejection::NotFound))
    ));
    let read = store
        .get_api_key(&org.id, &plain.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read.project_roles,
        vec![ProjectGrant {
            group_id: ledger.id.clone(),
            roles: readers
        }]
    );

    // Another organization's key gets nothing here.
    let other = organization(&store, "Elsewhere").await;
    let (stranger, ha1) = org_key(&other.id, vec![]);
    store.create_api_key(&stranger, &ha1).await.unwrap();
    assert!(matches!(
        store
            .grant_api_key_project_roles(&payments.id, &stranger.id, &owner, NOW)
            .await,
        Err(StoreError::Rejected(Rejection::NotFound))
    ));
    let (smuggled, ha1) = org_key(&other.id, vec![owner_of_payments.clone()]);
    assert!(store.create_api_key(&smuggled, &ha1).await.is_err());
    assert!(
        store
            .find_api_key(&smuggled.public_key)
            .await
            .unwrap()
            .is_none(),
        "nothing half-written"
    );

    // A project made by a key is owned by it, in the same step.
    let made = NewGroup {
        org_id: org.id.clone(),
        name: ProjectName::parse("Made").unwrap(),
        tags: vec![],
        with_default_alerts_settings: true,
    }
    .into_group(NOW);
    store.create_group(&made, Some(&plain.id)).await.unwrap();
    let read = store
        .get_api_key(&org.id, &plain.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        read.project_roles
            .iter()
            .any(|grant| grant.group_id == made.id
                && grant.roles == GroupRoles::single(GroupRole::Owner))
    );

    // Deleting a project takes its grants with it; the keys stay.
    store.delete_group(&payments.id).await.unwrap();
    let read = store
        .get_api_key(&org.id, &made_for_project.id)
        .await
        .unwrap()
        .unwrap();
    assert!(read.project_roles.is_empty());
}
