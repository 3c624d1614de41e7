//! The `/api/atlas/v1.0` twins the public client libraries call: organizations, org users,
//! org projects, projects (by id and name), project teams and project users, organization API
//! keys and their access lists. Same state and rules as v2, plain `application/json`, the same
//! paginated shape with v1.0 links.

use reqwest::Method;
use serde_json::json;

use crate::harness::{Credentials, legacy_call, spawn_app};
use orgdoor_domain::OrgRole;
use orgdoor_test_db::Backend;

on_both_stores!(
    v1_reads_see_what_v2_writes,
    v1_writes_are_seen_by_v2,
    v1_follows_the_same_rules,
    v1_teams_work_as_the_legacy_go_client_calls_them,
    v1_api_keys_work_as_the_legacy_go_client_calls_them,
    v1_api_key_access_lists_work_as_the_legacy_go_client_calls_them,
    v1_api_keys_follow_the_v2_rules,
);

const V1: &str = "/api/atlas/v1.0";

async fn v1_reads_see_what_v2_writes(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let team = app.create_team("Platform").await;
    let member = app
        .project_member("amy@example.com", &group, &["GROUP_READ_ONLY"])
        .await;
    app.pending_user("bob@example.com", &["ORG_MEMBER"]).await;
    app.owner()
        .post(
            &format!("/api/atlas/v2/groups/{group}/teams"),
            &json!([{"teamId": team, "roleNames": ["GROUP_OWNER"]}]),
        )
        .await;
    let owner = app.owner();
    let org = &app.org_id;

    let orgs = owner.get(&format!("{V1}/orgs")).await;
    orgs.assert_legacy(200);
    assert_eq!(orgs.json["results"][0]["id"], *org);
    assert_eq!(
        orgs.json["links"][0]["href"],
        format!(
            "{}{V1}/orgs?includeCount=true&pageNum=1&itemsPerPage=100",
            app.base_url
        )
    );
    assert_eq!(
        owner.get(&format!("{V1}/orgs/{org}")).await.json["name"],
        "Test-Org"
    );

    let users = owner.get(&format!("{V1}/orgs/{org}/users")).await;
    assert_eq!(users.status, 200, "{}", users.text);
    assert_eq!(users.json["totalCount"], 1, "members only, as in v1.0");
    assert_eq!(users.json["results"][0]["emailAddress"], "amy@example.com");
    assert_eq!(
        users.json["results"][0]["links"][0]["href"],
        format!("{}{V1}/users/{member}", app.base_url)
    );
    // The link leads somewhere, as does the look-up by name.
    let user = owner.get(&format!("{V1}/users/{member}")).await;
    assert_eq!(user.status, 200, "{}", user.text);
    assert_eq!(
        owner
            .get(&format!("{V1}/users/byName/amy@example.com"))
            .await
            .json["id"],
        member
    );

    let projects = owner.get(&format!("{V1}/orgs/{org}/groups")).await;
    assert_eq!(projects.json["results"][0]["id"], group);
    assert_eq!(
        owner.get(&format!("{V1}/groups")).await.json["totalCount"],
        1
    );
    let by_id = owner.get(&format!("{V1}/groups/{group}")).await;
    assert_eq!(by_id.json["name"], "Payments");
    assert_eq!(
        by_id.json["links"][0]["href"],
        format!("{}{V1}/groups/{group}", app.base_url)
    );
    let by_name = owner.get(&format!("{V1}/groups/byName/Payments")).await;
    assert_eq!(by_name.json["id"], group);

    let teams = owner.get(&format!("{V1}/groups/{group}/teams")).await;
    assert_eq!(teams.status, 200, "{}", teams.text);
    assert_eq!(teams.json["results"][0]["teamId"], team);
    let project_users = owner.get(&format!("{V1}/groups/{group}/users")).await;
    assert_eq!(project_users.json["results"][0]["id"], member);
}

async fn v1_writes_are_seen_by_v2(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.owner();
    let created = owner
        .post(
            &format!("{V1}/groups"),
            &json!({"name": "Ledger", "orgId": app.org_id}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let group = created.id();
    let team = app.create_team("Platform").await;
    owner
        .assign_team_at(
            &format!("{V1}/groups/{group}/teams"),
            &team,
            &["GROUP_READ_ONLY"],
        )
        .await;
    let renamed = owner
        .patch(
            &format!("{V1}/orgs/{}", app.org_id),
            &json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);

    let seen = owner
        .get(&format!("/api/atlas/v2/groups/{group}/teams"))
        .await;
    assert_eq!(
        seen.json["results"][0]["roleNames"],
        json!(["GROUP_READ_ONLY"])
    );
    assert_eq!(
        owner
            .get(&format!("/api/atlas/v2/orgs/{}", app.org_id))
            .await
            .json["name"],
        "Renamed"
    );
    let removed = owner
        .delete(&format!("{V1}/groups/{group}/teams/{team}"))
        .await;
    assert_eq!(removed.status, 204);
    let deleted = owner.delete(&format!("{V1}/groups/{group}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    owner
        .get(&format!("/api/atlas/v2/groups/{group}"))
        .await
        .assert_error(404, "GROUP_NOT_FOUND");
}

async fn v1_follows_the_same_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = app.create_project("Payments").await;
    let member_key = app.key_with(&[OrgRole::Member]).await;
    let member = app.client(&member_key);
    member
        .patch(
            &format!("{V1}/orgs/{}", app.org_id),
            &json!({"name": "Mine"}),
        )
        .await
        .assert_error(401, "NOT_ORG_OWNER");
    member
        .get(&format!("{V1}/groups/{group}/teams"))
        .await
        .assert_error(401, "USER_UNAUTHORIZED");
    app.owner()
        .get(&format!("{V1}/groups/5f0000000000000000000001"))
        .await
        .assert_error(404, "GROUP_NOT_FOUND");
    app.owner()
        .get(&format!("{V1}/orgs/nope/users"))
        .await
        .assert_error(404, "INVALID_ORG_ID");
    // v1.0 has no version negotiation: any Accept is served as JSON.
    let any = app
        .owner()
        .send(
            reqwest::Method::GET,
            &format!("{V1}/orgs/{}/groups", app.org_id),
            Some("application/vnd.atlas.2099-01-01+json"),
            None,
        )
        .await;
    any.assert_legacy(200);
}

/// `go.mongodb.org/atlas` `TeamsService`: create, list, get, by name, rename, members (added as
/// `[{"id": …}]`, listed, removed) and delete, all under `/api/atlas/v1.0` with plain JSON, and
/// what it does is what v2 sees.
async fn v1_teams_work_as_the_legacy_go_client_calls_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let amy = app.pending_user("amy@example.com", &["ORG_MEMBER"]).await;
    app.answer(&amy, "accept", None).await;
    let bob = app.pending_user("bob@example.com", &["ORG_MEMBER"]).await;
    app.answer(&bob, "accept", None).await;
    let owner = app.owner();
    let teams = format!("{V1}/orgs/{}/teams", app.org_id);
    let created = owner
        .legacy_post(
            &teams,
            json!({"name": "Platform", "usernames": ["amy@example.com"]}),
        )
        .await;
    created.assert_legacy(200);
    assert_eq!(created.json["usernames"], json!(["amy@example.com"]));
    let team = created.id();

    let listed = owner.legacy_get(&teams).await;
    assert_eq!(listed.json["totalCount"], 1);
    assert_eq!(listed.json["results"][0]["id"], team.as_str());
    assert_eq!(
        listed.json["links"][0]["href"]
            .as_str()
            .unwrap()
            .split('?')
            .next(),
        Some(format!("{}{teams}", app.base_url).as_str())
    );
    let got = owner.legacy_get(&format!("{teams}/{team}")).await;
    assert_eq!(got.json["name"], "Platform");
    let by_name = owner.legacy_get(&format!("{teams}/byName/Platform")).await;
    assert_eq!(by_name.json["id"], team.as_str());
    let renamed = owner
        .legacy_patch(&format!("{teams}/{team}"), json!({"name": "Infra"}))
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.json["name"], "Infra");

    let members = format!("{teams}/{team}/users");
    let added = owner.legacy_post(&members, json!([{"id": bob}])).await;
    assert_eq!(added.status, 200, "{}", added.text);
    let listed = owner.legacy_get(&members).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let mut addresses = crate::harness::strings(&listed.json["results"], "emailAddress");
    addresses.sort_unstable();
    assert_eq!(addresses, ["amy@example.com", "bob@example.com"]);
    let removed = owner.legacy_delete(&format!("{members}/{amy}")).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let seen = owner
        .get(&format!(
            "/api/atlas/v2/orgs/{}/teams/{team}/users",
            app.org_id
        ))
        .await;
    assert_eq!(seen.json["totalCount"], 1, "{}", seen.text);
    assert_eq!(seen.json["results"][0]["id"], bob.as_str());

    // Only owners change teams, in v1.0 as in v2.
    let member = app.client_with(&[OrgRole::Member]).await;
    member
        .legacy_patch(&format!("{teams}/{team}"), json!({"name": "Mine"}))
        .await
        .assert_error(401, "NOT_ORG_OWNER");

    let deleted = owner.legacy_delete(&format!("{teams}/{team}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    owner
        .legacy_get(&format!("{teams}/{team}"))
        .await
        .assert_error(404, "TEAM_NOT_FOUND");
}

const MASKED: &str = "********-****-****-************";

/// `go.mongodb.org/atlas` `APIKeysService`: create (`APIKeyInput{desc, roles}`), list, get,
/// update and delete under `/api/atlas/v1.0`, answering the fields its `APIKey` reads (`id`,
/// `desc`, `roles[{groupId|orgId, roleName}]`, `privateKey`, `publicKey`); what v1.0 writes v2
/// sees and the other way round; the private key is shown by the create answer only.
async fn v1_api_keys_work_as_the_legacy_go_client_calls_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.owner();
    let org = &app.org_id;
    let keys = format!("{V1}/orgs/{org}/apiKeys");
    let v2_keys = format!("/api/atlas/v2/orgs/{org}/apiKeys");

    let created = owner
        .legacy_post(&keys, json!({"desc": "Legacy CI", "roles": ["ORG_MEMBER"]}))
        .await;
    created.assert_legacy(200);
    assert_eq!(created.json["desc"], "Legacy CI");
    assert_eq!(
        created.json["roles"],
        json!([{"orgId": org, "roleName": "ORG_MEMBER"}])
    );
    let id = created.id();
    let public_key = created.json["publicKey"].as_str().unwrap().to_owned();
    let private_key = created.json["privateKey"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&private_key).is_ok(), "{private_key}");
    assert_eq!(
        created.json["links"][0]["href"],
        format!("{}{keys}/{id}", app.base_url)
    );
    // The key it printed works, with the roles it was given.
    let made = app.client(&Credentials {
        public_key: public_key.clone(),
        private_key,
    });
    assert_eq!(
        made.legacy_get(&format!("{V1}/orgs/{org}")).await.status,
        200
    );
    made.legacy_post(&keys, json!({"desc": "x", "roles": ["ORG_OWNER"]}))
        .await
        .assert_error(401, "NOT_ORG_OWNER");

    let listed = owner.legacy_get(&keys).await;
    listed.assert_legacy(200);
    assert_eq!(
        listed.json["totalCount"], 2,
        "the owner's key and the new one"
    );
    let results = listed.json["results"].as_array().unwrap();
    assert!(results.iter().any(|key| key["id"] == id.as_str()));
    assert!(results.iter().all(|key| key["privateKey"] == MASKED));
    assert!(
        listed.json["links"][0]["href"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}{keys}?", app.base_url)),
        "{}",
        listed.text
    );

    // `List` with `ListOptions` adds `pageNum`, `itemsPerPage` and `includeCount`.
    let paged = owner
        .legacy_get(&format!(
            "{keys}?pageNum=2&itemsPerPage=1&includeCount=true"
        ))
        .await;
    assert_eq!(paged.status, 200, "{}", paged.text);
    assert_eq!(paged.json["totalCount"], 2);
    assert_eq!(paged.json["results"].as_array().unwrap().len(), 1);

    let key = format!("{keys}/{id}");
    let got = owner.legacy_get(&key).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["id"], id.as_str());
    assert_eq!(got.json["desc"], "Legacy CI");
    assert_eq!(got.json["publicKey"], public_key.as_str());
    assert_eq!(got.json["privateKey"], MASKED);
    assert_eq!(got.json["roles"], created.json["roles"]);
    // v2 sees what v1.0 made.
    let seen = owner.get(&format!("{v2_keys}/{id}")).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert_eq!(seen.json["desc"], "Legacy CI");

    // `Update` sends the same `APIKeyInput`.
    let updated = owner.legacy_patch(&key, json!({"desc": "Legacy CI (read only)", "roles": ["ORG_READ_ONLY", "ORG_BILLING_ADMIN"]}))
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json["desc"], "Legacy CI (read only)");
    assert_eq!(updated.json["privateKey"], MASKED);
    let mut roles: Vec<&str> = updated.json["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|role| {
            assert_eq!(role["orgId"], org.as_str());
            role["roleName"].as_str().unwrap()
        })
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, ["ORG_BILLING_ADMIN", "ORG_READ_ONLY"]);
    let seen = owner.get(&format!("{v2_keys}/{id}")).await;
    assert_eq!(seen.json["desc"], "Legacy CI (read only)");
    assert_eq!(seen.json["roles"], updated.json["roles"]);

    // v1.0 sees what v2 makes and changes.
    let from_v2 = owner
        .post(
            &v2_keys,
            &json!({"desc": "Made in v2", "roles": ["ORG_GROUP_CREATOR"]}),
        )
        .await;
    assert_eq!(from_v2.status, 200, "{}", from_v2.text);
    let v2_id = from_v2.json["id"].as_str().unwrap();
    assert_eq!(
        owner
            .patch(
                &format!("{v2_keys}/{v2_id}"),
                &json!({"desc": "Renamed in v2"})
            )
            .await
            .status,
        200
    );
    let got = owner.legacy_get(&format!("{keys}/{v2_id}")).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["desc"], "Renamed in v2");
    assert_eq!(got.json["privateKey"], MASKED);
    assert_eq!(got.json["roles"][0]["roleName"], "ORG_GROUP_CREATOR");
    assert_eq!(owner.legacy_get(&keys).await.json["totalCount"], 3);

    let deleted = owner.legacy_delete(&key).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert!(deleted.text.is_empty());
    owner.assert_legacy_gone(&key, "RESOURCE_NOT_FOUND").await;
    owner
        .get(&format!("{v2_keys}/{id}"))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    // A deleted key no longer authenticates.
    let refused = made.legacy_get(&format!("{V1}/orgs/{org}")).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    // And what v2 deletes is gone from v1.0.
    assert_eq!(
        owner.delete(&format!("{v2_keys}/{v2_id}")).await.status,
        204
    );
    owner
        .legacy_get(&format!("{keys}/{v2_id}"))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

/// `go.mongodb.org/atlas` `AccessListAPIKeysService`: create (a JSON array of
/// `AccessListAPIKeysReq{ipAddress|cidrBlock}`), list, get and delete under
/// `/api/atlas/v1.0/orgs/{orgId}/apiKeys/{apiUserId}/accessList`, answering the fields its
/// `AccessListAPIKey` reads; a CIDR block is addressed URL-encoded (`10.0.0.0%2F24`), an IPv6
/// address as written; v1.0 and v2 see each other's entries.
async fn v1_api_key_access_lists_work_as_the_legacy_go_client_calls_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.owner();
    let org = &app.org_id;
    let created = owner
        .legacy_post(
            &format!("{V1}/orgs/{org}/apiKeys"),
            json!({"desc": "Fenced", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.id();
    let fenced = app.client(&Credentials::of_api_key(&created.json));
    let access_list = format!("{V1}/orgs/{org}/apiKeys/{id}/accessList");
    let v2_access_list = format!("/api/atlas/v2/orgs/{org}/apiKeys/{id}/accessList");

    let empty = owner.legacy_get(&access_list).await;
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(empty.json["totalCount"], 0);

    let added = owner
        .legacy_post(
            &access_list,
            json!([
                {"ipAddress": "192.0.2.10"},
                {"cidrBlock": "10.0.0.0/24"},
                {"ipAddress": "2001:db8::1"},
            ]),
        )
        .await;
    added.assert_legacy(200);
    assert_eq!(added.json["totalCount"], 3, "{}", added.text);
    let entries = added.json["results"].as_array().unwrap();
    let entry = |cidr: &str| {
        entries
            .iter()
            .find(|entry| entry["cidrBlock"] == cidr)
            .unwrap_or_else(|| panic!("no {cidr} in {}", added.text))
            .clone()
    };
    let single = entry("192.0.2.10/32");
    assert_eq!(single["ipAddress"], "192.0.2.10");
    assert_eq!(single["created"], "2026-08-10T03:03:37Z");
    let block = entry("10.0.0.0/24");
    assert!(block.get("ipAddress").is_none(), "{block}");
    let block_link = block["links"][0]["href"].as_str().unwrap();
    assert_eq!(
        block_link,
        format!("{}{access_list}/10.0.0.0%2F24", app.base_url)
    );
    // IPv6 is written out in full, as the spec's patterns want.
    let v6 = entry("2001:db8:0:0:0:0:0:1/128");
    assert_eq!(v6["ipAddress"], "2001:db8:0:0:0:0:0:1");
    assert!(
        entries.iter().all(|entry| entry["links"][0]["href"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}{access_list}/", app.base_url))),
        "{}",
        added.text
    );
    let listed = owner.legacy_get(&access_list).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json["results"], added.json["results"]);
    assert_eq!(owner.get(&v2_access_list).await.json["totalCount"], 3);

    // The list is enforced on the key, under v1.0 too: the tests connect from 127.0.0.1.
    fenced
        .legacy_get(&format!("{V1}/orgs/{org}"))
        .await
        .assert_error(403, "IP_ADDRESS_NOT_ON_WHITELIST");

    // `Get` by address, by URL-encoded CIDR block (the entry's own link), by IPv6 address.
    let got = owner.legacy_get(&format!("{access_list}/192.0.2.10")).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["ipAddress"], "192.0.2.10");
    assert_eq!(got.json["cidrBlock"], "192.0.2.10/32");
    let block_path = block_link.strip_prefix(&app.base_url).unwrap().to_owned();
    let got = owner.legacy_get(&block_path).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["cidrBlock"], "10.0.0.0/24");
    assert_eq!(got.json["links"][0]["href"], block_link);
    let v6_path = format!("{access_list}/2001:db8::1");
    let got = owner.legacy_get(&v6_path).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["cidrBlock"], "2001:db8:0:0:0:0:0:1/128");
    let written_out = format!("{access_list}/2001:db8:0:0:0:0:0:1");
    assert_eq!(owner.legacy_get(&written_out).await.status, 200);
    let v6_link = v6["links"][0]["href"].as_str().unwrap();
    assert_eq!(
        v6_link,
        format!("{}{access_list}/2001:db8:0:0:0:0:0:1%2F128", app.base_url)
    );
    let by_link = v6_link.strip_prefix(&app.base_url).unwrap();
    assert_eq!(
        owner.legacy_get(by_link).await.json["cidrBlock"],
        "2001:db8:0:0:0:0:0:1/128"
    );

    // What v2 adds, v1.0 finds, and the other way round.
    let from_v2 = owner
        .post(&v2_access_list, &json!([{"cidrBlock": "198.51.100.0/25"}]))
        .await;
    assert_eq!(from_v2.status, 200, "{}", from_v2.text);
    let got = owner
        .legacy_get(&format!("{access_list}/198.51.100.0%2F25"))
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["cidrBlock"], "198.51.100.0/25");
    let seen = owner.get(&format!("{v2_access_list}/10.0.0.0%2F24")).await;
    assert_eq!(seen.status, 200, "{}", seen.text);

    // The `/` of a block must be encoded, as the spec says: unencoded it is a path of its own.
    owner
        .legacy_get(&format!("{access_list}/10.0.0.0/24"))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");

    // `Delete` by URL-encoded CIDR block and by IPv6 address.
    let deleted = owner.legacy_delete(&block_path).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    owner
        .legacy_get(&block_path)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    owner
        .get(&format!("{v2_access_list}/10.0.0.0%2F24"))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    owner
        .legacy_delete(&block_path)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    let deleted = owner.legacy_delete(&v6_path).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_eq!(
        owner
            .delete(&format!("{v2_access_list}/198.51.100.0%2F25"))
            .await
            .status,
        204
    );
    let left = owner.legacy_get(&access_list).await;
    assert_eq!(left.json["totalCount"], 1, "{}", left.text);
    assert_eq!(left.json["results"][0]["ipAddress"], "192.0.2.10");

    // Adding the tests' own address lets the key in again.
    let allowed = owner
        .legacy_post(&access_list, json!([{"cidrBlock": "127.0.0.0/8"}]))
        .await;
    assert_eq!(allowed.json["totalCount"], 2, "{}", allowed.text);
    assert_eq!(
        fenced.legacy_get(&format!("{V1}/orgs/{org}")).await.status,
        200
    );

    // Bad entries get v2's errors.
    for (body, status, code) in [
        (
            json!([{"ipAddress": "999.1.1.1"}]),
            400,
            "INVALID_IP_ADDRESS_OR_CIDR_NOTATION",
        ),
        (json!([{}]), 400, "MISSING_ATTRIBUTE"),
        (
            json!([{"ipAddress": "10.0.0.1", "cidrBlock": "10.0.0.0/8"}]),
            400,
            "VALIDATION_ERROR",
        ),
        (json!({"ipAddress": "10.0.0.1"}), 400, "INVALID_JSON"),
    ] {
        legacy_call(&owner, Method::POST, &access_list, Some(body))
            .await
            .assert_error(status, code);
    }
    owner
        .legacy_get(&format!("{access_list}/not-an-ip"))
        .await
        .assert_error(400, "INVALID_IP_ADDRESS_OR_CIDR_NOTATION");
    assert_eq!(
        owner.legacy_get(&access_list).await.json["totalCount"],
        2,
        "nothing was added"
    );
}

/// An `ORG_MEMBER` key reads keys and access lists but changes nothing, and another
/// organization's key reaches none of it, in v1.0 as in v2.
async fn v1_api_keys_follow_the_v2_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.owner();
    let org = &app.org_id;
    let keys = format!("{V1}/orgs/{org}/apiKeys");
    let created = owner
        .legacy_post(&keys, json!({"desc": "Target", "roles": ["ORG_MEMBER"]}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let key = format!("{keys}/{}", created.json["id"].as_str().unwrap());
    let access_list = format!("{key}/accessList");
    let entry = format!("{access_list}/10.0.0.0%2F24");
    let added = owner
        .legacy_post(&access_list, json!([{"cidrBlock": "10.0.0.0/24"}]))
        .await;
    assert_eq!(added.status, 200, "{}", added.text);

    let member = app.client_with(&[OrgRole::Member]).await;
    for path in [&keys, &key, &access_list, &entry] {
        let read = member.legacy_get(path).await;
        assert_eq!(read.status, 200, "{path}: {}", read.text);
    }
    let writes = [
        (
            Method::POST,
            &keys,
            Some(json!({"desc": "Mine", "roles": ["ORG_OWNER"]})),
        ),
        (
            Method::PATCH,
            &key,
            Some(json!({"desc": "Mine", "roles": ["ORG_OWNER"]})),
        ),
        (Method::DELETE, &key, None),
        (
            Method::POST,
            &access_list,
            Some(json!([{"ipAddress": "192.0.2.1"}])),
        ),
        (Method::DELETE, &entry, None),
    ];
    for (method, path, body) in writes.clone() {
        legacy_call(&member, method, path, body)
            .await
            .assert_error(401, "NOT_ORG_OWNER");
    }

    let (other_org, other_owner) = app.other_org().await;
    let other = app.client(&other_owner);
    for path in [&keys, &key, &access_list, &entry] {
        other
            .legacy_get(path)
            .await
            .assert_error(401, "USER_CANNOT_ACCESS_ORG");
    }
    for (method, path, body) in writes {
        legacy_call(&other, method, path, body)
            .await
            .assert_error(401, "USER_CANNOT_ACCESS_ORG");
    }
    // Nor can it reach the key through its own organization's paths.
    let theirs = key.replacen(org.as_str(), &other_org, 1);
    other
        .assert_legacy_gone(&theirs, "RESOURCE_NOT_FOUND")
        .await;
    other
        .legacy_delete(&format!("{theirs}/accessList/10.0.0.0%2F24"))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");

    // Nothing changed.
    let unchanged = owner.legacy_get(&key).await;
    assert_eq!(unchanged.json["desc"], "Target");
    assert_eq!(unchanged.json["roles"][0]["roleName"], "ORG_MEMBER");
    assert_eq!(
        owner.legacy_get(&keys).await.json["totalCount"],
        3,
        "the owner's, the target and the member's"
    );
    let list = owner.legacy_get(&access_list).await;
    assert_eq!(list.json["totalCount"], 1);
    assert_eq!(list.json["results"][0]["cidrBlock"], "10.0.0.0/24");
}
