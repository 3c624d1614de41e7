//! No served route shadows another: every documented operation of the three spec files reaches
//! its handler (a custom-method route such as `{teamId}:addUser` must not capture
//! `teams/byName/{teamName}`, as it once did).

use orgdoor_test_db::Backend;
use reqwest::Method;

use crate::fixture::Fixture;
use crate::harness::spawn_app;
use crate::spec;

on_both_stores!(every_documented_operation_reaches_a_handler);

/// Operations of the spec files not served yet; each must leave this list when it is served.
/// (Every one is served today.)
const NOT_SERVED: &[&str] = &[];

async fn every_documented_operation_reaches_a_handler(backend: Backend) {
    let app = spawn_app(backend).await;
    let fixture = Fixture::build(&app).await;
    let owner = app.owner();
    let mut reached = 0;
    // Reads and writes only: a delete could remove what a later operation needs, and the
    // bodies need not be valid — a handler's own 400 proves the route was found.
    for operation in spec::all_operations() {
        let path = fixture.path(&operation.template, &fixture.org);
        let method: Method = operation.method.parse().expect("method");
        if method == Method::DELETE || operation.operation_id == "deleteOrg" {
            continue;
        }
        let response = owner
            .send_raw(
                method.clone(),
                &path,
                Some(&operation.content_type),
                (method != Method::GET).then_some("{}"),
            )
            .await;
        // The router's own 404 names the path; a handler's names the missing id.
        let unrouted = response.status == 405
            || (response.status == 404
                && response.json["errorCode"] == "RESOURCE_NOT_FOUND"
                && response.json["parameters"][0]
                    .as_str()
                    .is_some_and(|named| named.starts_with("/api/")));
        if NOT_SERVED.contains(&operation.operation_id.as_str()) {
            assert!(
                unrouted,
                "{} is served now: take it off NOT_SERVED ({} {})",
                operation.operation_id, response.status, response.text
            );
            continue;
        }
        assert!(
            !unrouted,
            "{} {} ({}) reached no handler: {} {}",
            operation.method, path, operation.operation_id, response.status, response.text
        );
        reached += 1;
    }
    assert!(reached >= 60, "only {reached} operations were tried");
}
