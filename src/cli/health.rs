//! `orgdoor health`: asks a running server's `GET /health` and exits 0 only on a 200, for a
//! container's `HEALTHCHECK` (the runtime image has no curl). Plain HTTP over a `TcpStream`;
//! for a server serving TLS it only checks that the port accepts connections.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

#[derive(Debug, Args)]
pub(super) struct HealthArgs {
    /// The server's address, as given to `serve`; a wildcard one (`0.0.0.0`) is asked on
    /// loopback.
    #[arg(long, env = "ORGDOOR_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    timeout: u64,
    /// Set when the server serves HTTPS: then only the connection is checked.
    #[arg(long, env = "ORGDOOR_TLS_CERT", hide = true)]
    tls_cert: Option<PathBuf>,
}

/// The most of the answer read: the status line is all that counts.
const ANSWER_LIMIT: u64 = 1024;

pub(super) async fn run(args: HealthArgs) -> anyhow::Result<()> {
    let mut address = args.listen;
    if address.ip().is_unspecified() {
        address.set_ip(Ipv4Addr::LOCALHOST.into());
    }
    tokio::time::timeout(
        Duration::from_secs(args.timeout),
        check(address, args.tls_cert.is_some()),
    )
    .await
    .with_context(|| format!("{address} did not answer in {}s", args.timeout))?
}

async fn check(address: SocketAddr, tls: bool) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(address)
        .await
        .with_context(|| format!("connecting to {address}"))?;
    if tls {
        println!("{address} accepts connections (TLS: /health not asked)");
        return Ok(());
    }
    let request = format!("GET /health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.take(ANSWER_LIMIT).read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer);
    let status_line = answer.lines().next().unwrap_or_default();
    if status_line.starts_with("HTTP/1.1 200 ") {
        println!("healthy");
        Ok(())
    } else {
        bail!("unhealthy: {status_line}")
    }
}
