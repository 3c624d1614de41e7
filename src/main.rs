//! The `orgdoor` binary: parse the command line and run it.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    orgdoor::cli::run(orgdoor::cli::Cli::parse()).await
}
