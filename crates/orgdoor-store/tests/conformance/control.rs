//! The control state: a clock offset every instance shares, and a reset that leaves nothing a
//! client made.

use std::sync::Arc;

use orgdoor_domain::{
    AccessToken, AllowedNetwork, GroupRole, GroupRoles, OrgName, OrgRole, OrgRoles,
};
use orgdoor_store::{
    ChangeCursor, ChangedOrganizations, ControlState, Credential, InvitationSelector, Store,
};

use crate::fixtures::{
    NOW, accept, invitation, invite, org_key, organization, pending, stored_project,
    stored_service_account, stored_team,
};

on_every_store!(
    the_clock_offset_is_stored,
    a_reset_deletes_what_clients_made_and_keeps_server_secrets,
    the_credential_generation_moves_with_every_change_to_a_credential,
    a_reading_of_changes_names_each_organization_whose_invitations_or_users_changed,
);

/// PostgreSQL hands out transaction ids in the order transactions begin, not commit: a change
/// whose transaction began first and committed last must still be reported. (SQLite has one
/// writer, so its changes commit in the order they are numbered.)
#[tokio::test]
async fn a_change_committed_after_a_later_one_is_still_reported_on_postgres() {
    use sqlx::Connection as _;

    let (store, database) = crate::support::open(crate::fixtures::Backend::Postgres).await;
    let early = organization(&store, "early-org").await;
    let late = organization(&store, "late-org").await;
    let mut cursor = store
        .read_changes(&ChangeCursor::default())
        .await
        .unwrap()
        .cursor;

    let mut slow = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let mut slow_tx = slow.begin().await.unwrap();
    sqlx::query("INSERT INTO org_changes (org_id) VALUES ($1)")
        .bind(early.id.as_str())
        .execute(&mut *slow_tx)
        .await
        .unwrap();
    pending(&store, &late.id, "late@example.com").await;
    assert_eq!(
        changed_since(&store, &mut cursor, "the later transaction").await,
        vec![late.id.clone()]
    );
    // Pruning with the cursor read while the slow transaction ran keeps its change.
    store.prune_changes(&cursor).await.unwrap();
    slow_tx.commit().await.unwrap();
    assert_eq!(
        changed_since(
            &store,
            &mut cursor,
            "the earlier transaction, committed last"
        )
        .await,
        vec![early.id.clone()]
    );
}

async fn the_clock_offset_is_stored(store: Arc<dyn Store>) {
    assert_eq!(
        store.control_state().await.unwrap(),
        ControlState::default()
    );
    store.set_clock_offset(2_678_400_000).await.unwrap();
    store.set_clock_offset(-1_500).await.unwrap();
    assert_eq!(
        store.control_state().await.unwrap(),
        ControlState {
            clock_offset_ms: -1_500,
            resets: 0
        }
    );
}

async fn a_reset_deletes_what_clients_made_and_keeps_server_secrets(store: Arc<dyn Store>) {
    let secret = store.shared_secret("nonce", &|| vec![4, 2]).await.unwrap();
    let org = organization(&store, "reset-org").await;
    let (key, ha1) = org_key(&org.id, vec![]);
    store.create_api_key(&key, &ha1).await.unwrap();
    stored_team(&store, &org.id, "Team").await;
    stored_project(&store, &org.id, "Project").await;
    pending(&store, &org.id, "someone@example.com").await;
    store.set_clock_offset(60_000).await.unwrap();

    let state = store.reset_everything().await.unwrap();

    assert_eq!(
        state,
        ControlState {
            clock_offset_ms: 0,
            resets: 1
        }
    );
    assert_eq!(store.control_state().await.unwrap(), state);
    assert!(store.get_organization(&org.id).await.unwrap().is_none());
    assert!(store.find_api_key(&key.public_key).await.unwrap().is_none());
    assert_eq!(
        store.shared_secret("nonce", &|| vec![9]).await.unwrap(),
        secret
    );
    // The store takes new data as before.
    let again = organization(&store, "reset-org").await;
    assert_eq!(again.name.as_str(), "reset-org");
    assert_eq!(store.reset_everything().await.unwrap().resets, 2);
}

async fn the_credential_generation_moves_with_every_change_to_a_credential(store: Arc<dyn Store>) {
    let org = organization(&store, "generation-org").await;
    let (key, ha1) = org_key(&org.id, vec![]);
    store.create_api_key(&key, &ha1).await.unwrap();
    let before = store.credential_generation().await.unwrap();
    // What cannot change a credential already read leaves it where it is.
    pending(&store, &org.id, "someone@example.com").await;
    stored_team(&store, &org.id, "Team").await;
    let (other_key, other_ha1) = org_key(&org.id, vec![]);
    store.create_api_key(&other_key, &other_ha1).await.unwrap();
    assert_eq!(store.credential_generation().await.unwrap(), before);

    let mut seen = before;
    let mut moved = async |what: &str| {
        let now = store.credential_generation().await.unwrap();
        assert!(
            now > seen,
            "{what} did not move the generation ({seen} -> {now})"
        );
        seen = now;
    };
    let owner = OrgRoles::new([OrgRole::Owner]).unwrap();
    store
        .update_api_key(&org.id, &key.id, None, Some(&owner))
        .await
        .unwrap();
    moved("a role change").await;
    let listed = Credential::ApiKey(key.id.clone());
    let office = AllowedNetwork::from_address("203.0.113.9").unwrap();
    store
        .add_to_access_list(&org.id, &listed, &[office], NOW)
        .await
        .unwrap();
    moved("an access-list entry").await;
    store
        .remove_from_access_list(&org.id, &listed, &office)
        .await
        .unwrap();
    moved("an access-list removal").await;
    store
        .rename_organization(&org.id, &OrgName::parse("renamed-org").unwrap())
        .await
        .unwrap();
    moved("a renamed organization").await;
    store.delete_api_key(&org.id, &key.id).await.unwrap();
    moved("a deleted key").await;

    // Statements that change no row move nothing: a token issued (which sweeps expired
    // tokens, usually none) must not empty every instance's credentials.
    let account = stored_service_account(&store, &org.id).await;
    let quiet = store.credential_generation().await.unwrap();
    let (token, _) = AccessToken::generate(account.client_id.clone(), NOW);
    store
        .issue_access_token(&token, None, NOW, 10)
        .await
        .unwrap();
    let (second_token, _) = AccessToken::generate(account.client_id.clone(), NOW);
    store
        .issue_access_token(&second_token, None, NOW, 10)
        .await
        .unwrap();
    assert!(store.delete_api_key(&org.id, &key.id).await.is_err());
    assert_eq!(store.credential_generation().await.unwrap(), quiet);

    store
        .revoke_access_token(&account.client_id, &token.digest)
        .await
        .unwrap();
    moved("a revoked token").await;
    store
        .update_service_account(&org.id, &account.client_id, None, None, Some(&owner))
        .await
        .unwrap();
    moved("a service account's new roles").await;
    store
        .delete_service_account(&org.id, &account.client_id)
        .await
        .unwrap();
    moved("a deleted service account").await;

    // A project's deletion takes the project roles of keys with it.
    let project = stored_project(&store, &org.id, "Roles").await;
    let (member, member_ha1) = org_key(&org.id, vec![]);
    store.create_api_key(&member, &member_ha1).await.unwrap();
    store
        .grant_api_key_project_roles(
            &project.id,
            &member.id,
            &GroupRoles::single(GroupRole::ReadOnly),
            None,
            NOW,
        )
        .await
        .unwrap();
    moved("a key given a project role").await;
    store.delete_group(&project.id).await.unwrap();
    moved("a deleted project").await;
    store.delete_organization(&org.id).await.unwrap();
    moved("a deleted organization").await;

    store.reset_everything().await.unwrap();
    moved("a reset").await;
}

async fn a_reading_of_changes_names_each_organization_whose_invitations_or_users_changed(
    store: Arc<dyn Store>,
) {
    let first = store.read_changes(&ChangeCursor::default()).await.unwrap();
    assert_eq!(first.organizations, ChangedOrganizations::Every);
    assert_eq!(
        first.credential_generation,
        store.credential_generation().await.unwrap()
    );
    let mut cursor = first.cursor;
    let store = &store;

    let org = organization(store, "changes-org").await;
    let other = organization(store, "changes-other").await;
    let mut both = vec![org.id.clone(), other.id.clone()];
    both.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(
        changed_since(store, &mut cursor, "two new organizations").await,
        both
    );
    assert_eq!(changed_since(store, &mut cursor, "nothing").await, vec![]);

    let team = stored_team(store, &org.id, "Team").await;
    let project = stored_project(store, &org.id, "Project").await;
    // Teams and projects alone show in no invitation or user.
    assert_eq!(
        changed_since(store, &mut cursor, "a team and a project").await,
        vec![]
    );

    let mut new = invitation(&org.id, "changes@example.com");
    new.team_ids = vec![team.id.clone()];
    new.group_role_assignments = vec![orgdoor_domain::GroupRoleAssignment {
        group_id: project.id.clone(),
        role: GroupRole::ReadOnly,
    }];
    let invited = invite(store, new, orgdoor_store::WhenPending::Refuse, NOW).await;
    assert_eq!(
        changed_since(store, &mut cursor, "an invitation").await,
        vec![org.id.clone()]
    );
    pending(store, &other.id, "other@example.com").await;
    assert_eq!(
        changed_since(store, &mut cursor, "an invitation elsewhere").await,
        vec![other.id.clone()]
    );

    store.delete_group(&project.id).await.unwrap();
    assert_eq!(
        changed_since(store, &mut cursor, "a project an invitation names, deleted").await,
        vec![org.id.clone()]
    );
    store.delete_team(&org.id, &team.id).await.unwrap();
    assert_eq!(
        changed_since(store, &mut cursor, "a team an invitation names, deleted").await,
        vec![org.id.clone()]
    );
    accept(store, &org.id, InvitationSelector::Id(invited.id)).await;
    assert_eq!(
        changed_since(store, &mut cursor, "an accepted invitation").await,
        vec![org.id.clone()]
    );
    store
        .rename_organization(&other.id, &OrgName::parse("changes-renamed").unwrap())
        .await
        .unwrap();
    assert_eq!(
        changed_since(store, &mut cursor, "a renamed organization").await,
        vec![other.id.clone()]
    );
    store.delete_organization(&other.id).await.unwrap();
    assert_eq!(
        changed_since(store, &mut cursor, "a deleted organization").await,
        vec![other.id.clone()]
    );

    // Records every instance has read can go; what follows is still reported.
    store.prune_changes(&cursor).await.unwrap();
    pending(store, &org.id, "after-prune@example.com").await;
    assert_eq!(
        changed_since(store, &mut cursor, "an invitation after pruning").await,
        vec![org.id.clone()]
    );

    store.reset_everything().await.unwrap();
    let reading = store.read_changes(&cursor).await.unwrap();
    assert_eq!(reading.organizations, ChangedOrganizations::Every);
    let after = store.read_changes(&reading.cursor).await.unwrap();
    assert_eq!(after.organizations, ChangedOrganizations::These(vec![]));
}

/// The organizations a reading since `cursor` names, sorted, once each; moves `cursor` on.
async fn changed_since(
    store: &Arc<dyn Store>,
    cursor: &mut ChangeCursor,
    what: &str,
) -> Vec<orgdoor_domain::OrgId> {
    let reading = store.read_changes(cursor).await.unwrap();
    *cursor = reading.cursor;
    match reading.organizations {
        ChangedOrganizations::These(mut orgs) => {
            orgs.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            orgs.dedup();
            orgs
        }
        ChangedOrganizations::Every => panic!("{what}: every organization changed"),
    }
}
