//! The `orgdoor` binary: parse the command line and run it.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    match orgdoor::cli::run(orgdoor::cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The causes on one line, without a backtrace: what failed and why, for a person.
            eprintln!("orgdoor: {error:#}");
            ExitCode::FAILURE
        }
    }
}
