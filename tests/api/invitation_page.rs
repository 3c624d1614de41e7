//! The invitee's page, driven over HTTP as a browser without scripts would: follow the link
//! from the outbox, read the page, post its form with the cookie it set. (The browser test
//! drives the same pages in Chromium.)

use std::io::Write as _;
use std::process::{Command, Stdio};

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::json;

use crate::harness::spawn_app;
use orgdoor_test_db::Backend;

on_both_stores!(
    the_page_shows_the_invitation_and_accepting_makes_an_active_member,
    declining_is_recorded_and_the_link_then_says_so,
    expired_cancelled_replaced_and_unknown_links_get_clear_pages,
    a_form_without_its_cookie_and_token_is_refused,
    newcomers_are_asked_for_their_names_and_what_they_typed_is_escaped,
    a_person_with_an_account_is_not_asked_for_names,
    guessing_links_is_throttled,
    every_page_is_valid_html_without_scripts,
);

/// A page as a browser got it.
struct Page {
    status: u16,
    html: String,
    headers: reqwest::header::HeaderMap,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// The form's CSRF token.
    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.html.find(marker).expect("a form with a token") + marker.len();
        let end = start + self.html[start..].find('"').expect("the value ends");
        self.html[start..end].to_owned()
    }

    /// The cookie the page set (name=value).
    fn cookie(&self) -> String {
        let set = self.header(SET_COOKIE.as_str());
        set.split(';').next().expect("a cookie").to_owned()
    }
}

/// A client like a browser: follows no redirects, keeps no cookies of its own.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn open(url: &str, cookie: Option<&str>) -> Page {
    let mut request = browser().get(url);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    into_page(request.send().await.unwrap()).await
}

async fn submit(url: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Page {
    let mut request = browser().post(url).form(form);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    into_page(request.send().await.unwrap()).await
}

async fn into_page(response: reqwest::Response) -> Page {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let html = response.text().await.unwrap();
    Page {
        status,
        html,
        headers,
    }
}

fn assert_protected(page: &Page) {
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(page.header("cache-control"), "no-store");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert!(
        page.header("content-security-policy")
            .contains("default-src 'none'")
    );
    assert!(!page.html.contains("panicked") && !page.html.contains("RUST_BACKTRACE"));
}

async fn the_page_shows_the_invitation_and_accepting_makes_an_active_member(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, link) = app.invite_to_new_project("ada@example.com", "Apollo").await;

    let page = open(&link, None).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert_protected(&page);
    for shown in [
        "Test-Org",
        "Apollo",
        app.owner.public_key.as_str(),
        "ada@example.com",
        "ORG_MEMBER in the organization",
        "GROUP_READ_ONLY in the project Apollo",
        "2026-09-09 03:03 UTC",
        "name=\"firstName\"",
        "name=\"lastName\"",
    ] {
        assert!(
            page.html.contains(shown),
            "the page lacks {shown:?}: {}",
            page.html
        );
    }
    let cookie = page.cookie();
    assert!(cookie.starts_with("orgdoor_csrf="));
    let set_cookie = page.header("set-cookie");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));

    let accepted = submit(
        &link,
        Some(&cookie),
        &[
            ("csrf", &page.csrf()),
            ("firstName", "Ada"),
            ("lastName", "Lovelace"),
            ("action", "accept"),
        ],
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.html);
    assert!(
        accepted.html.contains("Welcome to Test-Org"),
        "{}",
        accepted.html
    );
    assert_protected(&accepted);

    let user = app.org_user_named("ada@example.com").await;
    assert_eq!(user["orgMembershipStatus"], "ACTIVE");
    assert_eq!(user["firstName"], "Ada");
    assert_eq!(user["lastName"], "Lovelace");
    assert_eq!(user["roles"]["orgRoles"], json!(["ORG_MEMBER"]));
    assert_eq!(
        user["roles"]["groupRoleAssignments"][0]["groupRoles"],
        json!(["GROUP_READ_ONLY"])
    );

    // The link was single-use.
    let again = open(&link, Some(&cookie)).await;
    assert_eq!(again.status, 404, "{}", again.html);
    assert!(again.html.contains("not valid"));
    let replay = submit(
        &link,
        Some(&cookie),
        &[("csrf", &page.csrf()), ("action", "decline")],
    )
    .await;
    assert_eq!(replay.status, 404);
    assert_eq!(
        app.org_user_named("ada@example.com").await["orgMembershipStatus"],
        "ACTIVE"
    );
}

async fn declining_is_recorded_and_the_link_then_says_so(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("bob@example.com", &["ORG_MEMBER"]).await;
    let link = app.link_to("bob@example.com").await;
    let page = open(&link, None).await;
    let cookie = page.cookie();
    let declined = submit(
        &link,
        Some(&cookie),
        &[("csrf", &page.csrf()), ("action", "decline")],
    )
    .await;
    assert_eq!(declined.status, 200, "{}", declined.html);
    assert!(declined.html.contains("Invitation declined"));
    assert_eq!(
        app.org_user_named("bob@example.com").await["orgMembershipStatus"],
        "INVITATION_REJECTED"
    );
    let after = open(&link, Some(&cookie)).await;
    assert_eq!(after.status, 410, "{}", after.html);
    assert!(after.html.contains("declined"));
    assert_protected(&after);
}

async fn expired_cancelled_replaced_and_unknown_links_get_clear_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("old@example.com", &["ORG_MEMBER"]).await;
    let expiring = app.link_to("old@example.com").await;
    let cancelled_invitation = app.invite("gone@example.com", &["ORG_MEMBER"]).await;
    let cancelled = app.link_to("gone@example.com").await;
    app.invite("twice@example.com", &["ORG_MEMBER"]).await;
    let replaced = app.link_to("twice@example.com").await;
    app.invite("twice@example.com", &["ORG_MEMBER"]).await;
    let current = app.link_to("twice@example.com").await;

    let deleted = app
        .owner()
        .delete(&format!(
            "{}/{}",
            app.invites_path(),
            cancelled_invitation.id()
        ))
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let page = open(&cancelled, None).await;
    assert_eq!(page.status, 404, "{}", page.html);
    assert_protected(&page);
    assert_eq!(open(&replaced, None).await.status, 404);
    assert_eq!(open(&current, None).await.status, 200);
    let base = format!("{}/invitations/", app.base_url);
    for unknown in [&"0".repeat(64), "short", &"G".repeat(64), "%00%0d%0a"] {
        let page = open(&format!("{base}{unknown}"), None).await;
        assert_eq!(page.status, 404, "{unknown}: {}", page.html);
        assert_protected(&page);
    }

    // Aged past its thirty days by the server's clock, not by waiting.
    assert_eq!(open(&expiring, None).await.status, 200);
    app.clock.advance(time::Duration::days(30));
    let expired = open(&expiring, None).await;
    assert_eq!(expired.status, 410, "{}", expired.html);
    assert!(expired.html.contains("expired"));
    assert_protected(&expired);
}

async fn a_form_without_its_cookie_and_token_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    app.invite("bob@example.com", &["ORG_MEMBER"]).await;
    let link = app.link_to("ada@example.com").await;
    let other = app.link_to("bob@example.com").await;
    let page = open(&link, None).await;
    let other_page = open(&other, Some(&page.cookie())).await;
    // (cookie, token): none of these is the page's own pair.
    let cases = [
        (None, page.csrf()),
        (Some(page.cookie()), String::new()),
        (Some(page.cookie()), other_page.csrf()),
        (
            Some(format!("orgdoor_csrf={}", "a".repeat(64))),
            page.csrf(),
        ),
    ];
    for (cookie, csrf) in cases {
        let form = [
            ("csrf", csrf.as_str()),
            ("firstName", "Ada"),
            ("lastName", "L"),
            ("action", "accept"),
        ];
        let refused = submit(&link, cookie.as_deref(), &form).await;
        assert_eq!(refused.status, 403, "{}", refused.html);
        assert_protected(&refused);
    }
    assert_eq!(
        app.org_user_named("ada@example.com").await["orgMembershipStatus"],
        "PENDING"
    );
}

async fn newcomers_are_asked_for_their_names_and_what_they_typed_is_escaped(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let link = app.link_to("ada@example.com").await;
    let page = open(&link, None).await;
    let cookie = page.cookie();
    let hostile = "\"><script>alert(1)</script>";
    let refused = submit(
        &link,
        Some(&cookie),
        &[
            ("csrf", &page.csrf()),
            ("firstName", hostile),
            ("lastName", ""),
            ("action", "accept"),
        ],
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.html.contains("first and last name"));
    assert!(!refused.html.contains("<script>"), "{}", refused.html);
    assert!(
        refused.html.contains("&#34;&#62;&#60;script&#62;"),
        "{}",
        refused.html
    );
    let too_long = "x".repeat(300);
    let refused = submit(
        &link,
        Some(&cookie),
        &[
            ("csrf", &refused.csrf()),
            ("firstName", &too_long),
            ("lastName", "L"),
            ("action", "accept"),
        ],
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.html.contains("1 to 256 characters"));
    let nothing = submit(&link, Some(&cookie), &[("csrf", &page.csrf())]).await;
    assert_eq!(nothing.status, 400);
    assert_eq!(
        app.org_user_named("ada@example.com").await["orgMembershipStatus"],
        "PENDING"
    );
}

async fn a_person_with_an_account_is_not_asked_for_names(backend: Backend) {
    let app = spawn_app(backend).await;
    app.member("ada@example.com", &["ORG_MEMBER"]).await;
    let (other_org, other_owner) = app.other_org().await;
    let invited = app
        .client(&other_owner)
        .post(
            &format!("/api/atlas/v2/orgs/{other_org}/invites"),
            &json!({"username": "ada@example.com", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.text);
    let outbox = app
        .client(&other_owner)
        .send(
            reqwest::Method::GET,
            &format!("/api/orgdoor/v1/orgs/{other_org}/outbox"),
            None,
            None,
        )
        .await;
    let link = outbox.json["results"][0]["acceptUrl"].as_str().unwrap();
    let page = open(link, None).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("Other-Org"));
    assert!(!page.html.contains("name=\"firstName\""));
    let accepted = submit(
        link,
        Some(&page.cookie()),
        &[("csrf", &page.csrf()), ("action", "accept")],
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.html);
    assert!(accepted.html.contains("Welcome to Other-Org"));
}

async fn guessing_links_is_throttled(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let link = app.link_to("ada@example.com").await;
    let base = format!("{}/invitations/", app.base_url);
    let mut statuses = Vec::new();
    for guess in 0..25 {
        let page = open(&format!("{base}{guess:064x}"), None).await;
        statuses.push(page.status);
    }
    assert!(
        statuses[..20].iter().all(|status| *status == 404),
        "{statuses:?}"
    );
    assert!(
        statuses[20..].iter().all(|status| *status == 429),
        "{statuses:?}"
    );
    // While throttled, even a real link waits: guessing gains nothing.
    assert_eq!(open(&link, None).await.status, 429);
    app.clock.advance(time::Duration::minutes(1));
    assert_eq!(open(&link, None).await.status, 200);
}

async fn every_page_is_valid_html_without_scripts(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let link = app.link_to("ada@example.com").await;
    let form = open(&link, None).await;
    let cookie = form.cookie();
    let refused = submit(
        &link,
        Some(&cookie),
        &[("csrf", &form.csrf()), ("action", "accept")],
    )
    .await;
    let forged = submit(&link, None, &[("action", "accept")]).await;
    let unknown = open(
        &format!("{}/invitations/{}", app.base_url, "0".repeat(64)),
        None,
    )
    .await;
    let accepted = submit(
        &link,
        Some(&cookie),
        &[
            ("csrf", &form.csrf()),
            ("firstName", "Ada"),
            ("lastName", "L"),
            ("action", "accept"),
        ],
    )
    .await;
    let outbox = app.outbox("").await;
    let mail = outbox.json["results"][0]["html"]
        .as_str()
        .unwrap()
        .to_owned();
    let documents = [
        form.html,
        refused.html,
        forged.html,
        unknown.html,
        accepted.html,
        mail,
    ];
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/check_html.py");
    let mut checker = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the HTML check (scripts/test installs html5lib)");
    checker
        .stdin
        .take()
        .unwrap()
        .write_all(documents.join("\0").as_bytes())
        .unwrap();
    let output = checker.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
