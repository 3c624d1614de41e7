//! The invitee's side in a real browser: headless Chromium driven through ChromeDriver
//! (WebDriver, the fantoccini crate). Each test invites someone through the API, takes the
//! link from the outbox, opens it, answers the page as a person would and checks the outcome
//! through the Atlas API. A screenshot of every page is kept under
//! `target/test-artifacts/browser/`. `scripts/test` installs Debian's `chromium` and
//! `chromium-driver` when they are missing; `ORGDOOR_CHROMEDRIVER` names another driver.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::process::{Child, Command};

use crate::harness::{free_port, spawn_app};
use orgdoor_test_db::Backend;

on_both_stores!(
    accepting_in_the_browser_makes_an_active_member,
    declining_in_the_browser_is_recorded,
    an_expired_link_shows_its_page_in_the_browser,
);

/// How long the browser may take for one step.
const PATIENCE: Duration = Duration::from_secs(30);

/// ChromeDriver, running for one test, and a headless Chromium session on it.
struct Browser {
    client: Client,
    _driver: Child,
}

impl Browser {
    async fn start() -> Self {
        let port = free_port();
        let driver_path =
            std::env::var("ORGDOOR_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("{driver_path} runs ({error}); scripts/test installs chromium-driver")
            });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", "--window-size=900,900"]}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let client = loop {
            let connected =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities.clone())
                    .connect(&url)
                    .await;
            match connected {
                Ok(client) => break client,
                Err(error) if tokio::time::Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("no WebDriver session: {error}"),
            }
        };
        Self {
            client,
            _driver: driver,
        }
    }

    /// Saves what the browser shows as `name`.png among the test artifacts.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let folder = artifacts();
        tokio::fs::create_dir_all(&folder)
            .await
            .expect("the folder");
        tokio::fs::write(folder.join(format!("{name}.png")), png)
            .await
            .expect("the screenshot is kept");
    }

    async fn text_of(&self, css: &str) -> String {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no {css}: {error}"))
            .text()
            .await
            .expect("its text")
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no {css}: {error}"))
            .send_keys(text)
            .await
            .expect("typing");
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no {css}: {error}"))
            .click()
            .await
            .expect("clicking");
    }

    async fn close(self) {
        self.client.close().await.expect("the session ends");
    }
}

/// Where the screenshots go: `target/test-artifacts/browser`, beside the build.
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("test-artifacts").join("browser")
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

async fn accepting_in_the_browser_makes_an_active_member(backend: Backend) {
    let app = spawn_app(backend).await;
    let (project, link) = app.invite_to_new_project("ada@example.com", "Apollo").await;
    let name = backend_name(backend);

    let browser = Browser::start().await;
    browser.client.goto(&link).await.expect("the page opens");
    let heading = browser.text_of("h1").await;
    assert_eq!(heading, "You are invited to join Test-Org");
    let roles = browser.text_of("#roles").await;
    assert!(
        roles.contains("GROUP_READ_ONLY in the project Apollo"),
        "{roles}"
    );
    browser.screenshot(&format!("{name}-1-invitation")).await;
    browser.type_into("#firstName", "Ada").await;
    browser.type_into("#lastName", "Lovelace").await;
    browser.click("#accept").await;
    let outcome = browser.text_of("#outcome").await;
    assert_eq!(outcome, "Welcome to Test-Org");
    browser.screenshot(&format!("{name}-2-accepted")).await;
    browser.close().await;

    let user = app.org_user_named("ada@example.com").await;
    assert_eq!(user["orgMembershipStatus"], "ACTIVE");
    assert_eq!(user["firstName"], "Ada");
    assert_eq!(user["lastName"], "Lovelace");
    assert_eq!(
        user["roles"]["groupRoleAssignments"][0]["groupId"],
        json!(project)
    );
}

async fn declining_in_the_browser_is_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("bob@example.com", &["ORG_MEMBER"]).await;
    let link = app.link_to("bob@example.com").await;
    let name = backend_name(backend);

    let browser = Browser::start().await;
    browser.client.goto(&link).await.expect("the page opens");
    browser.text_of("#decline").await;
    browser.click("#decline").await;
    assert_eq!(browser.text_of("#outcome").await, "Invitation declined");
    browser.screenshot(&format!("{name}-3-declined")).await;
    // The same link, opened again, says the invitation was declined.
    browser.client.goto(&link).await.expect("the page opens");
    assert_eq!(
        browser.text_of("#outcome").await,
        "This invitation was declined"
    );
    browser.close().await;

    assert_eq!(
        app.org_user_named("bob@example.com").await["orgMembershipStatus"],
        "INVITATION_REJECTED"
    );
}

async fn an_expired_link_shows_its_page_in_the_browser(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("carl@example.com", &["ORG_MEMBER"]).await;
    let link = app.link_to("carl@example.com").await;
    // Aged by the server's clock past the thirty days, not by waiting.
    app.clock.advance(time::Duration::days(30));
    let name = backend_name(backend);

    let browser = Browser::start().await;
    browser.client.goto(&link).await.expect("the page opens");
    assert_eq!(
        browser.text_of("#outcome").await,
        "This invitation has expired"
    );
    assert!(
        browser.client.find(Locator::Css("form")).await.is_err(),
        "no form to answer an expired invitation"
    );
    browser.screenshot(&format!("{name}-4-expired")).await;
    browser.close().await;
    assert_eq!(
        app.org_user_named("carl@example.com").await["orgMembershipStatus"],
        "INVITATION_EXPIRED"
    );
}
