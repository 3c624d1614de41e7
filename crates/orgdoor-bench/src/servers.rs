//! The processes under test: orgdoor, the ceiling and Prism, each pinned to the first core
//! (the load generator gets the second), with their memory read from `/proc`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The core servers run on, and the one the load generator runs on, when there are two.
pub(crate) const SERVER_CORE: &str = "0";
pub(crate) const CLIENT_CORE: &str = "1";

pub(crate) struct Server {
    pub(crate) child: Child,
    /// `host:port`.
    pub(crate) address: String,
    /// What the server printed before it listened (orgdoor's `export` lines).
    pub(crate) printed: Vec<String>,
}

impl Server {
    pub(crate) fn pid(&self) -> anyhow::Result<u32> {
        self.child
            .id()
            .ok_or_else(|| anyhow!("the server has exited"))
    }

    /// Resident memory now (`VmRSS`), in KiB.
    pub(crate) async fn rss_kib(&self) -> anyhow::Result<u64> {
        proc_status_kib(self.pid()?, "VmRSS:").await
    }

    /// The highest resident memory (`VmHWM`), in KiB: since the last [`Self::reset_peak_rss`]
    /// that succeeded, else since the process started.
    pub(crate) async fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        proc_status_kib(self.pid()?, "VmHWM:").await
    }

    /// Lowers `VmHWM` to the memory resident now (Linux 4.0 and later; `clear_refs` may also be
    /// closed to the harness), so the next peak read covers only what ran since.
    pub(crate) async fn reset_peak_rss(&self) -> anyhow::Result<()> {
        let path = format!("/proc/{}/clear_refs", self.pid()?);
        tokio::fs::write(&path, "5")
            .await
            .with_context(|| format!("writing {path}"))
    }

    pub(crate) fn export(&self, name: &str) -> anyhow::Result<String> {
        let prefix = format!("export {name}=");
        self.printed
            .iter()
            .find_map(|line| line.strip_prefix(&prefix))
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("{name} was not printed"))
    }

    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

/// A memory figure of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`, …), in KiB.
async fn proc_status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = tokio::fs::read_to_string(format!("/proc/{pid}/status")).await?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no {field} for process {pid}"))
}

/// `taskset -c CORE program args…` when the machine has two cores or more.
pub(crate) fn pinned(core: &str, program: &Path, args: &[&str]) -> Command {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut command = if cores >= 2 && Path::new("/usr/bin/taskset").exists() {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(core).arg(program).args(args);
        command
    } else {
        let mut command = Command::new(program);
        command.args(args);
        command
    };
    // The server is configured by its arguments alone: settings left in the caller's
    // environment (a metrics address, a cache budget) would change what is measured.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ORGDOOR_") {
            command.env_remove(name);
        }
    }
    command
}

/// Starts `command` and reads its stdout until a line holds the address it listens on.
pub(crate) async fn start(mut command: Command, marker: &str) -> anyhow::Result<Server> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting a server")?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.split(marker).nth(1) {
                let address = rest
                    .trim()
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_owned();
                return Ok::<_, anyhow::Error>(address);
            }
            printed.push(line);
        }
        bail!("the server exited before listening")
    })
    .await
    .context("waiting for the server to listen")??;
    // Keep draining stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Server {
        child,
        address,
        printed,
    })
}

/// A free loopback port, for servers that cannot be told to pick one.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
