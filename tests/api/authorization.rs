//! Every served operation × every organization role × (own organization, another one): the
//! status and `errorCode` follow the operation's `x-rolesRequirements` in the spec.

use std::collections::BTreeSet;

use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;
use reqwest::Method;

use crate::fixture::{Fixture, version_of};
use crate::harness::{Credentials, TestApp, spawn_app};
use crate::spec;

on_both_stores!(every_operation_checks_the_roles_the_spec_requires);

/// The served operations, destructive ones last.
const OPERATIONS: &[&str] = &[
    "listOrgs",
    "createOrg",
    "getOrg",
    "updateOrg",
    "listOrgInvites",
    "createOrgInvite",
    "updateOrgInvites",
    "getOrgInvite",
    "updateOrgInviteById",
    "listOrgUsers",
    "createOrgUser",
    "getOrgUser",
    "updateOrgUser",
    "addOrgUserRole",
    "removeOrgUserRole",
    "updateOrgUserRoles",
    "listOrgTeams",
    "createOrgTeam",
    "getOrgTeam",
    "renameOrgTeam",
    "listOrgTeamUsers",
    "addOrgTeamUsers",
    "getOrgGroups",
    "listGroups",
    "createGroup",
    "getGroup",
    "updateGroup",
    "listGroupInvites",
    "createGroupInvite",
    "updateGroupInvites",
    "getGroupInvite",
    "updateGroupInviteById",
    "listOrgApiKeys",
    "createOrgApiKey",
    "getOrgApiKey",
    "updateOrgApiKey",
    "listOrgApiKeyAccessListEntries",
    "createOrgApiKeyAccessListEntry",
    "getOrgApiKeyAccessListEntry",
    "listOrgServiceAccounts",
    "createOrgServiceAccount",
    "getOrgServiceAccount",
    "updateOrgServiceAccount",
    "createOrgServiceAccountSecret",
    "listOrgServiceAccountAccessList",
    "createOrgServiceAccountAccessList",
    "deleteOrgInvite",
    "deleteGroupInvite",
    "removeOrgTeamUserFromTeam",
    "removeOrgUser",
    "deleteOrgApiKeyAccessListEntry",
    "deleteOrgServiceAccountAccessListEntry",
    "deleteOrgServiceAccountSecret",
    "deleteOrgServiceAccount",
    "deleteOrgApiKey",
    "deleteOrgTeam",
    "deleteGroup",
    "deleteOrg",
];

/// Which organization roles pass a requirement, and the code the others get. Operations whose
/// spec names no role follow docs/compatibility.md.
fn rule(operation: &str, requirements: &[String]) -> (BTreeSet<OrgRole>, Option<&'static str>) {
    let all: BTreeSet<OrgRole> = OrgRole::ALL.iter().copied().collect();
    let owners: BTreeSet<OrgRole> = [OrgRole::Owner].into();
    let readers: BTreeSet<OrgRole> = [OrgRole::Owner, OrgRole::ReadOnly].into();
    match operation {
        "listOrgs" | "listGroups" => return (all, None),
        "createOrg" | "createOrgApiKeyAccessListEntry" | "deleteOrgApiKeyAccessListEntry" => {
            return (owners, Some("NOT_ORG_OWNER"));
        }
        "createGroup" => {
            return (
                [OrgRole::Owner, OrgRole::GroupCreator].into(),
                Some("NOT_ORG_GROUP_CREATOR"),
            );
        }
        _ => {}
    }
    match requirements.first().map(String::as_str) {
        Some("Organization Owner") => (owners, Some("NOT_ORG_OWNER")),
        Some("Organization Member") => (all, None),
        Some("Organization Read Only") => (readers, Some("USER_UNAUTHORIZED")),
        Some("Project Owner") => (owners, Some("USER_UNAUTHORIZED")),
        Some("Project Read Only") => (readers, Some("USER_UNAUTHORIZED")),
        other => panic!("{operation}: no rule for {other:?}"),
    }
}

/// Calls `operation` on the fixture's resources as `credentials`, with its `n`th body.
async fn call(
    app: &TestApp,
    fixture: &Fixture,
    operation: &str,
    credentials: &Credentials,
    n: usize,
) -> crate::harness::TestResponse {
    let (method, template, _) = spec::roles_required(operation).unwrap();
    let method: Method = method.parse().unwrap();
    let accept = version_of(operation, &template);
    let path = fixture.path(&template, &fixture.org);
    let body = fixture.body(operation, n);
    app.client(credentials)
        .send(method, &path, Some(accept), body.as_ref())
        .await
}

async fn every_operation_checks_the_roles_the_spec_requires(backend: Backend) {
    let app = spawn_app(backend).await;
    let fixture = Fixture::build(&app).await;
    let mut keys = Vec::new();
    for role in OrgRole::ALL {
        keys.push((*role, app.key_with(&[*role]).await));
    }
    let (other_org, other_owner) = app.other_org().await;
    let mut n = 0;
    let mut checked = 0;

    // Refusals first: they change nothing, so every resource is still there for the next one.
    for operation in OPERATIONS {
        let (_, template, requirements) = spec::roles_required(operation)
            .unwrap_or_else(|| panic!("{operation} is not in the spec"));
        let (allowed, code) = rule(operation, &requirements);
        for (role, credentials) in &keys {
            n += 1;
            if allowed.contains(role) {
                continue;
            }
            let response = call(&app, &fixture, operation, credentials, n).await;
            response.assert_error(401, code.unwrap());
            assert!(
                response.header("www-authenticate").is_none(),
                "{operation}: refusals are no challenge"
            );
            checked += 1;
        }
        // The owner of another organization reaches nothing here.
        if template.contains("{orgId}")
            || template.contains("{groupId}")
            || *operation == "createGroup"
        {
            let expected = if template.contains("{groupId}") {
                "USER_CANNOT_ACCESS_GROUP"
            } else {
                "USER_CANNOT_ACCESS_ORG"
            };
            let response = call(&app, &fixture, operation, &other_owner, n).await;
            response.assert_error(401, expected);
            checked += 1;
        }
    }

    // Then every allowed role gets past authorization (destructive operations come last).
    for operation in OPERATIONS
        .iter()
        .filter(|operation| **operation != "deleteOrg")
    {
        let (_, _, requirements) = spec::roles_required(operation).unwrap();
        let (allowed, _) = rule(operation, &requirements);
        for (role, credentials) in keys.iter().filter(|(role, _)| allowed.contains(role)) {
            n += 1;
            let response = call(&app, &fixture, operation, credentials, n).await;
            // Past authorization means an answer about the request itself: a success, or a
            // refusal of its content (a fixture already gone, a name taken) — never an
            // authorization refusal, and never a server error.
            assert!(
                response.status < 500 && !matches!(response.status, 401 | 403),
                "{operation} as {role}: {} {}",
                response.status,
                response.text
            );
            checked += 1;
        }
    }
    assert_eq!(OPERATIONS.len(), 58, "every v2 operation of the contract");
    assert!(checked > 380, "only {checked} checks ran");
    let _ = other_org;
}
