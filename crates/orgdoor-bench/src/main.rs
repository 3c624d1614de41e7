//! orgdoor's benchmark harness. `cargo run --release -p orgdoor-bench` builds orgdoor in release
//! mode, starts it on a fresh store per backend, seeds what each scenario needs, drives it over
//! loopback with the load generator in `load.rs` (server and client pinned to different cores),
//! measures the ceiling and Prism under the same request and load, and writes
//! `bench/RESULTS.md` and `bench/results.json`.

mod ceiling;
mod load;
mod report;
mod revocation;
mod scenarios;
mod seed;
mod servers;
mod verify;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "orgdoor-bench",
    about = "Benchmarks orgdoor against its ceiling and Prism",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a subcommand: run every scenario and write the results.
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the ceiling reference (used by `run`).
    Ceiling {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Drive one load and print what it measured as JSON (used by `run`, pinned to a core).
    Drive { spec: String },
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunArgs {
    /// Seconds of load per measured pass [default: 10, or 0.2 with --smoke].
    #[arg(long)]
    pub(crate) seconds: Option<f64>,
    /// Seconds of the unrecorded warm-up pass before each scenario's measured passes
    /// [default: 2, or 0.1 with --smoke].
    #[arg(long)]
    pub(crate) warmup_seconds: Option<f64>,
    /// Measured passes per scenario; the one with the median p99 is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) passes: u16,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    pub(crate) connections: usize,
    /// Stores to run on.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sqlite,postgres"
    )]
    pub(crate) backends: Vec<Backend>,
    /// A quick pass with small data and short loads, to check the harness itself.
    #[arg(long)]
    pub(crate) smoke: bool,
    /// Skip Prism (it needs npm and the registry).
    #[arg(long)]
    pub(crate) without_prism: bool,
    /// Where RESULTS.md and results.json go.
    #[arg(long, default_value = "bench")]
    pub(crate) out: PathBuf,
    /// PostgreSQL server to create the benchmark database in.
    #[arg(
        long,
        env = "ORGDOOR_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub(crate) postgres_url: String,
}

impl RunArgs {
    /// How every scenario is measured.
    pub(crate) fn repetition(&self) -> Repetition {
        let (seconds, warmup_seconds) = if self.smoke { (0.2, 0.1) } else { (10.0, 2.0) };
        Repetition {
            warmup_seconds: self.warmup_seconds.unwrap_or(warmup_seconds),
            seconds: self.seconds.unwrap_or(seconds),
            passes: self.passes,
        }
    }
}

/// The same for every scenario and every target: an unrecorded warm-up pass, then `passes`
/// measured passes of `seconds` each.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Repetition {
    pub(crate) warmup_seconds: f64,
    pub(crate) seconds: f64,
    pub(crate) passes: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Ceiling { listen }) => {
            // One worker thread: the ceiling gets what orgdoor gets, one core.
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?
                .block_on(ceiling::serve(listen))
        }
        Some(Command::Drive { spec }) => {
            let spec: load::LoadSpec = serde_json::from_str(&spec)?;
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(load::run(spec))?;
            println!("{}", serde_json::to_string(&result)?);
            Ok(())
        }
        None => run(cli.run),
    }
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(scenarios::run_all(args))
}
