//! Starts the real server on 127.0.0.1 with a random port and a fresh SQLite file, and talks to
//! it over HTTP with an independent Digest client (the `digest_auth` crate).

use std::sync::Arc;

use digest_auth::{AuthContext, WwwAuthenticateHeader};
use orgdoor::clock::ManualClock;
use orgdoor::config::RateLimitPolicy;
use orgdoor::provision;
use orgdoor_domain::{OrgName, OrgRole, OrgRoles};
use orgdoor_store::Store;
use orgdoor_test_db::{Backend, TestDatabase};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use secrecy::ExposeSecret;
use serde_json::Value;
use time::macros::datetime;

use crate::spec;
use md5::{Digest as _, Md5};

/// The version every invitation operation has.
pub const V2023: &str = "application/vnd.atlas.2023-01-01+json";
/// The version of the org-users (invitation successor) operations.
pub const V2025: &str = "application/vnd.atlas.2025-02-19+json";

/// An API key as a client holds it.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub public_key: String,
    pub private_key: String,
}

impl Credentials {
    /// The key in an Atlas API key body (`publicKey` and the `privateKey` shown once).
    #[track_caller]
    pub fn of_api_key(key: &Value) -> Self {
        Self {
            public_key: key["publicKey"].as_str().expect("a public key").to_owned(),
            private_key: key["privateKey"]
                .as_str()
                .expect("a private key")
                .to_owned(),
        }
    }
}

/// A response, read whole, with its JSON (if any) already checked against the spec.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `id` of the JSON body (a created resource's).
    #[track_caller]
    pub fn id(&self) -> String {
        self.json["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in: {}", self.text))
            .to_owned()
    }

    /// The `id` of every object in a JSON array body.
    #[track_caller]
    pub fn ids(&self) -> Vec<String> {
        self.json
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {}", self.text))
            .iter()
            .map(|item| item["id"].as_str().expect("an id").to_owned())
            .collect()
    }

    pub fn error_code(&self) -> &str {
        self.json["errorCode"].as_str().unwrap_or_default()
    }

    /// Asserts a legacy (v1.0) answer: `status`, plain JSON as its content type, and no
    /// deprecation header (v1.0 is not a version of the v2 operations).
    #[track_caller]
    pub fn assert_legacy(&self, status: u16) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert!(self.header("deprecation").is_none());
    }

    /// Asserts an Atlas error: status, `errorCode` in body and header, JSON content type.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.error_code()),
            (status, code),
            "body: {}",
            self.text
        );
        assert_eq!(self.json["error"], status, "body: {}", self.text);
        assert_eq!(self.header("content-type"), Some("application/json"));
        if status != 401 || code != "UNEXPECTED_ERROR" {
            assert_eq!(self.header("x-error-code"), Some(code));
        }
    }
}

/// How a client answers challenges: like the Go SDK (challenge every request, `nc=00000001`) or
/// like python-requests (reuse the nonce with a rising `nc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestStyle {
    ChallengeEveryRequest,
    ReuseNonce,
}

pub struct DigestClient {
    http: reqwest::Client,
    base_url: String,
    credentials: Credentials,
    style: DigestStyle,
    prompt: tokio::sync::Mutex<Option<WwwAuthenticateHeader>>,
    challenges: std::sync::atomic::AtomicUsize,
}

impl DigestClient {
    pub fn new(base_url: &str, credentials: Credentials, style: DigestStyle) -> Self {
        Self::with_http(reqwest::Client::new(), base_url, credentials, style)
    }

    /// A client over a given HTTP client (one that trusts a test certificate, say).
    pub fn with_http(
        http: reqwest::Client,
        base_url: &str,
        credentials: Credentials,
        style: DigestStyle,
    ) -> Self {
        Self {
            http,
            base_url: base_url.to_owned(),
            credentials,
            style,
            prompt: tokio::sync::Mutex::new(None),
            challenges: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn build(
        &self,
        method: &Method,
        path: &str,
        accept: Option<&str>,
        body: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url));
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, accept.unwrap_or("application/json"))
                .body(body.to_owned());
        }
        request
    }

    /// How many 401 challenges this client has answered.
    pub fn challenges_answered(&self) -> usize {
        self.challenges.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn authorization(
        &self,
        prompt: &mut WwwAuthenticateHeader,
        method: &Method,
        path: &str,
    ) -> String {
        let context = AuthContext::new_with_method(
            self.credentials.public_key.as_str(),
            self.credentials.private_key.as_str(),
            path,
            Option::<&[u8]>::None,
            digest_auth::HttpMethod::from(method.as_str()),
        );
        prompt
            .respond(&context)
            .expect("the challenge can be answered")
            .to_header_string()
    }

    /// Sends a request with a raw body, authenticating as the style does.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        accept: Option<&str>,
        body: Option<&str>,
    ) -> TestResponse {
        let mut cached = self.prompt.lock().await;
        if self.style == DigestStyle::ReuseNonce
            && let Some(prompt) = cached.as_mut()
        {
            let header = self.authorization(prompt, &method, path);
            let response = self.send_signed(&method, path, accept, body, header).await;
            if response.status() != 401 || response.headers().get(WWW_AUTHENTICATE).is_none() {
                return read(&method, path, response).await;
            }
            // Like requests: on a challenge, parse it and retry once.
            self.challenges
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            *cached = Some(challenge_of(&response));
            let prompt = cached.as_mut().expect("just set");
            let header = self.authorization(prompt, &method, path);
            let response = self.send_signed(&method, path, accept, body, header).await;
            return read(&method, path, response).await;
        }
        let first = self
            .build(&method, path, accept, body)
            .send()
            .await
            .expect("request");
        if first.status() != 401 {
            return read(&method, path, first).await;
        }
        self.challenges
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut prompt = challenge_of(&first);
        let header = self.authorization(&mut prompt, &method, path);
        if self.style == DigestStyle::ReuseNonce {
            *cached = Some(prompt);
        }
        let response = self.send_signed(&method, path, accept, body, header).await;
        read(&method, path, response).await
    }

    /// Sends a request with the given `Authorization` header.
    async fn send_signed(
        &self,
        method: &Method,
        path: &str,
        accept: Option<&str>,
        body: Option<&str>,
        authorization: String,
    ) -> reqwest::Response {
        self.build(method, path, accept, body)
            .header(AUTHORIZATION, authorization)
            .send()
            .await
            .expect("request")
    }

    /// Like [`DigestClient::send`], but `None` when the server cannot be reached or the
    /// connection breaks (for tests that kill it).
    pub async fn try_send(&self, method: Method, path: &str, body: &Value) -> Option<TestResponse> {
        let body = body.to_string();
        let mut cached = self.prompt.lock().await;
        for _ in 0..2 {
            let mut request = self.build(&method, path, Some(V2023), Some(&body));
            if let Some(prompt) = cached.as_mut() {
                request = request.header(AUTHORIZATION, self.authorization(prompt, &method, path));
            }
            let response = request.send().await.ok()?;
            if response.status() == 401 && response.headers().get(WWW_AUTHENTICATE).is_some() {
                *cached = Some(challenge_of(&response));
                continue;
            }
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let text = response.text().await.ok()?;
            let json = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Some(TestResponse {
                status,
                headers,
                text,
                json,
            });
        }
        None
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        accept: Option<&str>,
        body: Option<&Value>,
    ) -> TestResponse {
        let body = body.map(Value::to_string);
        self.send_raw(method, path, accept, body.as_deref()).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Method::GET, path, Some(V2023), None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> TestResponse {
        self.send(Method::POST, path, Some(V2023), Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> TestResponse {
        self.send(Method::PATCH, path, Some(V2023), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.send(Method::DELETE, path, Some(V2023), None).await
    }

    /// Gives `team` the `roles` in the project `group` (v2); asserts that succeeds.
    pub async fn assign_team(&self, group: &str, team: &str, roles: &[&str]) -> TestResponse {
        let teams = format!("/api/atlas/v2/groups/{group}/teams");
        self.assign_team_at(&teams, team, roles).await
    }

    /// Gives `team` the project `roles` through the project's teams at `teams` (v2 or v1.0);
    /// asserts that succeeds.
    pub async fn assign_team_at(&self, teams: &str, team: &str, roles: &[&str]) -> TestResponse {
        let body = serde_json::json!([{"teamId": team, "roleNames": roles}]);
        let assigned = self.post(teams, &body).await;
        assert_eq!(assigned.status, 200, "{}", assigned.text);
        assigned
    }

    /// A legacy (v1.0) create, as the Go client makes it (see [`legacy_call`]).
    pub async fn legacy_post(&self, path: &str, body: Value) -> TestResponse {
        legacy_call(self, Method::POST, path, Some(body)).await
    }

    /// A legacy (v1.0) update, as the Go client makes it (see [`legacy_call`]).
    pub async fn legacy_patch(&self, path: &str, body: Value) -> TestResponse {
        legacy_call(self, Method::PATCH, path, Some(body)).await
    }

    /// A legacy (v1.0) read, as the Go client makes it (see [`legacy_call`]).
    pub async fn legacy_get(&self, path: &str) -> TestResponse {
        legacy_call(self, Method::GET, path, None).await
    }

    /// A legacy (v1.0) delete, as the Go client makes it (see [`legacy_call`]).
    pub async fn legacy_delete(&self, path: &str) -> TestResponse {
        legacy_call(self, Method::DELETE, path, None).await
    }

    /// Asserts there is nothing at the legacy (v1.0) `path`: a GET and a DELETE are both
    /// answered 404 `code`.
    pub async fn assert_legacy_gone(&self, path: &str, code: &str) {
        self.legacy_get(path).await.assert_error(404, code);
        self.legacy_delete(path).await.assert_error(404, code);
    }

    /// Asserts this client may list `path` but not create `body` there: refused with a 401
    /// `code`.
    pub async fn assert_reads_but_cannot_create(&self, path: &str, body: &Value, code: &str) {
        let listed = self.get(path).await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        self.post(path, body).await.assert_error(401, code);
    }

    /// Asserts there is nothing at `path`: a GET and a DELETE are both answered 404 `code`.
    pub async fn assert_gone(&self, path: &str, code: &str) {
        self.get(path).await.assert_error(404, code);
        self.delete(path).await.assert_error(404, code);
    }
}

/// A call as the legacy Go client makes it: `Accept: application/json`, and a JSON body (sent
/// as `application/json`) when there is one.
pub async fn legacy_call(
    client: &DigestClient,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> TestResponse {
    client
        .send(method, path, Some("application/json"), body.as_ref())
        .await
}

fn challenge_of(response: &reqwest::Response) -> WwwAuthenticateHeader {
    let header = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .expect("a 401 carries a challenge");
    digest_auth::parse(header.to_str().expect("ascii")).expect("the challenge parses")
}

/// Reads a response whole and validates any JSON body against the spec.
pub async fn read(method: &Method, path: &str, response: reqwest::Response) -> TestResponse {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{method} {path} answered non-JSON ({error}): {text}"))
    };
    if !text.is_empty() {
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("application/json")
                || content_type.starts_with("application/vnd.atlas."),
            "{method} {path}: JSON body with content type {content_type:?}"
        );
        // The envelope changes the documented shape on purpose: check what it wraps, against
        // the status it names.
        if path.to_ascii_lowercase().contains("envelope=true") {
            let wrapped_status = json["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(status);
            if let Some(content) = json.get("content")
                && wrapped_status != 204
            {
                spec::check_response(method.as_str(), path, wrapped_status, content_type, content);
            }
        } else {
            spec::check_response(method.as_str(), path, status, content_type, &json);
        }
    }
    TestResponse {
        status,
        headers,
        text,
        json,
    }
}

/// A running server and the keys the tests use.
pub struct TestApp {
    pub base_url: String,
    pub org_id: String,
    pub owner: Credentials,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub database: TestDatabase,
    pub rate_limits: RateLimitPolicy,
    /// How this server reached its database (possibly through a proxy), and the key that seals
    /// its secrets: what another instance needs to share the store.
    store_url: String,
    secrets_key: orgdoor_store::SecretsKey,
}

/// The instant every test starts at; tests move the clock instead of sleeping.
pub const START: time::OffsetDateTime = datetime!(2026-08-10 03:03:37 UTC);

/// A server on a fresh database of the given backend.
pub async fn spawn_app(backend: Backend) -> TestApp {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    spawn_app_at(database, &url).await
}

/// A server on `database`, reached through `url` (which may lead through a proxy).
pub async fn spawn_app_at(database: TestDatabase, url: &str) -> TestApp {
    spawn_configured(database, url, RateLimitPolicy::Off).await
}

/// A server whose every rate-limit bucket holds `capacity` tokens.
pub async fn spawn_limited_app(backend: Backend, capacity: i64) -> TestApp {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    spawn_configured(database, &url, RateLimitPolicy::Capacity(capacity)).await
}

async fn spawn_configured(
    database: TestDatabase,
    url: &str,
    rate_limits: RateLimitPolicy,
) -> TestApp {
    spawn_adjusted(database, url, rate_limits, |app| app).await
}

/// A server on `database` reached through `url`, with `adjust` applied before it starts.
pub async fn spawn_adjusted_at(
    database: TestDatabase,
    url: &str,
    adjust: impl FnOnce(orgdoor::Application) -> orgdoor::Application,
) -> TestApp {
    spawn_adjusted(database, url, RateLimitPolicy::Off, adjust).await
}

/// A server on a fresh database of the given backend, with `adjust` applied before it starts
/// (connection limits, TLS, …).
pub async fn spawn_app_with(
    backend: Backend,
    adjust: impl FnOnce(orgdoor::Application) -> orgdoor::Application,
) -> TestApp {
    let database = TestDatabase::new(backend).await;
    let url = database.url.clone();
    spawn_adjusted(database, &url, RateLimitPolicy::Off, adjust).await
}

async fn spawn_adjusted(
    database: TestDatabase,
    url: &str,
    rate_limits: RateLimitPolicy,
    adjust: impl FnOnce(orgdoor::Application) -> orgdoor::Application,
) -> TestApp {
    let secrets_key = orgdoor_store::SecretsKey::generate();
    let store = orgdoor_store::connect(url, &secrets_key)
        .await
        .expect("store");
    let clock = Arc::new(ManualClock::new(START));
    let app = orgdoor::Application::with_store(
        "127.0.0.1:0".parse().expect("address"),
        store.clone(),
        clock.clone(),
    )
    .await
    .expect("server builds")
    .with_rate_limits(rate_limits);
    let app = adjust(app);
    let address = app.local_addr().expect("bound");
    let scheme = if app.is_tls() { "https" } else { "http" };
    let (organization, minted) =
        provision::create_organization(&store, OrgName::parse("Test-Org").expect("name"), START)
            .await
            .expect("org");
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        base_url: format!("{scheme}://{address}"),
        org_id: organization.id.to_string(),
        owner: Credentials {
            public_key: minted.key.public_key.to_string(),
            private_key: minted.private_key.expose_secret().to_owned(),
        },
        store,
        clock,
        database,
        rate_limits,
        store_url: url.to_owned(),
        secrets_key,
    }
}

impl TestApp {
    /// The one column `sql` selects, from every row, read straight from the database (behind
    /// the server's back).
    pub async fn stored_column<T>(&self, sql: &str) -> Vec<T>
    where
        T: Send + Unpin,
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        use sqlx::Connection as _;
        let url = &self.database.url;
        match self.database.backend {
            Backend::Sqlite => {
                let mut connection = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query_scalar(sql)
                    .fetch_all(&mut connection)
                    .await
                    .unwrap()
            }
            Backend::Postgres => {
                let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query_scalar(sql)
                    .fetch_all(&mut connection)
                    .await
                    .unwrap()
            }
        }
    }

    /// A second instance on the same database, as behind a load balancer: a store of its own
    /// (its own connections, SQLite writer included) with the same secrets key; returns its
    /// base URL.
    pub async fn spawn_instance(&self) -> String {
        self.spawn_instance_with(|app| app).await
    }

    /// [`TestApp::spawn_instance`] with `adjust` applied before it starts.
    pub async fn spawn_instance_with(
        &self,
        adjust: impl FnOnce(orgdoor::Application) -> orgdoor::Application,
    ) -> String {
        let store = orgdoor_store::connect(&self.store_url, &self.secrets_key)
            .await
            .expect("the second instance opens the store");
        let instance = orgdoor::Application::with_store(
            "127.0.0.1:0".parse().expect("address"),
            store,
            self.clock.clone(),
        )
        .await
        .expect("second instance builds")
        .with_rate_limits(self.rate_limits);
        let instance = adjust(instance);
        let url = format!("http://{}", instance.local_addr().expect("bound"));
        tokio::spawn(instance.run_until(std::future::pending()));
        url
    }

    /// `GET /health`, answered whatever its status.
    pub async fn health(&self) -> reqwest::Response {
        reqwest::get(format!("{}/health", self.base_url))
            .await
            .expect("the server answers")
    }

    pub fn client(&self, credentials: &Credentials) -> DigestClient {
        DigestClient::new(
            &self.base_url,
            credentials.clone(),
            DigestStyle::ChallengeEveryRequest,
        )
    }

    pub fn owner(&self) -> DigestClient {
        self.client(&self.owner)
    }

    /// A key of this organization with the given roles.
    pub async fn key_with(&self, roles: &[OrgRole]) -> Credentials {
        let org = self.org_id.parse().expect("org id");
        let roles = OrgRoles::new(roles.iter().copied()).expect("a role");
        let (_, minted) = provision::create_api_key(&self.store, &org, roles, "test key", START)
            .await
            .expect("key");
        Credentials {
            public_key: minted.key.public_key.to_string(),
            private_key: minted.private_key.expose_secret().to_owned(),
        }
    }

    /// A client with a new key of this organization with the given roles.
    pub async fn client_with(&self, roles: &[OrgRole]) -> DigestClient {
        self.client(&self.key_with(roles).await)
    }

    /// The owner key of a second organization, and that organization's id.
    pub async fn other_org(&self) -> (String, Credentials) {
        let (organization, minted) = provision::create_organization(
            &self.store,
            OrgName::parse("Other-Org").expect("name"),
            START,
        )
        .await
        .expect("org");
        (
            organization.id.to_string(),
            Credentials {
                public_key: minted.key.public_key.to_string(),
                private_key: minted.private_key.expose_secret().to_owned(),
            },
        )
    }

    pub fn invites_path(&self) -> String {
        format!("/api/atlas/v2/orgs/{}/invites", self.org_id)
    }

    pub fn api_keys_path(&self) -> String {
        format!("/api/atlas/v2/orgs/{}/apiKeys", self.org_id)
    }

    pub fn legacy_invites_path(&self) -> String {
        format!("/api/atlas/v1.0/orgs/{}/invites", self.org_id)
    }

    pub async fn create_team(&self, name: &str) -> String {
        let response = self
            .owner()
            .post(
                &format!("/api/atlas/v2/orgs/{}/teams", self.org_id),
                &serde_json::json!({"name": name, "usernames": []}),
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.text);
        response.json["id"].as_str().expect("team id").to_owned()
    }

    pub async fn create_project(&self, name: &str) -> String {
        let response = self
            .owner()
            .post(
                "/api/atlas/v2/groups",
                &serde_json::json!({"name": name, "orgId": self.org_id}),
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.text);
        response.json["id"].as_str().expect("project id").to_owned()
    }

    pub fn users_path(&self) -> String {
        format!("/api/atlas/v2/orgs/{}/users", self.org_id)
    }

    /// Invites through the org-users API; returns the pending user's id.
    pub async fn create_user(&self, body: &Value) -> String {
        let response = self
            .owner()
            .send(Method::POST, &self.users_path(), Some(V2025), Some(body))
            .await;
        assert_eq!(response.status, 201, "{}", response.text);
        response.json["id"].as_str().expect("user id").to_owned()
    }

    /// Answers an invitation through orgdoor's hook as the owner; `action` is `accept` or
    /// `decline`.
    pub async fn answer(&self, invitee: &str, action: &str, body: Option<&Value>) -> TestResponse {
        self.owner()
            .send(
                Method::POST,
                &format!(
                    "/api/orgdoor/v1/orgs/{}/invitations/{invitee}:{action}",
                    self.org_id
                ),
                None,
                body,
            )
            .await
    }

    /// A pending user: invited through the org-users API with the org `roles` only; returns
    /// their user id.
    pub async fn pending_user(&self, username: &str, roles: &[&str]) -> String {
        self.create_user(&serde_json::json!({"username": username, "roles": {"orgRoles": roles}}))
            .await
    }

    /// A member: invited with `roles` and accepted; returns their user id.
    pub async fn member(&self, username: &str, roles: &[&str]) -> String {
        let id = self.pending_user(username, roles).await;
        let accepted = self.answer(&id, "accept", None).await;
        assert_eq!(accepted.status, 200, "{}", accepted.text);
        id
    }

    /// A member with `ORG_MEMBER` and `group_roles` in `group`: invited through the org-users
    /// API and accepted; returns their user id.
    pub async fn project_member(
        &self,
        username: &str,
        group: &str,
        group_roles: &[&str],
    ) -> String {
        let id = self
            .create_user(&serde_json::json!({"username": username,
                "roles": {"orgRoles": ["ORG_MEMBER"],
                          "groupRoleAssignments": [{"groupId": group, "groupRoles": group_roles}]}}))
            .await;
        self.answer(&id, "accept", None).await;
        id
    }

    /// Invites `username` as a Member with `GROUP_READ_ONLY` in a new project named `project`;
    /// returns the project's id and the link in the invitation's message.
    pub async fn invite_to_new_project(&self, username: &str, project: &str) -> (String, String) {
        let project = self.create_project(project).await;
        let invited = self
            .owner()
            .post(
                &self.invites_path(),
                &serde_json::json!({"username": username, "roles": ["ORG_MEMBER"],
                    "groupRoleAssignments": [{"groupId": project, "roles": ["GROUP_READ_ONLY"]}]}),
            )
            .await;
        assert_eq!(invited.status, 200, "{}", invited.text);
        let link = self.link_to(username).await;
        (project, link)
    }

    /// The link in the newest message of the outbox to `to`.
    pub async fn link_to(&self, to: &str) -> String {
        let outbox = self.outbox(&format!("?to={to}")).await;
        outbox.json["results"][0]["acceptUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("no message to {to}: {}", outbox.text))
            .to_owned()
    }

    /// The org user with `username` (2025-02-19 shape), whatever their membership status.
    pub async fn org_user_named(&self, username: &str) -> Value {
        let statuses = [
            "ACTIVE",
            "PENDING",
            "INVITATION_REJECTED",
            "INVITATION_EXPIRED",
        ]
        .map(|status| format!("&orgMembershipStatuses={status}"))
        .concat();
        let response = self
            .owner()
            .send(
                Method::GET,
                &format!("{}?username={username}{statuses}", self.users_path()),
                Some(V2025),
                None,
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.text);
        response.json["results"][0].clone()
    }

    /// The organization's outbox as the owner reads it; `query` is appended as is (`?to=…`).
    pub async fn outbox(&self, query: &str) -> TestResponse {
        let response = self
            .owner()
            .send(
                Method::GET,
                &format!("/api/orgdoor/v1/orgs/{}/outbox{query}", self.org_id),
                None,
                None,
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.text);
        response
    }

    pub async fn invite(&self, username: &str, roles: &[&str]) -> TestResponse {
        self.owner()
            .post(
                &self.invites_path(),
                &serde_json::json!({"username": username, "roles": roles}),
            )
            .await
    }
}

/// Where a burst of guesses answered by `statuses` was first throttled (429), asserting that was
/// after 10 to 30 attempts.
#[track_caller]
pub fn first_throttled(statuses: &[u16]) -> usize {
    let first_throttled = statuses
        .iter()
        .position(|status| *status == 429)
        .expect("guessing is throttled");
    assert!(
        (10..=30).contains(&first_throttled),
        "throttled after {first_throttled} attempts: {statuses:?}"
    );
    first_throttled
}

/// The string field `field` of every object in the JSON array `items`, in order.
#[track_caller]
pub fn strings<'a>(items: &'a Value, field: &str) -> Vec<&'a str> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|item| item[field].as_str().unwrap_or_else(|| panic!("no {field}")))
        .collect()
}

/// The string fields `first` and `second` of every object in the JSON array `items`, in order.
#[track_caller]
pub fn string_pairs<'a>(items: &'a Value, first: &str, second: &str) -> Vec<(&'a str, &'a str)> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|item| {
            let field = |name: &str| item[name].as_str().unwrap_or_else(|| panic!("no {name}"));
            (field(first), field(second))
        })
        .collect()
}

/// Runs the Python client `tests/clients/{script}` against `app` (its URL and organization,
/// and `env`), asserts it succeeds, and returns the JSON objects it printed, one a line.
pub async fn run_python_client(app: &TestApp, script: &str, env: &[(&str, &str)]) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(script);
    let output = tokio::process::Command::new("python3")
        .arg(path)
        .env("ORGDOOR_URL", &app.base_url)
        .env("ORG_ID", &app.org_id)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "the python client failed (scripts/test installs `requests`): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// Asserts the invitation at `item` has expired: the pending invitations at `list` are none, the
/// invitation is not found by its id, and `update` sent to it is refused as expired.
pub async fn assert_invitation_expired(
    client: &DigestClient,
    list: &str,
    item: &str,
    update: &Value,
) {
    assert_eq!(client.get(list).await.json, serde_json::json!([]));
    client
        .get(item)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    client
        .patch(item, update)
        .await
        .assert_error(400, "ALREADY_EXPIRED");
}

/// A port nothing listens on at the moment, for a server a test starts itself.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Bodies that invite someone to a project which both the project invitations and the project
/// users APIs refuse with a 400, each with its error code.
pub fn bad_project_invitee_bodies() -> [(Value, &'static str); 6] {
    use serde_json::json;
    [
        (json!({"roles": ["GROUP_OWNER"]}), "MISSING_ATTRIBUTE"),
        (json!({"username": "ada@example.com"}), "MISSING_ATTRIBUTE"),
        (
            json!({"username": "ada@example.com", "roles": []}),
            "MISSING_ATTRIBUTE",
        ),
        (
            json!({"username": "nope", "roles": ["GROUP_OWNER"]}),
            "INVALID_EMAIL_ADDRESS",
        ),
        (
            json!({"username": "ada@example.com", "roles": ["ORG_OWNER"]}),
            "INVALID_ROLE_FOR_GROUP",
        ),
        (
            json!({"username": "ada@example.com", "roles": ["GROUP_WIZARD"]}),
            "INVALID_ENUM_VALUE",
        ),
    ]
}

// Digest headers built by hand, the way the Go client (and others) write them.

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The nonce of a `WWW-Authenticate` challenge, parsed the strict way the Go client does:
/// split on `", "`, only known keys.
pub fn go_parse_challenge(header: &str) -> (String, bool) {
    let rest = header.strip_prefix("Digest ").expect("a Digest challenge");
    let mut nonce = None;
    let mut stale = false;
    for part in rest.split(", ") {
        let (key, value) = part.split_once('=').expect("key=value");
        match key {
            "realm" | "domain" | "opaque" | "algorithm" | "qop" => {}
            "nonce" => nonce = Some(value.trim_matches('"').to_owned()),
            "stale" => stale = value == "true",
            other => panic!("the Go client refuses a challenge with {other}"),
        }
    }
    assert!(rest.contains("qop=\"auth\""));
    (nonce.expect("a nonce"), stale)
}

/// The nonce of the challenge a request to `url` without credentials gets (a 401).
pub async fn challenge_nonce(url: &str) -> String {
    let response = reqwest::get(url).await.expect("the server answers");
    assert_eq!(response.status(), 401);
    let header = response.headers()[WWW_AUTHENTICATE]
        .to_str()
        .expect("an ascii challenge");
    go_parse_challenge(header).0
}

/// An `Authorization` header built as a given client would, from parts.
#[allow(clippy::too_many_arguments)]
pub fn authorization(
    credentials: &Credentials,
    method: &str,
    uri: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
    template: &str,
) -> String {
    let ha1 = md5_hex(&format!(
        "{}:MMS Public API:{}",
        credentials.public_key, credentials.private_key
    ));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    template
        .replace("{username}", &credentials.public_key)
        .replace("{nonce}", nonce)
        .replace("{uri}", uri)
        .replace("{nc}", nc)
        .replace("{cnonce}", cnonce)
        .replace("{response}", &response)
}

/// An `Authorization` header as the Go client writes it, with count `nc` (cnonce `abcd`).
pub fn go_authorization(
    credentials: &Credentials,
    method: &str,
    uri: &str,
    nonce: &str,
    nc: &str,
) -> String {
    authorization(credentials, method, uri, nonce, nc, "abcd", GO_TEMPLATE)
}

pub const GO_TEMPLATE: &str = r#"Digest username="{username}", realm="MMS Public API", nonce="{nonce}", uri="{uri}", cnonce="{cnonce}", nc={nc}, qop=auth, response="{response}", algorithm="MD5""#;

/// Waits until `check` holds, as a change made on one instance reaches another (within a poll
/// of the credential generation); fails after five seconds, far beyond the bound.
pub async fn eventually<F, Fut>(what: &str, mut check: F) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "never: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}
