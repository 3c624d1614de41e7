//! `orgdoor serve`: the server's options and its start-up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use secrecy::ExposeSecret;

use super::StoreArgs;
use crate::app::Application;
use crate::clock::{Clock, SystemClock};
use crate::config::{
    DatabaseUrl, DeliverySettings, InvalidPublicUrl, PublicUrl, RateLimitPolicy, Settings, SmtpUrl,
};
use crate::control::{Control, Restore, journal};
use crate::held_views;
use crate::provision::{self, FixedKey};
use crate::security::credential_cache;
use crate::seed::{self, Seed};
use crate::transport::{ConnectionLimits, TlsFiles};
use orgdoor_domain::Organization;

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// Address to listen on, `HOST:PORT`: `127.0.0.1:8080`, `0.0.0.0:8080` for every
    /// interface, `localhost:8080`, or port 0 for any free port (printed).
    #[arg(long, env = "ORGDOOR_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Atlas's rate limits (`atlas`), or none (`off`, for load tests).
    #[arg(long, env = "ORGDOOR_RATE_LIMITS", value_enum, default_value = "atlas")]
    rate_limits: RateLimitMode,
    /// How many credentials (API keys, access tokens) are held in memory, so requests
    /// authenticate without the store; 0 holds none. Each takes well under 1 KiB.
    #[arg(
        long,
        env = "ORGDOOR_CREDENTIAL_CACHE_ENTRIES",
        default_value_t = credential_cache::DEFAULT_CAPACITY
    )]
    credential_cache_entries: usize,
    /// How many bytes of organizations' rendered lists of pending invitations and org-users
    /// pages are held in memory, so reading them again reads neither the store nor
    /// serializes; 0 holds none. A list takes about 270 bytes per invitation.
    #[arg(
        long,
        env = "ORGDOOR_VIEW_CACHE_BYTES",
        default_value_t = held_views::DEFAULT_BUDGET
    )]
    view_cache_bytes: usize,
    /// Serve `GET /metrics` (Prometheus) on this address instead of the listen address.
    #[arg(long, env = "ORGDOOR_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    connections: ConnectionArgs,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    mail: MailArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    control: ControlArgs,
    #[command(flatten)]
    fixed: FixedKeyArgs,
}

/// An owner key known before the server starts.
#[derive(Debug, Args)]
struct FixedKeyArgs {
    /// The public key of an Organization Owner API key to make (8 lowercase letters): of a new
    /// organization on an empty store, else of the oldest one; kept across resets.
    #[arg(long, env = "ORGDOOR_PUBLIC_KEY", requires = "private_key")]
    public_key: Option<String>,
    /// Its private key (8 to 128 printable characters; Atlas's are UUIDs). Only its Digest
    /// hash is stored.
    #[arg(
        long,
        env = "ORGDOOR_PRIVATE_KEY",
        hide_env_values = true,
        requires = "public_key"
    )]
    private_key: Option<String>,
}

/// The control API for test suites.
#[derive(Debug, Args)]
struct ControlArgs {
    /// A seed to put in the store before listening and after each reset (YAML or JSON:
    /// organizations, API keys, service accounts, users, teams, projects, invitations; see
    /// `examples/seed.yaml`). Applying it again changes nothing.
    #[arg(long, env = "ORGDOOR_SEED")]
    seed: Option<PathBuf>,
    /// The one-liner a test suite starts: an in-memory store (`sqlite::memory:`, gone on
    /// exit), rate limits off, and the control API on, its token printed with the owner key
    /// unless `--control-token` gives one. A reset puts back the same organization and key.
    #[arg(long, env = "ORGDOOR_EPHEMERAL")]
    ephemeral: bool,
    /// Turns on the control API under `/api/orgdoor/v1/control` (reset, clock, faults, request
    /// journal), which takes only `Authorization: Bearer TOKEN`. Off without it.
    #[arg(long, env = "ORGDOOR_CONTROL_TOKEN", hide_env_values = true, value_parser = parse_control_token)]
    control_token: Option<String>,
}

/// A control token: printable ASCII without spaces, 8 to 256 characters.
fn parse_control_token(text: &str) -> Result<String, String> {
    if !(8..=256).contains(&text.len()) || !text.bytes().all(|c| c.is_ascii_graphic()) {
        return Err("a control token is 8 to 256 printable ASCII characters, no spaces".into());
    }
    Ok(text.to_owned())
}

/// Bounds on what clients can make the server hold.
#[derive(Debug, Args)]
struct ConnectionArgs {
    /// Open connections at most; at the cap, a new one closes the oldest idle one.
    #[arg(long, env = "ORGDOOR_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Seconds a client may take to send a request's head (request line and headers).
    #[arg(long, env = "ORGDOOR_HEADER_READ_TIMEOUT", default_value_t = 10)]
    header_read_timeout: u64,
    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, env = "ORGDOOR_IDLE_TIMEOUT", default_value_t = 60)]
    idle_timeout: u64,
    /// Seconds a client may take to send a request's body.
    #[arg(long, env = "ORGDOOR_BODY_READ_TIMEOUT", default_value_t = 20)]
    body_read_timeout: u64,
    /// Seconds a response may wait for its client to read more of it; beyond, the connection
    /// is closed.
    #[arg(long, env = "ORGDOOR_RESPONSE_WRITE_TIMEOUT", default_value_t = 20)]
    response_write_timeout: u64,
    /// Seconds a request may take in all before it is answered 503.
    #[arg(long, env = "ORGDOOR_REQUEST_TIMEOUT", default_value_t = 30)]
    request_timeout: u64,
    /// MiB of request bodies held at once over all connections; a body that finds no room is
    /// answered 503.
    #[arg(long, env = "ORGDOOR_MAX_BODY_MEMORY", default_value_t = 256)]
    max_body_memory: usize,
}

impl From<ConnectionArgs> for ConnectionLimits {
    fn from(args: ConnectionArgs) -> Self {
        ConnectionLimits {
            max_connections: args.max_connections,
            header_read_timeout: Duration::from_secs(args.header_read_timeout),
            idle_timeout: Duration::from_secs(args.idle_timeout),
            body_read_timeout: Duration::from_secs(args.body_read_timeout),
            response_write_timeout: Duration::from_secs(args.response_write_timeout),
            request_timeout: Duration::from_secs(args.request_timeout),
            max_body_memory: args.max_body_memory.saturating_mul(1024 * 1024),
        }
    }
}

/// Invitation messages: where their links lead and how they are delivered.
#[derive(Debug, Args)]
struct MailArgs {
    /// The base of the links in invitation messages [default: the listen address].
    #[arg(long, env = "ORGDOOR_PUBLIC_URL", value_parser = parse_public_url)]
    public_url: Option<PublicUrl>,
    /// Deliver invitation messages through this SMTP server:
    /// `smtp://[user:password@]host:port` (plain; add `?tls=required` for STARTTLS) or
    /// `smtps://…` (TLS). Without it, messages stay in the outbox
    /// (`GET /api/orgdoor/v1/orgs/{orgId}/outbox`).
    #[arg(long, env = "ORGDOOR_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// PEM certificates to trust, besides the system's, for the SMTP server's TLS certificate.
    #[arg(long, env = "ORGDOOR_SMTP_CA_FILE", requires = "smtp_url")]
    smtp_ca_file: Option<PathBuf>,
    /// The sender of invitation messages.
    #[arg(
        long,
        env = "ORGDOOR_MAIL_FROM",
        default_value = "orgdoor <noreply@orgdoor.invalid>"
    )]
    mail_from: String,
}

fn parse_public_url(text: &str) -> Result<PublicUrl, InvalidPublicUrl> {
    PublicUrl::parse(text)
}

impl From<MailArgs> for DeliverySettings {
    fn from(args: MailArgs) -> Self {
        DeliverySettings {
            smtp: args.smtp_url.map(SmtpUrl::new),
            smtp_ca_file: args.smtp_ca_file,
            from: args.mail_from,
            ..DeliverySettings::default()
        }
    }
}

/// HTTPS: both files or neither.
#[derive(Debug, Args)]
struct TlsArgs {
    /// PEM certificate chain, leaf first; serves HTTPS instead of HTTP.
    #[arg(long, env = "ORGDOOR_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of that certificate.
    #[arg(long, env = "ORGDOOR_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl TlsArgs {
    fn files(self) -> Option<TlsFiles> {
        Some(TlsFiles {
            certificate: self.tls_cert?,
            private_key: self.tls_key?,
        })
    }
}

/// The `--rate-limits` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RateLimitMode {
    Atlas,
    Off,
}

impl From<RateLimitMode> for RateLimitPolicy {
    fn from(mode: RateLimitMode) -> Self {
        match mode {
            RateLimitMode::Atlas => RateLimitPolicy::Atlas,
            RateLimitMode::Off => RateLimitPolicy::Off,
        }
    }
}

/// How `serve` was asked to start, beyond the server's settings.
struct StartUp {
    rate_limits: RateLimitPolicy,
    credential_cache_entries: usize,
    view_cache_bytes: usize,
    control_token: Option<String>,
    fixed_key: Option<FixedKey>,
    seed: Option<Arc<Seed>>,
    ephemeral: bool,
    /// Where `/metrics` is served when not on the listen address.
    metrics_listen: Option<SocketAddr>,
}

pub(super) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // The recorder first, so what happens before the first scrape (opening the store, the
    // first organization) is counted too.
    crate::metrics::handle();
    let ephemeral = args.control.ephemeral;
    let fixed_key = match (&args.fixed.public_key, &args.fixed.private_key) {
        (Some(public_key), Some(private_key)) => Some(FixedKey::parse(public_key, private_key)?),
        _ => None,
    };
    // Read before anything is opened, so a broken seed changes nothing.
    let seed = match &args.control.seed {
        Some(path) => Some(Arc::new(Seed::load(path).await?)),
        None => None,
    };
    let (database_url, secrets_key) = if ephemeral {
        (
            "sqlite::memory:".to_owned(),
            orgdoor_store::SecretsKey::generate(),
        )
    } else {
        let key = args.store.secrets_key()?;
        (args.store.database_url, key)
    };
    let settings = Settings {
        listen: resolve_listen(&args.listen).await?,
        secrets_key,
        database_url: DatabaseUrl::new(database_url),
        connection_limits: args.connections.into(),
        tls: args.tls.files(),
        public_url: args.mail.public_url.clone(),
        delivery: args.mail.into(),
    };
    let start_up = StartUp {
        rate_limits: if ephemeral {
            RateLimitPolicy::Off
        } else {
            args.rate_limits.into()
        },
        credential_cache_entries: args.credential_cache_entries,
        view_cache_bytes: args.view_cache_bytes,
        control_token: args
            .control
            .control_token
            .or_else(|| ephemeral.then(|| uuid::Uuid::new_v4().simple().to_string())),
        fixed_key,
        seed,
        ephemeral,
        metrics_listen: args.metrics_listen,
    };
    serve(settings, start_up).await
}

/// `HOST:PORT`, a name (`localhost:8080`) taking its first address.
async fn resolve_listen(listen: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(address) = listen.parse() {
        return Ok(address);
    }
    tokio::net::lookup_host(listen)
        .await
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--listen {listen:?} is not HOST:PORT (such as 127.0.0.1:8080 or localhost:8080)"
            )
        })
}

/// What `serve` prints first on stdout: the organization and owner key to use, as shell lines.
fn print_credentials(
    organization: &Organization,
    public_key: &str,
    private_key: &str,
    base_url: &str,
) {
    println!("export MONGODB_ATLAS_PUBLIC_API_KEY={public_key}");
    println!("export MONGODB_ATLAS_PRIVATE_API_KEY={private_key}");
    println!("export MONGODB_ATLAS_ORG_ID={}", organization.id);
    println!("export MONGODB_ATLAS_OPS_MANAGER_URL={base_url}");
}

async fn serve(settings: Settings, start_up: StartUp) -> anyhow::Result<()> {
    let rate_limits = start_up.rate_limits;
    tracing::info!(database_url = ?settings.database_url, ?rate_limits, "opening store");
    let mut app = Application::build(&settings, Arc::new(SystemClock))
        .await?
        .with_rate_limits(rate_limits)
        .with_credential_cache(start_up.credential_cache_entries)
        .with_view_budget(start_up.view_cache_bytes);
    if let Some(listen) = start_up.metrics_listen {
        app = app.with_metrics_listener(listen).await?;
    }
    let mut address = app.local_addr()?;
    // A wildcard listen address is no place to send requests to; print loopback instead.
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let scheme = if app.is_tls() { "https" } else { "http" };
    let base_url = format!("{scheme}://{address}/");
    let store = app.state().store.clone();
    let now = SystemClock.now();
    if start_up.ephemeral {
        println!("# An ephemeral orgdoor: everything is in memory and gone when it stops.");
    }
    // What a reset of the store puts back.
    let mut kept = Vec::new();
    if let Some(fixed) = &start_up.fixed_key {
        let organization = fixed.ensure(&store, now).await?;
        println!(
            "# The Organization Owner API key given in ORGDOOR_PUBLIC_KEY/ORGDOOR_PRIVATE_KEY:"
        );
        print_credentials(
            organization.organization(),
            fixed.public_key.as_str(),
            fixed.private_key.expose_secret(),
            &base_url,
        );
        kept.push(organization);
    } else if start_up.ephemeral {
        let name = orgdoor_domain::OrgName::parse("orgdoor")?;
        let (organization, minted) = provision::KeptOrganization::mint(name, now);
        organization.store(&store).await?;
        println!("# A new organization and its Organization Owner API key:");
        print_credentials(
            organization.organization(),
            minted.key.public_key.as_str(),
            minted.private_key.expose_secret(),
            &base_url,
        );
        kept.push(organization);
    } else if start_up.seed.is_some() {
        // The seed says which organizations there are.
    } else if let Some((organization, minted)) =
        provision::create_initial_credentials(&store, now).await?
    {
        println!(
            "# A new organization and its Organization Owner API key (the private key is shown only now):"
        );
        print_credentials(
            &organization,
            minted.key.public_key.as_str(),
            minted.private_key.expose_secret(),
            &base_url,
        );
    } else {
        print_existing_store(&store, &base_url).await?;
    }
    if let Some(seed) = &start_up.seed {
        seed::apply::apply(seed, &store, now).await?;
        println!("# The seed is applied.");
    }
    if let Some(token) = &start_up.control_token {
        let seed = start_up.seed.clone();
        let restore: Restore = Arc::new(move |store, now| {
            let kept = kept.clone();
            let seed = seed.clone();
            Box::pin(async move {
                for organization in &kept {
                    organization.store(&store).await?;
                }
                if let Some(seed) = seed {
                    seed::apply::apply(&seed, &store, now).await?;
                }
                Ok(())
            })
        });
        app =
            app.with_control(Control::new(token, journal::DEFAULT_CAPACITY).with_restore(restore));
        app.catch_up_with_control_state().await?;
        tracing::info!("control API on at /api/orgdoor/v1/control");
        if start_up.ephemeral {
            println!("export ORGDOOR_CONTROL_TOKEN={token}");
        }
    }
    if let Some(metrics_addr) = app.metrics_addr() {
        println!("orgdoor metrics on http://{}/metrics", metrics_addr?);
    }
    // Last, so whoever reads stdout knows that everything else has been printed.
    println!("orgdoor listening on {base_url}");
    app.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// A second start on a store: which organizations it holds and how to get a key, since the
/// first start's private key is not kept anywhere.
async fn print_existing_store(
    store: &Arc<dyn orgdoor_store::Store>,
    base_url: &str,
) -> anyhow::Result<()> {
    let organizations = store.list_organizations().await?;
    println!("# This store's organizations (private keys are shown only when they are made):");
    for organization in &organizations {
        println!("#   {} {}", organization.id, organization.name.as_str());
    }
    if let Some(first) = organizations.first() {
        println!(
            "# A new owner key: orgdoor api-key create --org {} --role ORG_OWNER (with this --database-url)",
            first.id
        );
        println!("export MONGODB_ATLAS_ORG_ID={}", first.id);
    }
    println!("export MONGODB_ATLAS_OPS_MANAGER_URL={base_url}");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM, so in-flight requests can finish before exit.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
