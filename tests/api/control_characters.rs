//! Control characters (NUL, CR, LF, TAB, DEL, C1 …) in any string field of any request body
//! are refused with an Atlas 400 (404 for a malformed id), identically on both stores, and
//! nothing is written.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{V2023, V2025, spawn_app};
use crate::input_limits::{Fixture, V2024, client, fixture};
use orgdoor_test_db::Backend;

on_both_stores!(control_characters_in_any_string_of_any_body_are_refused_and_nothing_is_written);

/// One request body whose string fields are each spoiled in turn.
struct Body {
    method: Method,
    path: String,
    accept: Option<&'static str>,
    body: Value,
    /// JSON pointers of its string fields, each with the status a control character there gets:
    /// 400, or 404 for an id (a malformed id is 404 `INVALID_…_ID` everywhere, as on Atlas).
    fields: Vec<(&'static str, u16)>,
    /// Reads that must answer the same before and after the refused requests.
    reads: Vec<(String, &'static str)>,
    /// The status of the unspoiled body, sent last to show the body was otherwise valid.
    ok: u16,
}

/// Every Cc character: C0 (NUL, TAB, LF, CR, ESC …), DEL and C1 (NEL, CSI …).
fn control_characters() -> Vec<char> {
    (0u32..0x20)
        .chain([0x7f])
        .chain(0x80..0xa0)
        .filter_map(char::from_u32)
        .collect()
}

/// The characters tried in field number `index`: NUL, LF, CR, TAB, DEL and NEL always, and
/// four more that move through the whole set from field to field.
fn characters_for(index: usize) -> Vec<char> {
    let all = control_characters();
    let mut chosen = vec!['\0', '\n', '\r', '\t', '\u{7f}', '\u{85}'];
    chosen.extend((0..4).map(|k| all[(index * 4 + k) % all.len()]));
    chosen
}

/// `body` with `character` inserted into the string at `pointer`, at a position that depends
/// on `seed`.
fn spoiled(body: &Value, pointer: &str, character: char, seed: usize) -> Value {
    let mut body = body.clone();
    let field = body
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} is in the body"));
    let text = field.as_str().expect("a string field").to_owned();
    let chars: Vec<char> = text.chars().collect();
    let at = seed % (chars.len() + 1);
    let mut spoiled: String = chars[..at].iter().collect();
    spoiled.push(character);
    spoiled.extend(&chars[at..]);
    *field = Value::String(spoiled);
    body
}

fn bodies(f: &Fixture) -> Vec<Body> {
    let org = &f.org;
    let (team, group, ada, bob) = (&f.team, &f.group, &f.ada, &f.bob);
    let teams = format!("/api/atlas/v2/orgs/{org}/teams");
    let keys = format!("/api/atlas/v2/orgs/{org}/apiKeys");
    let key_access_list = format!("{keys}/{}/accessList", f.key);
    let invites = format!("/api/atlas/v2/orgs/{org}/invites");
    let users = format!("/api/atlas/v2/orgs/{org}/users");
    let project = format!("/api/atlas/v2/groups/{group}");
    let accounts = format!("/api/atlas/v2/orgs/{org}/serviceAccounts");
    let account = format!("{accounts}/{}", f.account);
    let read = |path: &str, accept| (path.to_owned(), accept);
    let body = |method: Method,
                path: String,
                accept: Option<&'static str>,
                body: Value,
                fields: Vec<(&'static str, u16)>,
                reads: Vec<(String, &'static str)>,
                ok: u16| Body {
        method,
        path,
        accept,
        body,
        fields,
        reads,
        ok,
    };
    vec![
        body(
            Method::POST,
            teams.clone(),
            Some(V2023),
            json!({"name": "platform", "usernames": ["ada@example.com"]}),
            vec![("/name", 400), ("/usernames/0", 400)],
            vec![read(&teams, V2023)],
            200,
        ),
        body(
            Method::PATCH,
            format!("{teams}/{team}"),
            Some(V2023),
            json!({"name": "core team"}),
            vec![("/name", 400)],
            vec![read(&teams, V2023)],
            200,
        ),
        body(
            Method::POST,
            keys.clone(),
            Some(V2023),
            json!({"desc": "deploy key", "roles": ["ORG_MEMBER"]}),
            vec![("/desc", 400), ("/roles/0", 400)],
            vec![read(&keys, V2023)],
            200,
        ),
        body(
            Method::PATCH,
            format!("{keys}/{}", f.key),
            Some(V2023),
            json!({"desc": "renamed key", "roles": ["ORG_READ_ONLY"]}),
            vec![("/desc", 400), ("/roles/0", 400)],
            vec![read(&keys, V2023)],
            200,
        ),
        body(
            Method::POST,
            key_access_list.clone(),
            Some(V2023),
            json!([{"ipAddress": "192.0.2.1"}]),
            vec![("/0/ipAddress", 400)],
            vec![read(&key_access_list, V2023)],
            200,
        ),
        body(
            Method::POST,
            key_access_list.clone(),
            Some(V2023),
            json!([{"cidrBlock": "198.51.100.0/24"}]),
            vec![("/0/cidrBlock", 400)],
            vec![read(&key_access_list, V2023)],
            200,
        ),
        body(
            // A new organization is out of the caller's sight; it is created in one store
            // call after every field is checked.
            Method::POST,
            "/api/atlas/v2/orgs".to_owned(),
            Some(V2023),
            json!({"name": "suite-org", "orgOwnerId": ada, "apiKey": {"desc": "suite key", "roles": ["ORG_OWNER"]}}),
            vec![
                ("/name", 400),
                ("/orgOwnerId", 404),
                ("/apiKey/desc", 400),
                ("/apiKey/roles/0", 400),
            ],
            vec![read("/api/atlas/v2/orgs", V2023)],
            201,
        ),
        body(
            Method::PATCH,
            format!("/api/atlas/v2/orgs/{org}"),
            Some(V2023),
            json!({"name": "Renamed-Org"}),
            vec![("/name", 400)],
            vec![read(&format!("/api/atlas/v2/orgs/{org}"), V2023)],
            200,
        ),
        body(
            Method::POST,
            "/api/atlas/v2/groups".to_owned(),
            Some(V2023),
            json!({"name": "proj-two", "orgId": org, "regionUsageRestrictions": "COMMERCIAL_FEDRAMP_REGIONS_ONLY", "tags": [{"key": "env", "value": "prod"}]}),
            vec![
                ("/name", 400),
                ("/orgId", 404),
                ("/regionUsageRestrictions", 400),
                ("/tags/0/key", 400),
                ("/tags/0/value", 400),
            ],
            vec![read(&format!("/api/atlas/v2/orgs/{org}/groups"), V2023)],
            200,
        ),
        body(
            Method::PATCH,
            project.clone(),
            Some(V2023),
            json!({"name": "proj-renamed", "tags": [{"key": "team", "value": "core"}]}),
            vec![("/name", 400), ("/tags/0/key", 400), ("/tags/0/value", 400)],
            vec![read(&project, V2023)],
            200,
        ),
        body(
            Method::POST,
            invites.clone(),
            Some(V2023),
            json!({"username": "new.one@example.com", "roles": ["ORG_MEMBER"], "teamIds": [team], "groupRoleAssignments": [{"groupId": group, "roles": ["GROUP_READ_ONLY"]}]}),
            vec![
                ("/username", 400),
                ("/roles/0", 400),
                ("/teamIds/0", 404),
                ("/groupRoleAssignments/0/groupId", 404),
                ("/groupRoleAssignments/0/roles/0", 400),
            ],
            vec![read(&invites, V2023), read(&users, V2025)],
            200,
        ),
        body(
            Method::PATCH,
            invites.clone(),
            Some(V2023),
            json!({"username": "grace@example.com", "roles": ["ORG_READ_ONLY"]}),
            vec![("/username", 400), ("/roles/0", 400)],
            vec![read(&invites, V2023)],
            200,
        ),
        body(
            Method::PATCH,
            format!("{invites}/{}", f.invitation),
            Some(V2023),
            json!({"roles": ["ORG_BILLING_ADMIN"], "teamIds": [team]}),
            vec![("/roles/0", 400), ("/teamIds/0", 404)],
            vec![read(&invites, V2023)],
            200,
        ),
        body(
            Method::POST,
            users.clone(),
            Some(V2025),
            json!({"username": "new.two@example.com", "roles": {"orgRoles": ["ORG_MEMBER"], "groupRoleAssignments": [{"groupId": group, "groupRoles": ["GROUP_READ_ONLY"]}]}, "teamIds": [team]}),
            vec![
                ("/username", 400),
                ("/roles/orgRoles/0", 400),
                ("/roles/groupRoleAssignments/0/groupId", 404),
                ("/roles/groupRoleAssignments/0/groupRoles/0", 400),
                ("/teamIds/0", 404),
            ],
            vec![read(&users, V2025)],
            201,
        ),
        body(
            Method::PATCH,
            format!("{users}/{ada}"),
            Some(V2025),
            json!({"roles": {"orgRoles": ["ORG_READ_ONLY"]}, "teamIds": [team]}),
            vec![("/roles/orgRoles/0", 400), ("/teamIds/0", 404)],
            vec![read(&format!("{users}/{ada}"), V2025)],
            200,
        ),
        body(
            Method::POST,
            format!("{users}/{ada}:addRole"),
            Some(V2025),
            json!({"orgRole": "ORG_BILLING_ADMIN"}),
            vec![("/orgRole", 400)],
            vec![read(&format!("{users}/{ada}"), V2025)],
            200,
        ),
        body(
            Method::PUT,
            format!("{users}/{ada}/roles"),
            Some(V2023),
            json!({"orgRoles": ["ORG_MEMBER"]}),
            vec![("/orgRoles/0", 400)],
            vec![read(&format!("{users}/{ada}"), V2025)],
            200,
        ),
        body(
            Method::POST,
            format!("{teams}/{team}/users"),
            Some(V2023),
            json!([{"id": bob}]),
            vec![("/0/id", 404)],
            vec![read(&format!("{teams}/{team}/users"), V2023)],
            200,
        ),
        body(
            Method::POST,
            format!("{teams}/{team}:addUser"),
            Some(V2025),
            json!({"id": f.hopper}),
            vec![("/id", 404)],
            vec![read(&format!("{teams}/{team}/users"), V2025)],
            200,
        ),
        body(
            Method::POST,
            format!("{project}/teams"),
            Some(V2023),
            json!([{"teamId": team, "roleNames": ["GROUP_OWNER"]}]),
            vec![("/0/teamId", 404), ("/0/roleNames/0", 400)],
            vec![read(&format!("{project}/teams"), V2023)],
            200,
        ),
        body(
            Method::PATCH,
            format!("{project}/teams/{team}"),
            Some(V2023),
            json!({"roleNames": ["GROUP_READ_ONLY"]}),
            vec![("/roleNames/0", 400)],
            vec![read(&format!("{project}/teams"), V2023)],
            200,
        ),
        body(
            Method::POST,
            format!("{project}/invites"),
            Some(V2023),
            json!({"username": "new.three@example.com", "roles": ["GROUP_READ_ONLY"]}),
            vec![("/username", 400), ("/roles/0", 400)],
            vec![read(&format!("{project}/invites"), V2023)],
            200,
        ),
        body(
            Method::PATCH,
            format!("{project}/invites/{}", f.project_invitation),
            Some(V2023),
            json!({"roles": ["GROUP_OWNER"]}),
            vec![("/roles/0", 400)],
            vec![read(&format!("{project}/invites"), V2023)],
            200,
        ),
        body(
            Method::POST,
            accounts.clone(),
            Some(V2024),
            json!({"name": "builder", "description": "Build robot", "roles": ["ORG_MEMBER"], "secretExpiresAfterHours": 24}),
            vec![("/name", 400), ("/description", 400), ("/roles/0", 400)],
            vec![read(&accounts, V2024)],
            201,
        ),
        body(
            Method::PATCH,
            account.clone(),
            Some(V2024),
            json!({"name": "robot two", "description": "renamed robot", "roles": ["ORG_READ_ONLY"]}),
            vec![("/name", 400), ("/description", 400), ("/roles/0", 400)],
            vec![read(&account, V2024)],
            200,
        ),
        body(
            Method::POST,
            format!("{account}/accessList"),
            Some(V2024),
            json!([{"ipAddress": "192.0.2.9"}]),
            vec![("/0/ipAddress", 400)],
            vec![read(&format!("{account}/accessList"), V2024)],
            200,
        ),
        body(
            Method::POST,
            format!("{account}/accessList"),
            Some(V2024),
            json!([{"cidrBlock": "203.0.113.0/24"}]),
            vec![("/0/cidrBlock", 400)],
            vec![read(&format!("{account}/accessList"), V2024)],
            200,
        ),
        body(
            Method::POST,
            format!("/api/orgdoor/v1/orgs/{org}/invitations/{}:accept", f.hopper),
            None,
            json!({"firstName": "Grace", "lastName": "Hopper", "country": "US", "mobileNumber": "212-555-0100"}),
            vec![
                ("/firstName", 400),
                ("/lastName", 400),
                ("/country", 400),
                ("/mobileNumber", 400),
            ],
            vec![read(&format!("{users}/{}", f.hopper), V2025)],
            200,
        ),
    ]
}

async fn control_characters_in_any_string_of_any_body_are_refused_and_nothing_is_written(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let fixture = fixture(&app).await;
    let client = client(&app);
    let mut index = 0;
    for case in bodies(&fixture) {
        let mut before = Vec::new();
        for (path, accept) in &case.reads {
            before.push(
                client
                    .send(Method::GET, path, Some(accept), None)
                    .await
                    .json,
            );
        }
        for (pointer, status) in &case.fields {
            index += 1;
            for (k, character) in characters_for(index).into_iter().enumerate() {
                let body = spoiled(&case.body, pointer, character, index + k);
                let what = format!(
                    "{} {} with {character:?} in {pointer}",
                    case.method, case.path
                );
                let response = client
                    .send(case.method.clone(), &case.path, case.accept, Some(&body))
                    .await;
                assert_eq!(response.status, *status, "{what}: {}", response.text);
                assert_eq!(response.json["error"], *status, "{what}: {}", response.text);
                assert!(
                    response.json["errorCode"].is_string() && response.json["detail"].is_string(),
                    "{what}: not an Atlas error: {}",
                    response.text
                );
                assert_eq!(
                    response.header("content-type"),
                    Some("application/json"),
                    "{what}"
                );
            }
        }
        for ((path, accept), before) in case.reads.iter().zip(before) {
            let after = client.send(Method::GET, path, Some(accept), None).await;
            assert_eq!(
                after.json, before,
                "{} {}: a refused request changed {path}",
                case.method, case.path
            );
        }
        let unspoiled = client
            .send(
                case.method.clone(),
                &case.path,
                case.accept,
                Some(&case.body),
            )
            .await;
        assert_eq!(
            unspoiled.status, case.ok,
            "{} {} without a control character: {}",
            case.method, case.path, unspoiled.text
        );
    }
}
