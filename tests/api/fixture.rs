//! Resources in a test organization that every operation can act on, and a valid body for each
//! operation that takes one: shared by the tests that drive every operation of the spec.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestApp;

pub const V2023: &str = "application/vnd.atlas.2023-01-01+json";
pub const V2024: &str = "application/vnd.atlas.2024-08-05+json";
pub const V2025: &str = "application/vnd.atlas.2025-02-19+json";

/// The version to call an operation in: its newest where it has several.
pub fn version_of(operation: &str, template: &str) -> &'static str {
    match operation {
        "updateOrgUserRoles" | "addOrgTeamUsers" | "removeOrgTeamUserFromTeam" => V2023,
        _ if template.contains("/users") => V2025,
        _ if template.contains("serviceAccounts") => V2024,
        _ => V2023,
    }
}

/// Resources the operations act on, all in the test organization.
pub struct Fixture {
    pub org: String,
    pub team: String,
    pub group: String,
    pub invitation: String,
    pub invitee: String,
    pub project_invitation: String,
    pub project_invitee: String,
    pub api_key: String,
    pub client_id: String,
    pub secret_id: String,
    /// A member (accepted invitation) of the organization.
    pub member: String,
}

impl Fixture {
    pub async fn build(app: &TestApp) -> Self {
        let owner = app.owner();
        let team = app.create_team("Fixture").await;
        let group = app.create_project("Fixture").await;
        let invitation = app
            .invite("fixture@example.com", &["ORG_MEMBER"])
            .await
            .id();
        let member = app.member("member@example.com", &["ORG_MEMBER"]).await;
        // The member is a user of the project too, for the project-user operations.
        let added = owner
            .send(
                Method::POST,
                &format!("/api/atlas/v2/groups/{group}/users"),
                Some(V2025),
                Some(&json!({"username": "member@example.com", "roles": ["GROUP_READ_ONLY"]})),
            )
            .await;
        assert_eq!(added.status, 201, "{}", added.text);
        let project_invitation = owner
            .post(
                &format!("/api/atlas/v2/groups/{group}/invites"),
                &json!({"username": "pfixture@example.com", "roles": ["GROUP_OWNER"]}),
            )
            .await
            .id();
        let api_key = owner
            .post(
                &app.api_keys_path(),
                &json!({"desc": "target", "roles": ["ORG_MEMBER"]}),
            )
            .await
            .id();
        owner
            .post(
                &format!("{}/{api_key}/accessList", app.api_keys_path()),
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

    pub fn path(&self, template: &str, org: &str) -> String {
        let invitation = if template.contains("/groups/") {
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
            .replace("{eventId}", "0123456789abcdef01234567")
            .replace("{teamName}", "Fixture")
            .replace("{groupName}", "Fixture")
            .replace("{userName}", "member@example.com")
    }

    /// A valid body for the operation; `n` keeps names unique.
    pub fn body(&self, operation: &str, n: usize) -> Option<Value> {
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
            "addOrgTeamUser" | "removeOrgTeamUser" => json!({"id": self.member}),
            "addGroupTeams" => json!([{"teamId": self.team, "roleNames": ["GROUP_READ_ONLY"]}]),
            "updateGroupTeam" => json!({"roleNames": ["GROUP_OWNER"]}),
            "createGroupApiKey" => {
                json!({"desc": format!("pkey {n}"), "roles": ["GROUP_READ_ONLY"]})
            }
            "updateApiKeyRoles" => json!({"roles": ["GROUP_READ_ONLY"]}),
            "addGroupApiKey" => json!([{"roles": ["GROUP_READ_ONLY"]}]),
            "addGroupUser" => {
                json!({"username": format!("a{n}@example.com"), "roles": ["GROUP_READ_ONLY"]})
            }
            "addGroupUsers" => {
                json!({"username": format!("g{n}@example.com"), "roles": ["GROUP_READ_ONLY"]})
            }
            "updateGroupUserRoles" => json!({"groupRoles": ["GROUP_READ_ONLY"]}),
            "addGroupUserRole" => json!({"groupRole": "GROUP_OWNER"}),
            "removeGroupUserRole" => json!({"groupRole": "GROUP_CLUSTER_MANAGER"}),
            _ => return None,
        })
    }
}
