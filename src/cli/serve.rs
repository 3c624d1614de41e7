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
use crate::provision;
use crate::transport::{ConnectionLimits, TlsFiles};

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ORGDOOR_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Atlas's rate limits (`atlas`), or none (`off`, for load tests).
    #[arg(long, env = "ORGDOOR_RATE_LIMITS", value_enum, default_value = "atlas")]
    rate_limits: RateLimitMode,
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

pub(super) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let secrets_key = args.store.secrets_key()?;
    let settings = Settings {
        listen: args.listen,
        secrets_key,
        database_url: DatabaseUrl::new(args.store.database_url),
        connection_limits: args.connections.into(),
        tls: args.tls.files(),
        public_url: args.mail.public_url.clone(),
        delivery: args.mail.into(),
    };
    serve(settings, args.rate_limits.into(), args.metrics_listen).await
}

async fn serve(
    settings: Settings,
    rate_limits: RateLimitPolicy,
    metrics_listen: Option<SocketAddr>,
) -> anyhow::Result<()> {
    tracing::info!(database_url = ?settings.database_url, ?rate_limits, "opening store");
    let mut app = Application::build(&settings, Arc::new(SystemClock))
        .await?
        .with_rate_limits(rate_limits);
    if let Some(listen) = metrics_listen {
        app = app.with_metrics_listener(listen).await?;
    }
    let mut address = app.local_addr()?;
    // A wildcard listen address is no place to send requests to; print loopback instead.
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let scheme = if app.is_tls() { "https" } else { "http" };
    let base_url = format!("{scheme}://{address}/");
    if let Some((organization, minted)) =
        provision::create_initial_credentials(&app.state().store, SystemClock.now()).await?
    {
        println!(
            "# A new organization and its Organization Owner API key (the private key is shown only now):"
        );
        println!(
            "export MONGODB_ATLAS_PUBLIC_API_KEY={}",
            minted.key.public_key
        );
        println!(
            "export MONGODB_ATLAS_PRIVATE_API_KEY={}",
            minted.private_key.expose_secret()
        );
        println!("export MONGODB_ATLAS_ORG_ID={}", organization.id);
        println!("export MONGODB_ATLAS_OPS_MANAGER_URL={base_url}");
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
