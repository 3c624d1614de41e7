//! What every aggregate's tests share: the one instant they run at, the runner that puts each
//! behaviour on both backends, and builders for the records a behaviour starts from. Fixtures
//! go through the public `Store` API only, like the tests, and unwrap: a fixture that fails is
//! a failed test.

use std::future::Future;
use std::sync::Arc;

use orgdoor_domain::{
    ApiKey, DigestHa1, EmailAddress, Group, GroupRole, GroupRoles, Invitation, InvitationId,
    MembershipStatus, NewApiKey, NewGroup, NewInvitation, NewTeam, OrgId, OrgRole, OrgRoles,
    OrgUser, Organization, PageRequest, ProfileChoices, ProjectGrant, ProjectName, ServiceAccount,
    ServiceAccountSecret, Team, TeamName, UserId,
};
use orgdoor_store::{
    InvitationAnswer, InvitationSelector, Newcomer, OrgUserFilter, ProjectAddition, ProjectFilter,
    Rejection, Store, StoreError, WhenPending,
};
pub(crate) use orgdoor_test_db::{Backend, TestDatabase};
use time::OffsetDateTime;
use time::macros::datetime;

/// The instant the tests run at, unless a test moves it.
pub(crate) const NOW: OffsetDateTime = datetime!(2026-08-10 03:03:37 UTC);

/// Runs each named `async fn(Arc<dyn Store>)` of the calling module on every backend, as
/// `<module>::sqlite_store::<name>` and `<module>::postgres_store::<name>`.
macro_rules! on_every_store {
    ($($name:ident),+ $(,)?) => {
        on_every_backend!(@with crate::fixtures::with_store, $($name),+);
    };
}

/// Runs each named `async fn(Backend)` of the calling module on every backend, for behaviours
/// that set up the database themselves (what an older version left behind).
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        on_every_backend!(@with crate::fixtures::with_backend, $($name),+);
    };
    (@with $run:path, $($name:ident),+) => {
        on_every_backend!(@on sqlite_store, Sqlite, $run, $($name),+);
        on_every_backend!(@on postgres_store, Postgres, $run, $($name),+);
    };
    (@on $module:ident, $backend:ident, $run:path, $($name:ident),+) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $name() {
                    $run(crate::fixtures::Backend::$backend, super::$name).await;
                }
            )+
        }
    };
}

use crate::support::open;

/// Runs `test` on a new store on `backend`; the database outlives the test.
pub(crate) async fn with_store<Test, Run>(backend: Backend, test: Test)
where
    Test: FnOnce(Arc<dyn Store>) -> Run,
    Run: Future<Output = ()>,
{
    let (store, _database) = open(backend).await;
    test(store).await;
}

/// Runs `test`, which makes its own database, for `backend`.
pub(crate) async fn with_backend<Test, Run>(backend: Backend, test: Test)
where
    Test: FnOnce(Backend) -> Run,
    Run: Future<Output = ()>,
{
    test(backend).await;
}

/// The rejection `result` must be.
pub(crate) fn rejection(result: Result<impl std::fmt::Debug, StoreError>) -> Rejection {
    match result {
        Err(StoreError::Rejected(rejection)) => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// An organization named `name`, made at [`NOW`] and not stored.
pub(crate) fn new_organization(name: &str) -> Organization {
    crate::support::new_organization(name, NOW)
}

/// A stored organization named `name`, made at [`NOW`].
pub(crate) async fn organization(store: &Arc<dyn Store>, name: &str) -> Organization {
    crate::support::organization(store, name, NOW).await
}

/// A team of `org` named `name`, not stored.
pub(crate) fn new_team(org: &OrgId, name: &str) -> Team {
    NewTeam {
        org_id: org.clone(),
        name: TeamName::parse(name).unwrap(),
    }
    .into_team(NOW)
}

/// A stored team of `org` with no members.
pub(crate) async fn stored_team(store: &Arc<dyn Store>, org: &OrgId, name: &str) -> Team {
    let team = new_team(org, name);
    store.create_team(&team, &[]).await.unwrap();
    team
}

/// A project of `org` named `name`, not stored.
pub(crate) fn new_project(org: &OrgId, name: &str) -> Group {
    NewGroup {
        org_id: org.clone(),
        name: ProjectName::parse(name).unwrap(),
        tags: vec![],
        with_default_alerts_settings: true,
    }
    .into_group(NOW)
}

/// A stored project of `org`, made by no key.
pub(crate) async fn stored_project(store: &Arc<dyn Store>, org: &OrgId, name: &str) -> Group {
    let group = new_project(org, name);
    store.create_group(&group, None).await.unwrap();
    group
}

pub(crate) use crate::support::new_api_key;

/// A Member key of `org` with `project_roles`, not stored.
pub(crate) fn org_key(org: &OrgId, project_roles: Vec<ProjectGrant>) -> (ApiKey, DigestHa1) {
    NewApiKey {
        project_roles,
        ..new_api_key(org)
    }
    .into_api_key(NOW)
}

/// A stored service account of `org`, an Organization Member with one secret, made at `NOW`.
pub(crate) async fn stored_service_account(store: &Arc<dyn Store>, org: &OrgId) -> ServiceAccount {
    let (secret, _) = ServiceAccountSecret::generate(NOW, 8);
    let account = ServiceAccount {
        client_id: orgdoor_domain::ClientId::generate(NOW),
        org_id: org.clone(),
        name: "deployer".into(),
        description: "ships things".into(),
        roles: OrgRoles::single(OrgRole::Member),
        created_at: NOW,
        secrets: vec![secret],
    };
    store.create_service_account(&account).await.unwrap();
    account
}

/// Stores `new` and returns the key.
pub(crate) async fn stored_api_key(store: &Arc<dyn Store>, new: NewApiKey) -> ApiKey {
    crate::support::store_api_key(store, new, NOW).await.0
}

/// An invitation of `username` into `org` as a Member, with no teams or projects.
pub(crate) fn invitation(org: &OrgId, username: &str) -> NewInvitation {
    NewInvitation {
        org_id: org.clone(),
        username: username.parse::<EmailAddress>().unwrap(),
        roles: OrgRoles::single(OrgRole::Member),
        team_ids: vec![],
        group_role_assignments: vec![],
        inviter_username: "abcdefgh".into(),
    }
}

/// Makes `new` into an invitation at `at` and stores it; returns what was sent.
pub(crate) async fn invite(
    store: &Arc<dyn Store>,
    new: NewInvitation,
    when_pending: WhenPending,
    at: OffsetDateTime,
) -> Invitation {
    let invitation = new.into_invitation(at);
    store
        .invite(&invitation, when_pending, None, at)
        .await
        .unwrap();
    invitation
}

/// A pending invitation of `username` into `org`, made at [`NOW`] where none is pending.
pub(crate) async fn pending(store: &Arc<dyn Store>, org: &OrgId, username: &str) -> Invitation {
    invite(store, invitation(org, username), WhenPending::Refuse, NOW).await
}

/// Accepts the invitation `selector` names into `org` at [`NOW`], with no profile choices.
pub(crate) async fn accept(
    store: &Arc<dyn Store>,
    org: &OrgId,
    selector: InvitationSelector,
) -> OrgUser {
    store
        .answer_invitation(
            org,
            &selector,
            InvitationAnswer::Accept(ProfileChoices::default()),
            NOW,
        )
        .await
        .unwrap()
}

/// Invites `username` into `org` and accepts on their behalf.
pub(crate) async fn member(store: &Arc<dyn Store>, org: &OrgId, username: &str) -> OrgUser {
    let invited = pending(store, org, username).await;
    accept(store, org, InvitationSelector::Id(invited.id)).await
}

/// The user `id` of `org`, who must be there (as a member or an invitee).
pub(crate) async fn org_user(store: &Arc<dyn Store>, org: &OrgId, id: &UserId) -> OrgUser {
    store.get_org_user(org, id).await.unwrap().unwrap()
}

/// The invitation `user` is, who must be an invitee.
pub(crate) fn invited(user: OrgUser) -> Invitation {
    match user {
        OrgUser::Invited(invitation) => invitation,
        other => panic!("expected an invitee, got {other:?}"),
    }
}

/// Every invitation of `org` pending at `at`, through the invitations API.
pub(crate) async fn pending_invitations(
    store: &Arc<dyn Store>,
    org: &OrgId,
    at: OffsetDateTime,
) -> Vec<Invitation> {
    store.list_pending_invitations(org, None, at).await.unwrap()
}

/// The pending invitation `id` of `org` at [`NOW`], which must be there.
pub(crate) async fn pending_invitation(
    store: &Arc<dyn Store>,
    org: &OrgId,
    id: &InvitationId,
) -> Invitation {
    store
        .get_pending_invitation(org, id, NOW)
        .await
        .unwrap()
        .unwrap()
}

/// A filter for the users in `all` of these statuses, with no other condition.
pub(crate) fn statuses(all: &[MembershipStatus]) -> OrgUserFilter {
    OrgUserFilter {
        statuses: all.to_vec(),
        username: None,
        user_id: None,
        team: None,
        project: None,
    }
}

/// The users of one project: adding them and listing them.
pub(crate) struct ProjectUsers<'a> {
    store: &'a Arc<dyn Store>,
    group: &'a Group,
}

impl<'a> ProjectUsers<'a> {
    pub(crate) fn of(store: &'a Arc<dyn Store>, group: &'a Group) -> Self {
        Self { store, group }
    }

    /// Asks to add `username` with one role, `how`, at `at`.
    pub(crate) async fn add(
        &self,
        username: &str,
        role: GroupRole,
        how: ProjectAddition,
        at: OffsetDateTime,
    ) -> Result<OrgUser, StoreError> {
        let roles = GroupRoles::single(role);
        let request = NewInvitation::into_project(
            self.group.org_id.clone(),
            &self.group.id,
            username.parse().unwrap(),
            &roles,
            "abcdefgh".into(),
        )
        .into_invitation(at);
        self.store
            .add_project_user(
                &self.group.id,
                &roles,
                Newcomer {
                    invitation: &request,
                    letter: None,
                },
                how,
                at,
            )
            .await
    }

    /// Adds `username`, who must come out an invitee, and returns their invitation.
    pub(crate) async fn invitee(
        &self,
        username: &str,
        role: GroupRole,
        how: ProjectAddition,
        at: OffsetDateTime,
    ) -> Invitation {
        invited(self.add(username, role, how, at).await.unwrap())
    }

    /// Every user of the project in default list order, with their roles there.
    pub(crate) async fn listed(&self) -> Vec<(String, Vec<GroupRole>)> {
        let filter = OrgUserFilter {
            project: Some(ProjectFilter {
                group: self.group.id.clone(),
                teams: vec![],
                org_roles: vec![],
            }),
            ..statuses(&MembershipStatus::ALL)
        };
        self.store
            .list_org_users(
                &self.group.org_id,
                &filter,
                PageRequest::new(None, None),
                NOW,
            )
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|user| {
                let roles = user
                    .roles_in(&self.group.id)
                    .map(|roles| roles.as_slice().to_vec());
                (user.username().to_string(), roles.unwrap_or_default())
            })
            .collect()
    }
}
