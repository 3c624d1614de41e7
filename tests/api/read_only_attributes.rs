//! Bodies as generated clients send them: every property of the request schema, read-only ones
//! included (with their type's zero value, or the value the resource already has). Atlas
//! ignores read-only attributes, so the Go SDK's `admin.Group` (`"clusterCount":0,
//! "created":"0001-01-01T00:00:00Z"`) and `admin.TeamRole` (`"teamId":""`) work unmodified.

use std::collections::BTreeSet;

use orgdoor_test_db::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixture::{Fixture, V2023};
use crate::harness::{DigestClient, spawn_app};
use crate::spec::{self, BodyOperation};

on_both_stores!(
    every_body_is_accepted_with_its_read_only_attributes,
    the_go_sdk_shapes_are_accepted_as_it_sends_them,
);

/// The value a generated client sends for a field it was not given.
fn zero_value(schema: &Value) -> Value {
    match schema["type"].as_str() {
        Some("string") if schema["format"] == "date-time" => json!("0001-01-01T00:00:00Z"),
        Some("string") => json!(""),
        Some("integer" | "number") => json!(0),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        Some("object") => json!({}),
        _ => Value::Null,
    }
}

/// `body` (an object, or an array of objects) with `values` set in each object.
fn with_attributes(mut body: Value, values: &[(String, Value)]) -> Value {
    let objects: Vec<&mut Value> = match &mut body {
        Value::Array(items) => items.iter_mut().collect(),
        object => vec![object],
    };
    for object in objects {
        let map = object.as_object_mut().expect("a body object");
        for (name, value) in values {
            map.insert(name.clone(), value.clone());
        }
    }
    body
}

/// Sends `body` as `content_type` and asserts it is accepted (a 2xx); `what` names the request.
async fn assert_accepted(
    client: &DigestClient,
    method: Method,
    path: &str,
    content_type: &str,
    body: &Value,
    what: &str,
) {
    let response = client
        .send(method, path, Some(content_type), Some(body))
        .await;
    assert!(
        (200..300).contains(&response.status),
        "{what} {body}: {} {}",
        response.status,
        response.text
    );
}

async fn every_body_is_accepted_with_its_read_only_attributes(backend: Backend) {
    let app = spawn_app(backend).await;
    let fixture = Fixture::build(&app).await;
    let owner = app.owner();
    let operations = spec::operations_with_bodies();
    let mut called = BTreeSet::new();
    let mut with_existing_values = 0;
    for (n, operation) in operations.iter().enumerate() {
        let BodyOperation {
            operation_id,
            method,
            template,
            content_type,
            read_only,
            ..
        } = operation;
        let base = fixture
            .body(operation_id, n)
            .unwrap_or_else(|| panic!("no fixture body for {operation_id}"));
        let path = fixture.path(template, &fixture.org);
        let method: Method = method.parse().expect("method");
        let zeros: Vec<(String, Value)> = read_only
            .iter()
            .map(|(name, schema)| (name.clone(), zero_value(schema)))
            .collect();
        let body = with_attributes(base.clone(), &zeros);
        let what = format!("{operation_id} with zero-valued read-only attributes");
        assert_accepted(&owner, method.clone(), &path, content_type, &body, &what).await;
        called.insert(operation_id.clone());

        // An update sent back with what the resource already holds, as a client that read it
        // first and changed one field would.
        if read_only.is_empty() || method == Method::POST {
            continue;
        }
        let current = owner
            .send(Method::GET, &path, Some(content_type), None)
            .await;
        if current.status != 200 || !current.json.is_object() {
            continue;
        }
        let existing: Vec<(String, Value)> = read_only
            .iter()
            .filter_map(|(name, _)| Some((name.clone(), current.json.get(name)?.clone())))
            .collect();
        let body = with_attributes(base, &existing);
        let what = format!("{operation_id} with the resource's own read-only values");
        assert_accepted(&owner, method, &path, content_type, &body, &what).await;
        with_existing_values += 1;
    }
    let every: BTreeSet<String> = operations
        .iter()
        .map(|operation| operation.operation_id.clone())
        .collect();
    assert_eq!(called, every);
    assert!(called.len() >= 29, "only {} operations", called.len());
    assert!(
        with_existing_values >= 2,
        "only {with_existing_values} updates were sent back with existing values"
    );
}

/// The Go SDK's models serialize every field without `omitempty`, read-only ones included.
async fn the_go_sdk_shapes_are_accepted_as_it_sends_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.owner();
    // `admin.Group` on `createGroup`.
    let created = owner
        .post(
            "/api/atlas/v2/groups",
            &json!({"clusterCount": 0, "created": "0001-01-01T00:00:00Z", "name": "From-the-SDK", "orgId": app.org_id}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.json["name"], "From-the-SDK");
    assert_eq!(created.json["clusterCount"], 0);
    let stamped = created.json["created"].as_str().unwrap();
    assert!(
        !stamped.starts_with("0001"),
        "the server sets created: {stamped}"
    );
    let group = created.id();

    // `admin.TeamRole` on `updateGroupTeam`.
    let team = app.create_team("Platform").await;
    owner.assign_team(&group, &team, &["GROUP_OWNER"]).await;
    let updated = owner
        .send(
            Method::PATCH,
            &format!("/api/atlas/v2/groups/{group}/teams/{team}"),
            Some(V2023),
            Some(&json!({"roleNames": ["GROUP_READ_ONLY"], "teamId": ""})),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let roles = &updated.json["results"][0];
    assert_eq!(roles["teamId"], team.as_str());
    assert_eq!(roles["roleNames"], json!(["GROUP_READ_ONLY"]));

    // A read-only attribute is ignored, not applied: the id stays the server's.
    let team_created = owner
        .post(
            &format!("/api/atlas/v2/orgs/{}/teams", app.org_id),
            &json!({"id": "0123456789abcdef01234567", "links": [], "name": "Data", "usernames": []}),
        )
        .await;
    assert_eq!(team_created.status, 200, "{}", team_created.text);
    assert_ne!(team_created.json["id"], "0123456789abcdef01234567");

    // What is fixed at creation is still refused when an update tries to change it.
    let invitation = app.invite("ada@example.com", &["ORG_MEMBER"]).await.id();
    owner
        .patch(
            &format!("{}/{invitation}", app.invites_path()),
            &json!({"username": "eve@example.com", "roles": ["ORG_MEMBER"]}),
        )
        .await
        .assert_error(400, "ATTRIBUTE_READ_ONLY");
}
