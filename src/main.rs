//! The `orgdoor` binary: parse the command line and run it.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: a request allocates and frees many small blocks, and
/// glibc's allocator was a sixth of the CPU time of a request (bench/ANALYSIS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
