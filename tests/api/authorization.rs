//! Every served operation × every organization role × (own organization, another one): the
//! status and `errorCode` follow the operation's `x-rolesRequirements` in the spec.

use std::collections::BTreeSet;

use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Credentials, TestApp, spawn_app};
use crate::spec;

on_both_stores!(every_operation_checks_the_roles_the_spec_requires);

const V2023: &str = "application/vnd.atlas.2023-01-01+json";
const V2024: &str = "application/vnd.atlas.2024-08-05+json";
const V2025: &str = "application/vnd.atlas.2025-02-19+json";

/// The version to call an operation in: its newest where it has several.
fn version_of(operation: &str, template: &str) -> &'static str {
    match operation {
        "updateOrgUserRoles" | "addOrgTeamUsers" | "removeOrgTeamUserFromTeam" => V2023,
        _ if template.contains("/users") => V2025,
        _ if template.contains("serviceAccounts") => V2024,
        _ => V2023,
    }
}

/// Resources the operations act on, all in the test organization.
struct Fixture {
    org: String,
    team: String,
    group: String,
    invitation: String,
    invitee: String,
    project_invitation: String,
    project_invitee: String,
    api_key: String,
    client_id: String,
    secret_id: String,
    /// A member (accepted invitation) of the organization.
    member: String,
}

impl Fixture {
    async fn build(app: &TestApp) -> Self {
        let owner = app.owner();
        let team = app.create_team("Fixture").await;
        let group = app.create_project("Fixture").await;
        let invitation = app
            .invite("fixture@example.com", &["ORG_MEMBER"])
            .await
            .json["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let member = app.member("member@example.com", &["ORG_MEMBER"]).await;
        let project_invitation = owner
            .post(
                &format!("/api/atlas/v2/groups/{group}/invites"),
                &json!({"username": "pfixture@example.com", "roles": ["GROUP_OWNER"]}),
            )
            .await
            .json["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let api_key = owner
            .post(
                &format!("/api/atlas/v2/orgs/{}/apiKeys", app.org_id),
                &json!({"desc": "target", "roles": ["ORG_MEMBER"]}),
            )
            .await
            .json["id"]
            .as_str()
            .unwrap()
            .to_owned();
        owner
            .post(
                &format!(
                    "/api/atlas/v2/orgs/{}/apiKeys/{api_key}/accessList",
                    app.org_id
                ),
                &json!([{"ipAddress": "10.1.1.1"}]),
            )
            .await;
        let account = owner
            .send(
                Method::POST,
                &format!("/api/atlas/v2/orgs/{}/serviceAccounts", app.org_id),
                Some(V2024),
                Some(&json!({"name": "target", "description": "d", "roles": ["ORG_MEMBER"], "secretExpiresAfterHours": 8})),
            )
            .await
            .json;
        let client_id = account["clientId"].as_str().unwrap().to_owned();
        owner
            .send(
                Method::POST,
                &format!(
                    "/api/atlas/v2/orgs/{}/serviceAccounts/{client_id}/accessList",
                    app.org_id
                ),
                Some(V2024),
                Some(&json!([{"ipAddress": "10.1.1.1"}])),
            )
            .await;
        Self {
            org: app.org_id.clone(),
            team,
            group,
            invitation,
            invitee: "fixture@example.com".into(),
            project_invitation,
            project_invitee: "pfixture@example.com".into(),
            api_key,
            secret_id: account["secrets"][0]["id"].as_str().unwrap().to_owned(),
            client_id,
            member,
        }
    }

    fn path(&self, template: &str, org: &str) -> String {
        let invitation = if template.starts_with("/api/atlas/v2/groups") {
            &self.project_invitation
        } else {
            &self.invitation
        };
        template
            .replace("{orgId}", org)
            .replace("{teamId}", &self.team)
            .replace("{groupId}", &self.group)
            .replace("{invitationId}", invitation)
            .replace("{apiUserId}", &self.api_key)
            .replace("{ipAddress}", "10.1.1.1")
            .replace("{clientId}", &self.client_id)
            .replace("{secretId}", &self.secret_id)
            .replace("{userId}", &self.member)
    }

    /// A valid body for the operation; `n` keeps names unique.
    fn body(&self, operation: &str, n: usize) -> Option<Value> {
        Some(match operation {
            "createOrg" => {
                json!({"name": format!("Org-{n}"), "orgOwnerId": "0123456789abcdef01234567"})
            }
            "updateOrg" => json!({"name": format!("Renamed-{n}")}),
            "createOrgInvite" => {
                json!({"username": format!("u{n}@example.com"), "roles": ["ORG_MEMBER"]})
            }
            "updateOrgInvites" => json!({"username": self.invitee, "roles": ["ORG_MEMBER"]}),
            "updateOrgInviteById" => json!({"roles": ["ORG_MEMBER"]}),
            "createOrgTeam" => json!({"name": format!("Team-{n}"), "usernames": []}),
            "renameOrgTeam" => json!({"name": format!("Team-r{n}")}),
            "createGroup" => json!({"name": format!("Group-{n}"), "orgId": self.org}),
            "updateGroup" => json!({"name": format!("Group-r{n}")}),
            "createGroupInvite" => {
                json!({"username": format!("p{n}@example.com"), "roles": ["GROUP_READ_ONLY"]})
            }
            "updateGroupInvites" => {
                json!({"username": self.project_invitee, "roles": ["GROUP_READ_ONLY"]})
            }
            "updateGroupInviteById" => json!({"roles": ["GROUP_READ_ONLY"]}),
            "createOrgApiKey" => json!({"desc": format!("key {n}"), "roles": ["ORG_MEMBER"]}),
            "updateOrgApiKey" => json!({"desc": format!("key r{n}")}),
            "createOrgApiKeyAccessListEntry" | "createOrgServiceAccountAccessList" => {
                json!([{"ipAddress": "10.2.2.2"}])
            }
            "createOrgServiceAccount" => {
                json!({"name": format!("sa {n}"), "description": "d", "roles": ["ORG_MEMBER"], "secretExpiresAfterHours": 8})
            }
            "updateOrgServiceAccount" => json!({"description": format!("d{n}")}),
            "createOrgServiceAccountSecret" => json!({"secretExpiresAfterHours": 8}),
            "createOrgUser" => {
                json!({"username": format!("m{n}@example.com"), "roles": {"orgRoles": ["ORG_MEMBER"]}})
            }
            "updateOrgUser" => json!({"teamIds": []}),
            "addOrgUserRole" => json!({"orgRole": "ORG_READ_ONLY"}),
            "removeOrgUserRole" => json!({"orgRole": "ORG_BILLING_ADMIN"}),
            "updateOrgUserRoles" => json!({"orgRoles": ["ORG_MEMBER"]}),
            "addOrgTeamUsers" => json!([{"id": self.member}]),
            _ => return None,
        })
    }
}

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

async fn call(
    app: &TestApp,
    credentials: &Credentials,
    method: &str,
    path: &str,
    accept: &str,
    body: Option<&Value>,
) -> crate::harness::TestResponse {
    let method: Method = method.parse().unwrap();
    app.client(credentials)
        .send(method, path, Some(accept), body)
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
        let (method, template, requirements) = spec::roles_required(operation)
            .unwrap_or_else(|| panic!("{operation} is not in the spec"));
        let (allowed, code) = rule(operation, &requirements);
        let accept = version_of(operation, &template);
        let path = fixture.path(&template, &fixture.org);
        for (role, credentials) in &keys {
            n += 1;
            if allowed.contains(role) {
                continue;
            }
            let response = call(
                &app,
                credentials,
                &method,
                &path,
                accept,
                fixture.body(operation, n).as_ref(),
            )
            .await;
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
            let response = call(
                &app,
                &other_owner,
                &method,
                &path,
                accept,
                fixture.body(operation, n).as_ref(),
            )
            .await;
            response.assert_error(401, expected);
            checked += 1;
        }
    }

    // Then every allowed role gets past authorization (destructive operations come last).
    for operation in OPERATIONS
        .iter()
        .filter(|operation| **operation != "deleteOrg")
    {
        let (method, template, requirements) = spec::roles_required(operation).unwrap();
        let (allowed, _) = rule(operation, &requirements);
        let accept = version_of(operation, &template);
        let path = fixture.path(&template, &fixture.org);
        for (role, credentials) in keys.iter().filter(|(role, _)| allowed.contains(role)) {
            n += 1;
            let response = call(
                &app,
                credentials,
                &method,
                &path,
                accept,
                fixture.body(operation, n).as_ref(),
            )
            .await;
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
