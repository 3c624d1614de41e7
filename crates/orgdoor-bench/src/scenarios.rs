//! The scenarios, in the order they run, and the references they are compared with.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use serde_json::Value;
use tokio::process::Command;

use crate::load::{Auth, LoadResult, LoadSpec, Workload};
use crate::seed::{self, Org, V2023};
use crate::servers::{self, CLIENT_CORE, SERVER_CORE, Server};
use crate::verify::{BodyShape, Expectation};
use crate::{Backend, RunArgs, report};

/// The request every reference answers: an organization's pending invitations.
const REFERENCE_ORG: &str = "6a793f893c6ed3e96c7897be";
const V2025: &str = "application/vnd.atlas.2025-02-19+json";

/// One scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Measurement {
    pub(crate) scenario: String,
    /// `orgdoor`, `ceiling` or `prism`.
    pub(crate) target: String,
    pub(crate) backend: Option<Backend>,
    pub(crate) connections: usize,
    pub(crate) result: LoadResult,
    /// Highest resident memory of the server while the load ran, in MiB.
    pub(crate) peak_rss_mib: f64,
    /// The load generator's command line (re-runnable as is against a live server).
    pub(crate) command: String,
}

/// Population sizes: real, or small for a smoke run.
struct Sizes {
    million: u64,
    hundred_thousand: u64,
    ten_thousand: u64,
    thousand: u64,
}

impl Sizes {
    fn new(smoke: bool) -> Self {
        if smoke {
            Self {
                million: 5_000,
                hundred_thousand: 2_000,
                ten_thousand: 500,
                thousand: 1_000,
            }
        } else {
            Self {
                million: 1_000_000,
                hundred_thousand: 100_000,
                ten_thousand: 10_000,
                thousand: 1_000,
            }
        }
    }
}

pub(crate) async fn run_all(args: RunArgs) -> anyhow::Result<()> {
    let root = workspace_root();
    let binary = build_orgdoor(&root).await?;
    let mut measurements = Vec::new();
    let mut notes = vec![
        "The two store-size figures (\"… stored\") are each the pass with the median p99 of three, \
         after an unrecorded warm-up pass."
            .to_owned(),
    ];

    measurements.push(ceiling(&args).await?);
    if args.without_prism {
        notes.push("Prism skipped (--without-prism).".to_owned());
    } else {
        match prism(&args, &root).await {
            Ok(measurement) => measurements.push(measurement),
            Err(error) => notes.push(format!("Prism could not be measured: {error:#}")),
        }
    }
    let mut idle = Vec::new();
    for backend in &args.backends {
        let (figures, idle_rss) = orgdoor(&args, &binary, *backend).await?;
        measurements.extend(figures);
        idle.push((*backend, idle_rss));
    }
    report::write(&args, &root, &measurements, &idle, &notes)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

/// Builds orgdoor in release mode; returns the executable as cargo names it, wherever the
/// target directory is (CARGO_TARGET_DIR moves it).
async fn build_orgdoor(root: &Path) -> anyhow::Result<PathBuf> {
    let output = Command::new("cargo")
        .args(["build", "--release", "--quiet", "--bin", "orgdoor"])
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("running cargo")?;
    if !output.status.success() {
        bail!("building orgdoor failed");
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact" && message["target"]["name"] == "orgdoor"
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| anyhow!("cargo named no orgdoor executable"))
}

/// Runs a load from a second process pinned to the client core, while sampling the server's
/// memory.
#[expect(
    clippy::too_many_arguments,
    reason = "one measured run's settings, each named"
)]
async fn drive(
    args: &RunArgs,
    server: &Server,
    scenario: &str,
    target: &str,
    backend: Option<Backend>,
    workload: Workload,
    expect: Expectation,
    first_n: u64,
) -> anyhow::Result<Measurement> {
    let seconds = if args.smoke { 0.5 } else { args.seconds };
    let spec = LoadSpec {
        address: server.address.clone(),
        connections: args.connections,
        duration_ms: (seconds * 1000.0) as u64,
        workload,
        expect,
        first_n,
    };
    let spec_json = serde_json::to_string(&spec)?;
    let exe = std::env::current_exe()?;
    let mut command = servers::pinned(CLIENT_CORE, &exe, &["drive", &spec_json]);
    let pid = server.pid()?;
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(rss) = servers::proc_status_kib(pid, "VmRSS:") {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let output = command
        .output()
        .await
        .context("running the load generator")?;
    sampler.abort();
    let peak_kib = peak.load(Ordering::Relaxed);
    if !output.status.success() {
        bail!(
            "{scenario}: the load generator failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let result: LoadResult = serde_json::from_slice(&output.stdout)?;
    eprintln!(
        "{scenario} [{target}{}]: {:.0} ops/s, p99 {:.2} ms, {} errors{}",
        backend.map(|b| format!(", {b:?}")).unwrap_or_default(),
        result.operations_per_second,
        result.p99_ms,
        result.errors,
        result
            .error_reasons
            .first()
            .map(|reason| format!(" (first: {reason})"))
            .unwrap_or_default()
    );
    Ok(Measurement {
        scenario: scenario.to_owned(),
        target: target.to_owned(),
        backend,
        connections: args.connections,
        result,
        peak_rss_mib: peak_kib as f64 / 1024.0,
        command: format!("orgdoor-bench drive '{spec_json}'"),
    })
}

fn list_workload(org: &str, auth: Auth) -> Workload {
    Workload {
        method: "GET".into(),
        path: format!("/api/atlas/v2/orgs/{org}/invites"),
        body: None,
        accept: V2023.into(),
        auth,
    }
}

const LIST_SCENARIO: &str = "list 3 pending invitations";

async fn ceiling(args: &RunArgs) -> anyhow::Result<Measurement> {
    let exe = std::env::current_exe()?;
    let server = servers::start(
        servers::pinned(SERVER_CORE, &exe, &["ceiling", "--listen", "127.0.0.1:0"]),
        "listening on ",
    )
    .await?;
    let measurement = drive(
        args,
        &server,
        LIST_SCENARIO,
        "ceiling",
        None,
        list_workload(REFERENCE_ORG, Auth::None),
        Expectation::array_of(3),
        0,
    )
    .await;
    server.stop().await?;
    measurement
}

/// Prism from the npm registry, mocking the contract's v2 spec, installed under `target/`.
async fn prism(args: &RunArgs, root: &Path) -> anyhow::Result<Measurement> {
    let tools = root.join("target/bench-tools");
    let prism = tools.join("node_modules/.bin/prism");
    if !prism.exists() {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&tools)
            .arg("@stoplight/prism-cli@5")
            .status()
            .await
            .context("running npm")?;
        if !status.success() {
            bail!("npm could not install @stoplight/prism-cli");
        }
    }
    let spec = root.join("spec/atlas/org-access.v2.openapi.yaml");
    let port = servers::free_port()?.to_string();
    let spec_arg = spec.to_string_lossy().into_owned();
    let server = servers::start(
        servers::pinned(
            SERVER_CORE,
            &prism,
            &["mock", "--host", "127.0.0.1", "--port", &port, &spec_arg],
        ),
        "Prism is listening on ",
    )
    .await?;
    let measurement = drive(
        args,
        &server,
        LIST_SCENARIO,
        "prism",
        None,
        list_workload(REFERENCE_ORG, Auth::Bearer("any-token".into())),
        // A mock answers with the spec's example, whatever its length.
        Expectation::status(200).shaped(BodyShape::AnyArray),
        0,
    )
    .await;
    server.stop().await?;
    measurement
}

/// Every orgdoor scenario on one backend; also returns the idle memory after start, in MiB.
#[expect(
    clippy::disallowed_methods,
    reason = "makes and removes the run's directory around the measured runs"
)]
async fn orgdoor(
    args: &RunArgs,
    binary: &Path,
    backend: Backend,
) -> anyhow::Result<(Vec<Measurement>, f64)> {
    let sizes = Sizes::new(args.smoke);
    let directory = std::env::temp_dir().join(format!(
        "orgdoor-bench-{}",
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    ));
    std::fs::create_dir_all(&directory)?;
    let database_url = match backend {
        Backend::Sqlite => format!("sqlite://{}", directory.join("bench.db").display()),
        Backend::Postgres => seed::postgres_database(&args.postgres_url).await?,
    };
    let secrets_key_file = directory.join("secrets.key");
    let secrets_key_file = secrets_key_file.to_string_lossy();
    let server = servers::start(
        servers::pinned(
            SERVER_CORE,
            binary,
            &[
                "serve",
                "--secrets-key-file",
                &secrets_key_file,
                "--listen",
                "127.0.0.1:0",
                "--rate-limits",
                "off",
                "--log-format",
                "json",
                "--database-url",
                &database_url,
            ],
        ),
        "orgdoor listening on ",
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = server.rss_kib()? as f64 / 1024.0;
    let outcome = orgdoor_scenarios(args, &server, backend, &database_url, &sizes).await;
    server.stop().await?;
    if backend == Backend::Postgres {
        seed::drop_postgres_database(&args.postgres_url, &database_url).await?;
    }
    let _ = std::fs::remove_dir_all(&directory);
    Ok((outcome?, idle_rss))
}

/// The list of the owner's three seeded invitations, as every list-of-3 scenario must see it.
fn three_listed() -> Expectation {
    Expectation::array_of(3).containing(r#""username":"listed0@example.com""#)
}

async fn orgdoor_scenarios(
    args: &RunArgs,
    server: &Server,
    backend: Backend,
    database_url: &str,
    sizes: &Sizes,
) -> anyhow::Result<Vec<Measurement>> {
    let address = server.address.as_str();
    let owner = Org {
        id: server.export("MONGODB_ATLAS_ORG_ID")?,
        digest: Auth::DigestReuse {
            user: server.export("MONGODB_ATLAS_PUBLIC_API_KEY")?,
            password: server.export("MONGODB_ATLAS_PRIVATE_API_KEY")?,
        },
    };
    let (Auth::DigestReuse { user, password } | Auth::DigestChallenged { user, password }) =
        owner.digest.clone()
    else {
        return Err(anyhow!("the owner key is a Digest key"));
    };
    seed::invitations(address, &owner, "listed", 3).await?;
    let token = seed::bearer_token(address, &owner).await?;
    let bearer = Auth::Bearer(token);
    let store = backend;
    let backend = Some(backend);
    let mut figures = Vec::new();
    let measure = async |scenario: &str, workload: Workload, expect: Expectation, first_n: u64| {
        drive(
            args, server, scenario, "orgdoor", backend, workload, expect, first_n,
        )
        .await
    };

    figures.push(
        measure(
            LIST_SCENARIO,
            list_workload(&owner.id, bearer.clone()),
            three_listed(),
            0,
        )
        .await?,
    );
    figures.push(
        measure(
            "list 3 pending invitations, Digest reusing the nonce (python-requests)",
            list_workload(&owner.id, owner.digest.clone()),
            three_listed(),
            0,
        )
        .await?,
    );
    figures.push(
        measure(
            "list 3 pending invitations, Digest challenged every call (Go client, 2 round trips)",
            list_workload(
                &owner.id,
                Auth::DigestChallenged {
                    user: user.clone(),
                    password: password.clone(),
                },
            ),
            three_listed(),
            0,
        )
        .await?,
    );

    // Store-size independence: the same list with 1,000 and then 1,000,000 invitations stored,
    // each after an unrecorded pass of the same load (so neither pays for a cold cache), and
    // each the pass with the median p99 of three (one stall of the shared machine moves a
    // single pass's p99 by a fifth).
    let settled = async |scenario: String| -> anyhow::Result<Measurement> {
        let workload = || list_workload(&owner.id, bearer.clone());
        measure(
            &format!("{scenario} (warm-up)"),
            workload(),
            three_listed(),
            0,
        )
        .await?;
        let mut passes = Vec::new();
        for pass in 1..=3 {
            let name = format!("{scenario} (pass {pass})");
            passes.push(measure(&name, workload(), three_listed(), 0).await?);
        }
        passes.sort_by(|a, b| a.result.p99_ms.total_cmp(&b.result.p99_ms));
        let mut median = passes.swap_remove(1);
        median.scenario = scenario;
        Ok(median)
    };
    let filler = seed::organization(address, &owner.digest, "filler").await?;
    seed::bulk_invitations(store, database_url, &filler.id, 1, sizes.thousand - 3).await?;
    figures.push(
        settled(format!(
            "list 3 pending invitations, {} stored",
            sizes.thousand
        ))
        .await?,
    );
    seed::bulk_invitations(
        store,
        database_url,
        &filler.id,
        sizes.thousand,
        sizes.million - sizes.thousand,
    )
    .await?;
    figures.push(
        settled(format!(
            "list 3 pending invitations, {} stored",
            sizes.million
        ))
        .await?,
    );

    // Filter by address in an organization of 100,000 invitations.
    let big = seed::organization(address, &owner.digest, "big").await?;
    let big_first = 10_000_000;
    seed::bulk_invitations(
        store,
        database_url,
        &big.id,
        big_first,
        sizes.hundred_thousand,
    )
    .await?;
    let big_token = Auth::Bearer(seed::bearer_token(address, &big).await?);
    let wanted = big_first + sizes.hundred_thousand / 2;
    let mut filtered = list_workload(&big.id, big_token);
    filtered.path = format!("{}?username=bulk{wanted}@example.com", filtered.path);
    figures.push(
        measure(
            &format!(
                "list filtered by username, {} invitations in the org",
                sizes.hundred_thousand
            ),
            filtered,
            Expectation::array_of(1)
                .containing(format!(r#""username":"bulk{wanted}@example.com""#)),
            0,
        )
        .await?,
    );

    // The unpaginated list of 10,000 pending invitations (memory).
    let wide = seed::organization(address, &owner.digest, "wide").await?;
    seed::bulk_invitations(
        store,
        database_url,
        &wide.id,
        20_000_000,
        sizes.ten_thousand,
    )
    .await?;
    let wide_token = Auth::Bearer(seed::bearer_token(address, &wide).await?);
    figures.push(
        measure(
            &format!(
                "list {} pending invitations (one bare array)",
                sizes.ten_thousand
            ),
            list_workload(&wide.id, wide_token),
            Expectation::array_of(usize::try_from(sizes.ten_thousand)?),
            0,
        )
        .await?,
    );

    // One page of 100 org users, in an organization of 1,000 invitees.
    let people = seed::organization(address, &owner.digest, "people").await?;
    seed::bulk_invitations(store, database_url, &people.id, 30_000_000, sizes.thousand).await?;
    let people_token = Auth::Bearer(seed::bearer_token(address, &people).await?);
    figures.push(
        measure(
            &format!("one org-users page of 100, {} users", sizes.thousand),
            Workload {
                method: "GET".into(),
                path: format!(
                    "/api/atlas/v2/orgs/{}/users?itemsPerPage=100&pageNum=2",
                    people.id
                ),
                body: None,
                accept: V2025.into(),
                auth: people_token,
            },
            Expectation::status(200).shaped(BodyShape::PageOf(100)),
            0,
        )
        .await?,
    );

    // The invitee's page for a pending invitation: what following the mail's link costs.
    let page = seed::invitation_page(address, &owner).await?;
    figures.push(
        measure(
            "open an invitee's page (HTML, no credentials)",
            Workload {
                method: "GET".into(),
                path: page,
                body: None,
                accept: "text/html".into(),
                auth: Auth::None,
            },
            // The page that offers the invitation, not a notice that it is gone.
            Expectation::status(200).containing(r#"id="accept""#),
            0,
        )
        .await?,
    );

    // Writes, last: they grow the owner's organization. Atlas answers a create with 200.
    figures.push(
        measure(
            "create invitations (unique usernames)",
            Workload {
                method: "POST".into(),
                path: format!("/api/atlas/v2/orgs/{}/invites", owner.id),
                body: Some(r#"{"username":"new{n}@example.com","roles":["ORG_MEMBER"]}"#.into()),
                accept: V2023.into(),
                auth: bearer.clone(),
            },
            Expectation::status(200)
                .containing(r#""id":""#)
                .containing(r#""username":"new{n}@example.com""#),
            0,
        )
        .await?,
    );
    let target = seed::invitations(address, &owner, "updated", 1).await?;
    figures.push(
        measure(
            "update an invitation by id",
            Workload {
                method: "PATCH".into(),
                path: format!("/api/atlas/v2/orgs/{}/invites/{target}", owner.id),
                body: Some(r#"{"roles":["ORG_MEMBER"],"teamIds":[]}"#.into()),
                accept: V2023.into(),
                auth: bearer,
            },
            Expectation::status(200).containing(format!(r#""id":"{target}""#)),
            0,
        )
        .await?,
    );
    Ok(figures)
}
