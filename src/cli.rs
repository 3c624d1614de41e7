//! The command line: `serve`, `bootstrap`, `api-key create`, `invitation accept|decline` and
//! `migrate`. Every option can also
//! come from an `ORGDOOR_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use orgdoor_domain::{OrgId, OrgName, OrgRole, OrgRoles};
use orgdoor_store::SecretsKey;
use secrecy::ExposeSecret;

use crate::app::Application;
use crate::clock::{Clock, SystemClock};
use crate::config::{
    DatabaseUrl, DeliverySettings, InvalidPublicUrl, PublicUrl, RateLimitPolicy, SecretsKeySource,
    Settings, SmtpUrl,
};
use crate::invitee::{Answer, Profile, answer_as_invitee};
use crate::provision::{self, CredentialsOutput};
use crate::telemetry::{self, LogFormat};
use crate::transport::{ConnectionLimits, TlsFiles};
use crate::views::OrgUserView;

#[derive(Debug, Parser)]
#[command(
    name = "orgdoor",
    version,
    about = "An Atlas-compatible organization access server"
)]
pub struct Cli {
    /// Log line format on stderr.
    #[arg(
        long,
        env = "ORGDOOR_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct StoreArgs {
    /// Where state lives: `sqlite://FILE` (created if missing).
    #[arg(
        long,
        env = "ORGDOOR_DATABASE_URL",
        default_value = "sqlite://orgdoor.db"
    )]
    database_url: String,
    /// File holding the key that seals stored credentials (created 0600 if missing); default:
    /// beside a SQLite store (`FILE.key`), `orgdoor-secrets.key` for PostgreSQL.
    #[arg(long, env = "ORGDOOR_SECRETS_KEY_FILE", conflicts_with = "secrets_key")]
    secrets_key_file: Option<PathBuf>,
    /// The key itself, 64 hexadecimal digits (for fleets; never on a command line).
    #[arg(long, env = "ORGDOOR_SECRETS_KEY", hide_env_values = true, hide = true)]
    secrets_key: Option<String>,
}

impl StoreArgs {
    fn secrets_key(&self) -> anyhow::Result<SecretsKey> {
        let source = match (&self.secrets_key, &self.secrets_key_file) {
            (Some(hex), _) => SecretsKeySource::Hex(hex.clone()),
            (None, Some(path)) => SecretsKeySource::File(path.clone()),
            (None, None) => SecretsKeySource::default_for(&self.database_url),
        };
        source.load()
    }

    async fn open(&self) -> anyhow::Result<Arc<dyn orgdoor_store::Store>> {
        let key = self.secrets_key()?;
        Ok(orgdoor_store::connect(&self.database_url, &key).await?)
    }
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API server. On an empty store, create an organization and print an owner key.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ORGDOOR_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Atlas's rate limits (`atlas`), or none (`off`, for load tests).
        #[arg(long, env = "ORGDOOR_RATE_LIMITS", value_enum, default_value = "atlas")]
        rate_limits: RateLimitMode,
        #[command(flatten)]
        connections: ConnectionArgs,
        #[command(flatten)]
        tls: TlsArgs,
        #[command(flatten)]
        mail: MailArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Create an organization with an Organization Owner API key; print them as JSON.
    Bootstrap {
        #[arg(long)]
        org_name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Manage programmatic API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Answer an invitation as the invitee would (Atlas does this by e-mail); print the user.
    #[command(subcommand)]
    Invitation(InvitationCommand),
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create a key with the given organization roles; print it as JSON.
    Create {
        #[arg(long)]
        org: String,
        /// Organization roles, repeated or comma-separated (ORG_OWNER, ORG_MEMBER, …).
        #[arg(long = "role", required = true, value_delimiter = ',')]
        roles: Vec<String>,
        #[arg(long, default_value = "created with orgdoor api-key create")]
        description: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum InvitationCommand {
    /// Accept: the invitee becomes an ACTIVE member with the invited roles, teams and project
    /// roles.
    Accept {
        #[command(flatten)]
        invitee: InviteeArgs,
        #[arg(long)]
        first_name: Option<String>,
        #[arg(long)]
        last_name: Option<String>,
        /// ISO 3166-1 alpha-2 code.
        #[arg(long)]
        country: Option<String>,
        #[arg(long)]
        mobile_number: Option<String>,
    },
    /// Decline: the invitee shows as INVITATION_REJECTED.
    Decline {
        #[command(flatten)]
        invitee: InviteeArgs,
    },
}

#[derive(Debug, Args)]
struct InviteeArgs {
    /// The organization that sent the invitation.
    #[arg(long)]
    org: String,
    /// The invitation id, the pending user's id, or the invitee's address.
    invitee: String,
    #[command(flatten)]
    store: StoreArgs,
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(cli.log_format);
    let clock = SystemClock;
    match cli.command {
        Command::Serve {
            listen,
            rate_limits,
            connections,
            tls,
            mail,
            store,
        } => {
            let secrets_key = store.secrets_key()?;
            let settings = Settings {
                listen,
                secrets_key,
                database_url: DatabaseUrl::new(store.database_url),
                connection_limits: connections.into(),
                tls: tls.files(),
                public_url: mail.public_url.clone(),
                delivery: mail.into(),
            };
            serve(settings, rate_limits.into()).await
        }
        Command::Bootstrap { org_name, store } => {
            let name = OrgName::parse(org_name).context("invalid --org-name")?;
            let store = store.open().await?;
            let (organization, minted) =
                provision::create_organization(&store, name, clock.now()).await?;
            print_json(&CredentialsOutput::new(&organization, &minted))
        }
        Command::ApiKey(ApiKeyCommand::Create {
            org,
            roles,
            description,
            store,
        }) => {
            let org: OrgId = org.parse().context("invalid --org")?;
            let roles = roles
                .iter()
                .map(|role| role.trim().parse::<OrgRole>())
                .collect::<Result<Vec<_>, _>>()
                .context("invalid --role")?;
            let roles = OrgRoles::new(roles).context("at least one --role is needed")?;
            orgdoor_domain::api_key::check_description(&description)
                .context("invalid --description")?;
            let store = store.open().await?;
            let (organization, minted) =
                provision::create_api_key(&store, &org, roles, &description, clock.now()).await?;
            print_json(&CredentialsOutput::new(&organization, &minted))
        }
        Command::Invitation(command) => {
            let (invitee, answer) = match command {
                InvitationCommand::Accept {
                    invitee,
                    first_name,
                    last_name,
                    country,
                    mobile_number,
                } => (
                    invitee,
                    Answer::Accept(Profile {
                        first_name,
                        last_name,
                        country,
                        mobile_number,
                    }),
                ),
                InvitationCommand::Decline { invitee } => (invitee, Answer::Decline),
            };
            let org: OrgId = invitee.org.parse().context("invalid --org")?;
            let store = invitee.store.open().await?;
            let now = clock.now();
            let user = answer_as_invitee(store.as_ref(), &org, &invitee.invitee, answer, now)
                .await
                .map_err(|error| anyhow::anyhow!("{}", error.parts().detail))?;
            print_json(&OrgUserView::new(user, now))
        }
        Command::Migrate { store } => {
            store.open().await?;
            tracing::info!("migrations applied");
            Ok(())
        }
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

async fn serve(settings: Settings, rate_limits: RateLimitPolicy) -> anyhow::Result<()> {
    tracing::info!(database_url = ?settings.database_url, ?rate_limits, "opening store");
    let app = Application::build(&settings, Arc::new(SystemClock))
        .await?
        .with_rate_limits(rate_limits);
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
