//! The public clients users point at orgdoor: curl's `--digest` and python-requests.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::harness::{TestApp, run_python_client, spawn_app};
use crate::spec;
use orgdoor_test_db::Backend;

on_both_stores!(
    the_v2_curl_sample_lists_pretty_invitations,
    the_v1_curl_samples_list_and_create,
    python_requests_reuses_its_nonce_across_a_session,
);

struct CurlResult {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// Runs curl with `--digest` and the given arguments, keeping the headers of the last response.
#[expect(
    clippy::disallowed_methods,
    reason = "reads what curl wrote, after it exited"
)]
async fn curl(app: &TestApp, args: &[&str], url: &str) -> CurlResult {
    let dir = tempfile::tempdir().unwrap();
    let headers_file = dir.path().join("headers");
    let body_file = dir.path().join("body");
    let user = format!("{}:{}", app.owner.public_key, app.owner.private_key);
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--digest", "--user", &user])
        .args(args)
        .arg("--dump-header")
        .arg(&headers_file)
        .arg("--output")
        .arg(&body_file)
        .args(["--write-out", "%{http_code}"])
        .arg(url)
        .output()
        .await
        .expect("curl runs");
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status: u16 = String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let dump = std::fs::read_to_string(headers_file).unwrap();
    // The dump holds the 401 challenge and then the real answer; keep the last block.
    let last = dump
        .trim_end()
        .rsplit("\r\n\r\n")
        .next()
        .unwrap()
        .to_owned();
    let mut headers = HeaderMap::new();
    for line in last.lines().skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            headers.append(
                HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                HeaderValue::from_str(value.trim()).unwrap(),
            );
        }
    }
    CurlResult {
        status,
        headers,
        body: std::fs::read_to_string(body_file).unwrap(),
    }
}

fn content_type(result: &CurlResult) -> &str {
    result
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
}

async fn the_v2_curl_sample_lists_pretty_invitations(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("wyatt.smith@example.com", &["ORG_MEMBER"]).await;
    let path = format!("/api/atlas/v2/orgs/{}/invites?pretty=true", app.org_id);
    let result = curl(
        &app,
        &[
            "--header",
            "Accept: application/vnd.atlas.2025-03-12+json",
            "-X",
            "GET",
        ],
        &format!("{}{path}", app.base_url),
    )
    .await;
    assert_eq!(result.status, 200, "{}", result.body);
    assert_eq!(
        content_type(&result),
        "application/vnd.atlas.2023-01-01+json;charset=utf-8"
    );
    assert_eq!(
        result.headers["deprecation"],
        "Wed, 19 Feb 2025 00:00:00 GMT"
    );
    assert_eq!(result.headers["sunset"], "Thu, 1 Jul 2027 00:00:00 GMT");
    assert!(
        result.body.starts_with("[ {\n  \"createdAt\" : "),
        "{}",
        result.body
    );
    let body: Value = serde_json::from_str(&result.body).unwrap();
    spec::check_response("GET", &path, 200, content_type(&result), &body);
    assert_eq!(body[0]["username"], "wyatt.smith@example.com");
}

async fn the_v1_curl_samples_list_and_create(backend: Backend) {
    let app = spawn_app(backend).await;
    let path = format!("/api/atlas/v1.0/orgs/{}/invites?pretty=true", app.org_id);
    let url = format!("{}{path}", app.base_url);
    let created = curl(
        &app,
        &[
            "--header",
            "Accept: application/json",
            "--header",
            "Content-Type: application/json",
            "--request",
            "POST",
            "--data",
            r#"{ "roles": ["ORG_MEMBER"], "teamIds": [], "username": "wyatt.smith@example.com" }"#,
        ],
        &url,
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(content_type(&created), "application/json");
    let invitation: Value = serde_json::from_str(&created.body).unwrap();
    spec::check_response("POST", &path, 200, "application/json", &invitation);
    assert_eq!(invitation["username"], "wyatt.smith@example.com");
    assert_eq!(invitation["inviterUsername"], app.owner.public_key);

    let listed = curl(&app, &["--header", "Accept: application/json"], &url).await;
    assert_eq!(listed.status, 200);
    assert_eq!(content_type(&listed), "application/json");
    let list: Value = serde_json::from_str(&listed.body).unwrap();
    spec::check_response("GET", &path, 200, "application/json", &list);
    assert_eq!(list, json!([invitation]));
}

async fn python_requests_reuses_its_nonce_across_a_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let lines = run_python_client(
        &app,
        "digest_session.py",
        &[
            ("PUBLIC_KEY", &app.owner.public_key),
            ("PRIVATE_KEY", &app.owner.private_key),
        ],
    )
    .await;
    assert_eq!(lines.len(), 5);
    let statuses: Vec<u64> = lines
        .iter()
        .map(|line| line["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200]);
    let challenged: Vec<bool> = lines
        .iter()
        .map(|line| line["challenged"].as_bool().unwrap())
        .collect();
    assert_eq!(
        challenged,
        [true, false, false, false, false],
        "requests reuses the nonce after the first challenge"
    );
    assert_eq!(lines[3]["body"]["roles"], json!(["ORG_OWNER"]));
    assert_eq!(lines[4]["body"][0]["id"], lines[1]["body"]["id"]);
    let invitation = &lines[1]["body"];
    spec::check_response(
        "POST",
        &format!("/api/atlas/v2/orgs/{}/invites", app.org_id),
        200,
        "application/vnd.atlas.2023-01-01+json",
        invitation,
    );
}
