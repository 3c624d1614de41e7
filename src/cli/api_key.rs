//! `orgdoor api-key …`: programmatic API keys from the command line.

use anyhow::Context;
use clap::Subcommand;
use orgdoor_domain::page::MAX_ITEMS_PER_PAGE;
use orgdoor_domain::{OrgId, OrgRole, OrgRoles, PageRequest, PublicKey};
use serde::Serialize;

use super::{StoreArgs, print_json};
use crate::clock::{Clock, SystemClock};
use crate::provision::{self, CredentialsOutput};
use crate::views::atlas_timestamp;

#[derive(Debug, Subcommand)]
pub(super) enum ApiKeyCommand {
    /// Create a key with the given organization roles; print it as JSON.
    Create {
        /// The organization's id (24 hexadecimal digits; `orgdoor org list` shows them).
        #[arg(long)]
        org: String,
        /// Organization roles, repeated or comma-separated (ORG_OWNER, ORG_MEMBER, …).
        #[arg(long = "role", required = true, value_delimiter = ',')]
        roles: Vec<String>,
        /// What the key is for (1 to 250 characters).
        #[arg(long, default_value = "created with orgdoor api-key create")]
        description: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print an organization's keys, oldest first, one JSON object per line (never a private
    /// key: the store does not have them).
    List {
        /// The organization's id (24 hexadecimal digits; `orgdoor org list` shows them).
        #[arg(long)]
        org: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete a key of the organization; it authenticates no more.
    Revoke {
        /// The organization's id (24 hexadecimal digits; `orgdoor org list` shows them).
        #[arg(long)]
        org: String,
        /// The key's public key (8 lowercase letters).
        public_key: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyLine<'a> {
    id: String,
    public_key: &'a str,
    description: &'a str,
    roles: Vec<&'static str>,
    created: String,
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
        ApiKeyCommand::List { org, store } => {
            let org: OrgId = org.parse().context("invalid --org")?;
            let store = store.open().await?;
            store
                .get_organization(&org)
                .await?
                .with_context(|| format!("no organization {org}"))?;
            let mut page_num = 1;
            loop {
                let page = store
                    .list_api_keys(
                        &org,
                        PageRequest::new(Some(MAX_ITEMS_PER_PAGE), Some(page_num)),
                    )
                    .await?;
                let last = page.items.len() < MAX_ITEMS_PER_PAGE as usize;
                for key in &page.items {
                    print_json(&KeyLine {
                        id: key.id.to_string(),
                        public_key: key.public_key.as_str(),
                        description: &key.description,
                        roles: key.roles.iter().map(<&'static str>::from).collect(),
                        created: atlas_timestamp(key.created_at),
                    })?;
                }
                if last {
                    return Ok(());
                }
                page_num += 1;
            }
        }
        ApiKeyCommand::Revoke {
            org,
            public_key,
            store,
        } => {
            let org: OrgId = org.parse().context("invalid --org")?;
            let public_key: PublicKey = public_key
                .parse()
                .map_err(|_| anyhow::anyhow!("a public key is 8 lowercase letters"))?;
            let store = store.open().await?;
            let key = store
                .find_api_key(&public_key)
                .await?
                .filter(|credential| credential.key.org_id == org)
                .with_context(|| format!("organization {org} has no API key {public_key}"))?;
            store.delete_api_key(&org, &key.key.id).await?;
            eprintln!("revoked {public_key}");
            Ok(())
        }
    }
}
