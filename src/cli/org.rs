//! `orgdoor org list`: the organizations a store holds, for operators who lost track.

use clap::Subcommand;
use serde::Serialize;

use super::{StoreArgs, print_json};
use crate::views::atlas_timestamp;

#[derive(Debug, Subcommand)]
pub(super) enum OrgCommand {
    /// Print every organization, oldest first, one JSON object per line: id, name, created.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrgLine<'a> {
    id: &'a str,
    name: &'a str,
    created: String,
}

pub(super) async fn run(command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::List { store } => {
            let store = store.open().await?;
            for organization in store.list_organizations().await? {
                print_json(&OrgLine {
                    id: organization.id.as_str(),
                    name: organization.name.as_str(),
                    created: atlas_timestamp(organization.created_at),
                })?;
            }
            Ok(())
        }
    }
}
