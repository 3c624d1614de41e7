//! Building and running the server: the store, the shared nonce secret, the router and every
//! tower layer, in one place. `main` and the tests build it the same way.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;

use anyhow::Context as _;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use futures_util::FutureExt as _;
use orgdoor_store::{ChangeCursor, Store};
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;
use tower_http::normalize_path::NormalizePathLayer;
use tracing::Instrument as _;

use crate::clock::Clock;
use crate::config::{DeliverySettings, PublicUrl, RateLimitPolicy, Settings};
use crate::control::Control;
use crate::error::AppError;
use crate::freshness::{self, Readings};
use crate::held_views::{self, HeldViews};
use crate::http;
use crate::mail::{self, Mailer};
use crate::security::credential_cache::{self, CredentialCache};
use crate::security::csrf::CsrfGuard;
use crate::security::digest::NonceAuthority;
use crate::security::failures::FailureLimiter;
use crate::security::replay::ReplayGuard;
use crate::state::{AppState, SharedState};
use crate::transport::{self, ConnectionLimits};

/// Name of the shared secret that signs Digest nonces.
const NONCE_SECRET: &str = "digest-nonce-key";
/// Name of the shared secret that signs the invitee page's forms.
const CSRF_SECRET: &str = "invitation-page-csrf-key";

pub struct Application {
    listener: TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    /// Whether `state.public_url` was given, rather than taken from the listener.
    public_url_given: bool,
    delivery: DeliverySettings,
    mailer: Option<Mailer>,
    /// Where `/metrics` is served instead of the API address, if anywhere.
    metrics_listener: Option<TcpListener>,
    /// How often the store's credential generation is read.
    credential_poll: Duration,
}

impl Application {
    /// Opens the store the settings name and binds the listener.
    pub async fn build(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let tls = settings.tls.as_ref().map(transport::load_tls).transpose()?;
        let store = orgdoor_store::connect(settings.database_url.expose(), &settings.secrets_key)
            .await
            .with_context(|| format!("cannot open the store {:?}", settings.database_url))?;
        let mut app = Self::with_store(settings.listen, store, clock)
            .await?
            .with_connection_limits(settings.connection_limits);
        if let Some(tls) = tls {
            app = app.with_tls(tls);
        }
        if let Some(url) = &settings.public_url {
            app = app.with_public_url(url.clone());
        }
        app.with_delivery(settings.delivery.clone())
    }

    /// Whether the server answers HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    pub async fn with_store(
        listen: SocketAddr,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let random_secret = || {
            let mut secret = vec![0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            secret
        };
        let secret = store.shared_secret(NONCE_SECRET, &random_secret).await?;
        let csrf_secret = store.shared_secret(CSRF_SECRET, &random_secret).await?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::AddrInUse => anyhow::anyhow!("{listen} is already in use"),
                std::io::ErrorKind::AddrNotAvailable => {
                    anyhow::anyhow!("{listen} is not an address of this machine")
                }
                std::io::ErrorKind::PermissionDenied => {
                    anyhow::anyhow!("no permission to listen on {listen}")
                }
                _ => anyhow::Error::new(error).context(format!("cannot listen on {listen}")),
            })?;
        let readings = Arc::new(Readings::default());
        let state = AppState::new(SharedState {
            store,
            clock,
            rate_limits: RateLimitPolicy::Off,
            nonces: Arc::new(NonceAuthority::new(&secret)),
            replays: Arc::new(ReplayGuard::default()),
            failures: Arc::new(FailureLimiter::default()),
            credentials: Arc::new(CredentialCache::new(
                credential_cache::DEFAULT_CAPACITY,
                Arc::clone(&readings),
            )),
            views: Arc::new(HeldViews::new(
                held_views::DEFAULT_BUDGET,
                Arc::clone(&readings),
            )),
            readings,
            public_url: PublicUrl::of_listener(listener.local_addr()?, false),
            outbox_posted: Arc::new(Notify::new()),
            csrf: Arc::new(CsrfGuard::new(&csrf_secret)),
            control: None,
        });
        Ok(Self {
            listener,
            state,
            limits: ConnectionLimits::default(),
            tls: None,
            public_url_given: false,
            delivery: DeliverySettings::default(),
            mailer: None,
            metrics_listener: None,
            credential_poll: freshness::POLL_EVERY,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Turns rate limits on (they are off unless asked for).
    pub fn with_rate_limits(mut self, policy: RateLimitPolicy) -> Self {
        self.state.parts_mut().rate_limits = policy;
        self
    }

    /// How many credentials are held in memory (0: none, every request asks the store).
    pub fn with_credential_cache(mut self, capacity: usize) -> Self {
        let readings = Arc::clone(&self.state.readings);
        self.state.parts_mut().credentials = Arc::new(CredentialCache::new(capacity, readings));
        self
    }

    /// How many bytes of rendered lists and pages are held in memory (0: none, every one asks
    /// the store).
    pub fn with_view_budget(mut self, bytes: usize) -> Self {
        let readings = Arc::clone(&self.state.readings);
        self.state.parts_mut().views = Arc::new(HeldViews::new(bytes, readings));
        self
    }

    /// The lists and pages this instance holds, to look at from outside (tests, tools).
    pub fn held_views(&self) -> Arc<HeldViews> {
        Arc::clone(&self.state.views)
    }

    /// How often the store's changes are read (default [`freshness::POLL_EVERY`]); what is
    /// held goes unused once the last reading is older than [`freshness::FRESH_FOR`], so a
    /// long interval costs store reads, never a late revocation.
    pub fn with_credential_poll(mut self, every: Duration) -> Self {
        self.credential_poll = every;
        self
    }

    /// Bounds on connections (defaults: [`ConnectionLimits::default`]).
    pub fn with_connection_limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Serves HTTPS instead of HTTP.
    pub fn with_tls(mut self, acceptor: TlsAcceptor) -> Self {
        self.tls = Some(acceptor);
        if !self.public_url_given
            && let Ok(address) = self.listener.local_addr()
        {
            self.state.parts_mut().public_url = PublicUrl::of_listener(address, true);
        }
        self
    }

    /// The base of the links in messages (default: this server's own address).
    pub fn with_public_url(mut self, url: PublicUrl) -> Self {
        self.state.parts_mut().public_url = url;
        self.public_url_given = true;
        self
    }

    /// Turns the control API on (`/api/orgdoor/v1/control`): the server's clock becomes the
    /// control's, which follows the store's shared offset.
    pub fn with_control(mut self, control: Control) -> Self {
        let control = Arc::new(control);
        let parts = self.state.parts_mut();
        parts.clock = control.clock.clone();
        parts.control = Some(control);
        self
    }

    /// How the outbox is delivered (default: it is not; messages stay in the outbox). Fails on
    /// an SMTP URL or sender lettre cannot use.
    pub fn with_delivery(mut self, delivery: DeliverySettings) -> anyhow::Result<Self> {
        self.mailer = Mailer::from_settings(&delivery)?;
        self.delivery = delivery;
        Ok(self)
    }

    /// Serves `/metrics` on `listen` (plain HTTP) instead of the API address, which then
    /// answers it 404 like any unknown path.
    pub async fn with_metrics_listener(mut self, listen: SocketAddr) -> std::io::Result<Self> {
        self.metrics_listener = Some(TcpListener::bind(listen).await?);
        Ok(self)
    }

    /// The address `/metrics` is served on, if not the API address.
    pub fn metrics_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.metrics_listener.as_ref().map(TcpListener::local_addr)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let scrape = http::metrics::routes(&self.state);
        let mut router = router(&self.state, self.limits.request_timeout);
        let metrics_server = match self.metrics_listener {
            None => {
                router = router.merge(scrape);
                None
            }
            Some(listener) => Some(tokio::spawn(transport::serve(
                listener,
                BoxCloneSyncService::new(scrape),
                self.limits,
                None,
                std::future::pending(),
            ))),
        };
        let service = ServiceBuilder::new()
            .map_request(transport::record_request_target)
            .layer(NormalizePathLayer::trim_trailing_slash())
            .map_request(http::custom_methods::split_custom_method)
            .map_response(http::fallback::allow_only_with_405)
            .service(router);
        // Without limits no bucket is written, so there is nothing to sweep.
        let sweeper = (self.state.rate_limits != RateLimitPolicy::Off)
            .then(|| tokio::spawn(http::rate_limits::sweep_idle_buckets(self.state.clone())));
        let outbox = tokio::spawn(mail::run_outbox(
            self.state.clone(),
            self.delivery,
            self.mailer,
        ));
        // With nothing held there is nothing to keep coherent, so nothing to read.
        let holds_anything = self.state.credentials.is_enabled() || self.state.views.is_enabled();
        let credential_follower = holds_anything.then(|| {
            tokio::spawn(follow_store_changes(
                self.state.clone(),
                self.credential_poll,
            ))
        });
        let pruner = tokio::spawn(prune_store_changes(self.state.clone()));
        let follower = self
            .state
            .control
            .is_some()
            .then(|| tokio::spawn(follow_control_state(self.state.clone())));
        let served = transport::serve(
            self.listener,
            BoxCloneSyncService::new(service),
            self.limits,
            self.tls,
            shutdown,
        )
        .await;
        if let Some(sweeper) = sweeper {
            sweeper.abort();
        }
        outbox.abort();
        if let Some(credential_follower) = credential_follower {
            credential_follower.abort();
        }
        pruner.abort();
        if let Some(follower) = follower {
            follower.abort();
        }
        if let Some(metrics_server) = metrics_server {
            metrics_server.abort();
        }
        served
    }

    /// Takes the store's control state (clock offset, resets) before serving, so the first
    /// request already sees the clock other instances set.
    pub async fn catch_up_with_control_state(&self) -> anyhow::Result<()> {
        if let Some(control) = &self.state.control {
            control.follow(self.state.store.control_state().await?);
        }
        Ok(())
    }
}

/// How often an instance with the control API looks at the store's control state.
const CONTROL_POLL: Duration = Duration::from_millis(500);

/// Keeps this instance's clock and memory in step with what the control API did on any
/// instance sharing the store: the clock's offset, and resets (after which failed attempts are
/// forgotten here too).
async fn follow_control_state(state: AppState) {
    let Some(control) = state.control.clone() else {
        return;
    };
    loop {
        tokio::time::sleep(CONTROL_POLL).await;
        match state.store.control_state().await {
            Ok(shared) => {
                if control.follow(shared) {
                    state.failures.clear();
                    tracing::info!(
                        resets = shared.resets,
                        "the store was reset by another instance"
                    );
                }
            }
            Err(error) => tracing::debug!(%error, "could not read the control state"),
        }
    }
}

/// How long this instance may go without a reading before the store's record of changes may
/// have been pruned past what it saw: a reading after a longer gap reports every organization.
const LONGEST_READING_GAP: Duration = Duration::from_secs(20);
/// How often the record of changes is pruned, with the cursor read at the previous pruning:
/// older than this, and so older than [`LONGEST_READING_GAP`], so every instance has read past
/// it or will treat everything as changed.
const PRUNE_EVERY: Duration = Duration::from_secs(30);

/// Reads what changed in the store every `poll`, and as soon as a write is waiting for a
/// reading, so that what another instance changed stops being served here within a poll, and
/// what this instance changed before the write is answered; an instance whose readings fail or
/// stall stops using what it holds once the last one is too old.
async fn follow_store_changes(state: AppState, poll: Duration) {
    let mut every = tokio::time::interval(poll);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut follower = ChangeFollower::default();
    loop {
        let covered = state.readings.reading_due(&mut every).await;
        // Bounded, so a hung store connection cannot hold every waiting write.
        let succeeded = tokio::time::timeout(freshness::AFTER_WRITE_WAIT, follower.read(&state))
            .await
            .unwrap_or(false);
        if !succeeded {
            forget_everything_held(&state);
        }
        state.readings.reading_done(covered);
    }
}

/// Prunes the store's record of changes every [`PRUNE_EVERY`], up to a cursor read at the
/// previous pruning. A task of its own, run whatever this instance holds: the record grows on
/// every write, and a slow pruning must not hold up the readings.
async fn prune_store_changes(state: AppState) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut read_by_all: Option<ChangeCursor> = None;
    loop {
        every.tick().await;
        if let Some(cursor) = &read_by_all
            && let Err(error) = state.store.prune_changes(cursor).await
        {
            tracing::debug!(%error, "could not prune the store's record of changes");
        }
        read_by_all = match state.store.read_changes(&ChangeCursor::default()).await {
            Ok(changes) => Some(changes.cursor),
            Err(_) => None,
        };
    }
}

/// Where the readings of the store's changes have got to.
#[derive(Default)]
struct ChangeFollower {
    cursor: ChangeCursor,
    /// When the last successful reading began.
    last_read: Option<std::time::Instant>,
}

impl ChangeFollower {
    /// Reads what changed since the last reading and tells what is held; a failed reading
    /// leaves everything to go stale (the caller drops it).
    async fn read(&mut self, state: &AppState) -> bool {
        let read_at = std::time::Instant::now();
        let since = match self.last_read {
            Some(last) if read_at.duration_since(last) <= LONGEST_READING_GAP => {
                self.cursor.clone()
            }
            _ => ChangeCursor::default(),
        };
        match state.store.read_changes(&since).await {
            Ok(changes) => {
                state
                    .credentials
                    .confirm(changes.credential_generation, read_at);
                state.views.confirm(&changes.organizations, read_at);
                self.cursor = changes.cursor;
                self.last_read = Some(read_at);
                true
            }
            Err(error) => {
                tracing::debug!(%error, "could not read the store's changes");
                false
            }
        }
    }
}

/// Drops everything held from the store and trusts nothing until the next reading.
fn forget_everything_held(state: &AppState) {
    state.credentials.forget_all();
    state.views.forget_all();
}

/// Makes a write's effect hold on this instance before it is answered. A request refused
/// before any handler ran (401 unauthenticated, 405, 429 rate-limited) wrote nothing, so it
/// costs nothing; any other answer waits for a reading of the store's changes that began after
/// it (a handler may commit and still answer 4xx; concurrent writes share the reading); a
/// failure (a panic, a timeout, a store error) may have committed before it failed, so
/// everything held is dropped.
async fn settle_write(state: &AppState, status: StatusCode) {
    if matches!(
        status,
        StatusCode::UNAUTHORIZED | StatusCode::METHOD_NOT_ALLOWED | StatusCode::TOO_MANY_REQUESTS
    ) || !(state.credentials.is_enabled() || state.views.is_enabled())
    {
        return;
    }
    if status.is_server_error() || !state.readings.await_reading().await {
        forget_everything_held(state);
    }
}

/// The whole router with its layers; requests outside `/api/atlas` get an Atlas 404.
pub fn router(state: &AppState, request_timeout: Duration) -> Router {
    let mut routes = http::api_router(state).nest("/api/orgdoor/v1", http::admin::router(state));
    if let Some(control) = http::control::router(state) {
        routes = routes.nest("/api/orgdoor/v1/control", control);
    }
    let front = FrontDoor {
        state: state.clone(),
        request_timeout,
    };
    routes
        .route("/health", axum::routing::get(http::health::health))
        .merge(http::oauth::routes())
        .merge(http::invitation_page::routes())
        .fallback(http::operations::not_found)
        .method_not_allowed_fallback(http::operations::method_not_allowed)
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(front, every_request))
}

/// What the middleware around every request needs.
#[derive(Clone)]
struct FrontDoor {
    state: AppState,
    request_timeout: Duration,
}

/// Every request's way in and out, in one middleware whose steps are called in turn rather
/// than stacked as layers (each axum layer clones and boxes the whole chain inside it on every
/// request). From the outside in: counted and timed (outermost, so timeouts and panics count
/// with the status they were answered); given a usable request id, which the answer carries
/// back; logged, inside its span; a panic answered with Atlas's 500; a plain-text error given
/// Atlas's body; cut off at the deadline; faulted on arrival if a control rule says so; and
/// after a write, outside the deadline (the write has committed; its answer must not turn into
/// a 503), held credentials brought up to date before the answer leaves.
async fn every_request(
    State(front): State<FrontDoor>,
    request: Request,
    next: Next,
) -> Response<Body> {
    let front = &front;
    let may_write = !request.method().is_safe();
    http::metrics::record_request(request, |mut request| async move {
        let request_id = usable_request_id(&mut request);
        let span = request_span(&request, &request_id);
        let mut response = http::observe::log_request(&front.state, request, |request| {
            let answered = async move {
                let arrived = http::observe::faults_on_arrival(&front.state, request, |request| {
                    next.run(request)
                });
                let response = match tokio::time::timeout(front.request_timeout, arrived).await {
                    Ok(response) => response,
                    Err(_) => AppError::ServiceUnavailable.into_response(),
                };
                if may_write {
                    settle_write(&front.state, response.status()).await;
                }
                http::fallback::atlas_error_body(response).await
            };
            async move {
                AssertUnwindSafe(answered)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| {
                        if may_write {
                            forget_everything_held(&front.state);
                        }
                        panic_response(panic)
                    })
            }
        })
        .instrument(span)
        .await;
        response
            .headers_mut()
            .entry(REQUEST_ID)
            .or_insert(request_id);
        response
    })
    .await
}

const REQUEST_ID: &str = "x-request-id";
/// The longest request id a client may choose; a longer or unprintable one is replaced.
const MAX_REQUEST_ID: usize = 128;

/// A client's `X-Request-Id` names its request in logs and the answer, unless it is long or
/// holds what does not belong in a log line; then, as when there is none, the server makes
/// one up and puts it on the request.
fn usable_request_id(request: &mut Request) -> HeaderValue {
    let given = request.headers().get(REQUEST_ID).filter(|id| {
        id.len() <= MAX_REQUEST_ID
            && !id.is_empty()
            && id.as_bytes().iter().all(|c| c.is_ascii_graphic())
    });
    if let Some(id) = given {
        return id.clone();
    }
    let id = new_request_id();
    request.headers_mut().insert(REQUEST_ID, id.clone());
    id
}

/// A random UUID from the thread's generator: asking the operating system for every id would
/// be a system call per request.
fn new_request_id() -> HeaderValue {
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut text = uuid::Uuid::encode_buffer();
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text))
        .unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// A safety net, not a way of handling errors: a panic becomes Atlas's 500 body.
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    AppError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
}

/// The span every line a request logs is in.
fn request_span(request: &Request, request_id: &HeaderValue) -> tracing::Span {
    tracing::info_span!(
        "request",
        http.method = %request.method(),
        http.path = %http::observe::logged_path(request.uri().path()),
        request_id = request_id.to_str().unwrap_or(""),
        auth.key = tracing::field::Empty,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_version_4_uuids() {
        let ids: Vec<String> = (0..2)
            .map(|_| new_request_id().to_str().expect("ASCII").to_owned())
            .collect();
        assert_ne!(ids[0], ids[1]);
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 4, "{id}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
    }

    #[test]
    fn a_usable_request_id_is_kept_and_any_other_replaced() {
        let with_id = |id: &[u8]| {
            let mut request = Request::new(Body::empty());
            request.headers_mut().insert(
                REQUEST_ID,
                HeaderValue::from_bytes(id).expect("a header value"),
            );
            let chosen = usable_request_id(&mut request);
            assert_eq!(request.headers().get(REQUEST_ID), Some(&chosen));
            chosen
        };
        assert_eq!(with_id(b"client-42"), "client-42");
        for unusable in [
            &b"has space"[..],
            b"",
            b"tab\there",
            &[b'a'; MAX_REQUEST_ID + 1],
        ] {
            let chosen = with_id(unusable);
            assert!(
                uuid::Uuid::parse_str(chosen.to_str().expect("ASCII")).is_ok(),
                "{unusable:?}"
            );
        }
        let mut bare = Request::new(Body::empty());
        let made = usable_request_id(&mut bare);
        assert_eq!(bare.headers().get(REQUEST_ID), Some(&made));
    }
}
