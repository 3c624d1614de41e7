//! The command line: `serve`, `bootstrap`, `api-key`, `invitation`, `migrate`, `backup`,
//! `restore` and `health`, one module
//! each where they take more than a few lines. Every option can also come from an `ORGDOOR_*`
//! environment variable.

mod api_key;
mod backup;
mod health;
mod invitation;
mod org;
mod serve;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use orgdoor_domain::OrgName;
use orgdoor_store::SecretsKey;

use crate::clock::{Clock, SystemClock};
use crate::config::SecretsKeySource;
use crate::provision::{self, CredentialsOutput};
use crate::telemetry::{self, LogFormat};

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

/// Where the store is and the key that seals its credentials; shared by every command.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// Where state lives: `sqlite://FILE` (created if missing), `sqlite::memory:` (gone when
    /// the process ends), or `postgres://USER:PASSWORD@HOST:5432/DATABASE`.
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
    fn key_source(&self) -> SecretsKeySource {
        match (&self.secrets_key, &self.secrets_key_file) {
            (Some(hex), _) => SecretsKeySource::Hex(hex.clone()),
            (None, Some(path)) => SecretsKeySource::File(path.clone()),
            (None, None) => SecretsKeySource::default_for(&self.database_url),
        }
    }

    fn secrets_key(&self) -> anyhow::Result<SecretsKey> {
        self.key_source().load()
    }

    async fn open(&self) -> anyhow::Result<Arc<dyn orgdoor_store::Store>> {
        let key = self.secrets_key()?;
        Ok(orgdoor_store::connect(&self.database_url, &key).await?)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API server. On an empty store, create an organization and print an owner key.
    Serve(Box<serve::ServeArgs>),
    /// Create an organization with an Organization Owner API key; print them as JSON.
    Bootstrap {
        /// The new organization's name.
        #[arg(long)]
        org_name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Manage programmatic API keys.
    #[command(subcommand)]
    ApiKey(api_key::ApiKeyCommand),
    /// Answer an invitation as the invitee would (Atlas does this by e-mail); print the user.
    #[command(subcommand)]
    Invitation(invitation::InvitationCommand),
    /// List the organizations of a store.
    #[command(subcommand)]
    Org(org::OrgCommand),
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print a completion script for a shell: `orgdoor completions bash > /etc/bash_completion.d/orgdoor`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Copy a SQLite store, while it serves, into a new file, with its key file beside it.
    Backup(backup::BackupArgs),
    /// Put a backup in place of (or where there is no) SQLite store, with its key file.
    Restore(backup::RestoreArgs),
    /// Ask a running server's `/health`; exit 0 only if it is healthy (for containers).
    Health(health::HealthArgs),
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let _log_guard = telemetry::init(cli.log_format);
    match cli.command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Bootstrap { org_name, store } => {
            let name = OrgName::parse(org_name).context("invalid --org-name")?;
            let store = store.open().await?;
            let (organization, minted) =
                provision::create_organization(&store, name, SystemClock.now()).await?;
            print_json(&CredentialsOutput::new(&organization, &minted))
        }
        Command::ApiKey(command) => api_key::run(command).await,
        Command::Invitation(command) => invitation::run(command).await,
        Command::Org(command) => org::run(command).await,
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "orgdoor",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Migrate { store } => {
            store.open().await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Backup(args) => backup::backup(args).await,
        Command::Restore(args) => backup::restore(args).await,
        Command::Health(args) => health::run(args).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every command and every flag says what it takes.
    #[test]
    fn every_command_and_flag_has_help() {
        fn check(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if command.get_about().is_none() && !path.is_empty() {
                missing.push(format!("command `{path}`"));
            }
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("`{path}` argument `{id}`"));
                }
            }
            for sub in command.get_subcommands() {
                check(sub, format!("{path} {}", sub.get_name()).trim(), missing);
            }
        }
        let mut missing = Vec::new();
        check(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:?}");
        Cli::command().debug_assert();
    }
}
