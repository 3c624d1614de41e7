//! `orgdoor api-key …`: programmatic API keys from the command line.

use anyhow::Context;
use clap::Subcommand;
use orgdoor_domain::{OrgId, OrgRole, OrgRoles};

use super::{StoreArgs, print_json};
use crate::clock::{Clock, SystemClock};
use crate::provision::{self, CredentialsOutput};

#[derive(Debug, Subcommand)]
pub(super) enum ApiKeyCommand {
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

pub(super) async fn run(command: ApiKeyCommand) -> anyhow::Result<()> {
    match command {
        ApiKeyCommand::Create {
            org,
            roles,
            description,
            store,
        } => {
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
                provision::create_api_key(&store, &org, roles, &description, SystemClock.now())
                    .await?;
            print_json(&CredentialsOutput::new(&organization, &minted))
        }
    }
}
