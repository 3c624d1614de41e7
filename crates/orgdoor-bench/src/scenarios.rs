//! The scenarios, in the order they run, and the references they are compared with.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use serde_json::Value;
use tokio::process::Command;

use crate::load::{Auth, LoadResult, LoadSpec, Workload, keep_reason};
use crate::seed::{self, Org, V2023};
use crate::servers::{self, CLIENT_CORE, SERVER_CORE, Server};
use crate::verify::{BodyShape, Expectation};
use crate::{Backend, RunArgs, report};

/// The request every reference answers: an organization's pending invitations.
const REFERENCE_ORG: &str = "6a793f893c6ed3e96c7897be";
const V2025: &str = "application/vnd.atlas.2025-02-19+json";

/// One scenario as it is measured: what each call sends, what it must get back, and from whom.
struct Scenario {
    name: String,
    /// `orgdoor`, `ceiling` or `prism`.
    target: &'static str,
    backend: Option<Backend>,
    workload: Workload,
    expect: Expectation,
}

/// What a server holds in memory, as the gauges of its `/metrics` say.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Held {
    pub(crate) views: f64,
    pub(crate) view_bytes: f64,
    pub(crate) credentials: f64,
}

/// The read model's size on one store: what is held with `stored` invitations in the store
/// (the list of 3 read throughout), and what holding one organization's list of `listed`
/// invitations adds to it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReadModel {
    pub(crate) backend: Backend,
    pub(crate) stored: u64,
    pub(crate) held_with_stored: Held,
    pub(crate) listed: u64,
    pub(crate) list_views: f64,
    pub(crate) list_bytes: f64,
}

/// What `server` holds now.
async fn held(server: &Server) -> anyhow::Result<Held> {
    let (status, text) = crate::load::request_once(
        &server.address,
        "GET",
        "/metrics",
        "text/plain",
        None,
        &Auth::None,
    )
    .await?;
    if !status.is_success() {
        bail!("/metrics: {status}");
    }
    let gauge = |name: &str| -> anyhow::Result<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .ok_or_else(|| anyhow!("no {name} in /metrics"))?
            .trim()
            .parse()
            .with_context(|| format!("{name} in /metrics"))
    };
    Ok(Held {
        views: gauge("orgdoor_held_views")?,
        view_bytes: gauge("orgdoor_held_view_bytes")?,
        credentials: gauge("orgdoor_held_credentials")?,
    })
}

/// One scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Measurement {
    pub(crate) scenario: String,
    /// `orgdoor`, `ceiling` or `prism`.
    pub(crate) target: String,
    pub(crate) backend: Option<Backend>,
    pub(crate) connections: usize,
    /// The measured pass with the median p99: the scenario's figures.
    pub(crate) result: LoadResult,
    /// Every measured pass, in the order they ran.
    pub(crate) passes: Vec<LoadResult>,
    /// Failed calls in the warm-up and every pass; any fails the scenario and its targets.
    pub(crate) errors: u64,
    /// The first few distinct reasons they failed.
    pub(crate) error_reasons: Vec<String>,
    /// The server's highest resident memory (`VmHWM`), in MiB.
    pub(crate) peak_rss_mib: f64,
    /// What that peak covers.
    pub(crate) peak_rss_scope: PeakRssScope,
    /// The load generator's command line (re-runnable as is against a live server).
    pub(crate) command: String,
}

/// What a scenario's peak memory covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PeakRssScope {
    /// The scenario alone: `VmHWM` was reset before its warm-up and read after its last pass.
    Scenario,
    /// Everything since the server started (the reset was refused): at least the scenario's.
    SinceServerStart,
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

/// Runs every scenario and writes the report; fails, after writing it, when any scenario saw an
/// error, since its figures then measure something other than the scenario.
pub(crate) async fn run_all(args: RunArgs) -> anyhow::Result<()> {
    let root = workspace_root();
    let binary = build_orgdoor(&root).await?;
    let repetition = args.repetition();
    let mut measurements = Vec::new();
    let mut notes = vec![format!(
        "Every scenario of every target is measured alike: an unrecorded warm-up pass of {} s, \
         then {} measured passes of {} s; its figures are those of the pass with the median p99. \
         A call counts toward throughput and latency only when its answer is verified (the \
         status, and per scenario the body: the number of items, the row asked for, the id); \
         any other answer is an error, in the warm-up or in any pass, and fails the scenario's \
         targets. Peak RSS is the server's VmHWM over the scenario.",
        repetition.warmup_seconds, repetition.passes, repetition.seconds
    )];

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
    let mut read_models = Vec::new();
    for backend in &args.backends {
        let (figures, idle_rss, read_model) = orgdoor(&args, &binary, *backend).await?;
        measurements.extend(figures);
        idle.push((*backend, idle_rss));
        read_models.extend(read_model);
    }
    let since_start = measurements
        .iter()
        .filter(|m| m.peak_rss_scope == PeakRssScope::SinceServerStart)
        .count();
    if since_start > 0 {
        notes.push(format!(
            "The kernel refused to reset VmHWM (/proc/PID/clear_refs) for {since_start} \
             scenarios: their peak RSS is the highest since the server started, an upper bound."
        ));
    }
    report::write(&args, &root, &measurements, &idle, &read_models, &notes)?;
    let failed: Vec<String> = measurements
        .iter()
        .filter(|m| m.errors > 0)
        .map(|m| format!("{} ({}): {} errors", m.scenario, m.label(), m.errors))
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} scenarios saw errors; their figures do not count:\n  {}",
            failed.len(),
            failed.join("\n  ")
        );
    }
    Ok(())
}

impl Measurement {
    pub(crate) fn label(&self) -> String {
        target_label(&self.target, self.backend)
    }
}

/// The target, and the store when there is one.
fn target_label(target: &str, backend: Option<Backend>) -> String {
    match backend {
        Some(backend) => format!("{target}, {backend:?}"),
        None => target.to_owned(),
    }
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

/// Measures a scenario the way every scenario is measured (see `RunArgs::repetition`): the
/// server's peak memory reset, an unrecorded warm-up pass, the measured passes, then the peak
/// read back. The figures are the pass with the median p99; the errors are those of every pass.
async fn measure(
    args: &RunArgs,
    server: &Server,
    scenario: Scenario,
) -> anyhow::Result<Measurement> {
    let repetition = args.repetition();
    let peak_rss_scope = match server.reset_peak_rss().await {
        Ok(()) => PeakRssScope::Scenario,
        Err(error) => {
            eprintln!("peak RSS covers the server's whole life: {error:#}");
            PeakRssScope::SinceServerStart
        }
    };
    let spec = |pass: u16, seconds: f64| LoadSpec {
        address: server.address.clone(),
        connections: args.connections,
        duration_ms: (seconds * 1000.0) as u64,
        workload: scenario.workload.clone(),
        expect: scenario.expect.clone(),
        // Each pass numbers its calls apart, so what is unique by `{n}` stays unique.
        first_n: u64::from(pass) << 32,
    };
    let label = format!(
        "{} [{}]",
        scenario.name,
        target_label(scenario.target, scenario.backend)
    );
    let warmup = drive(
        &spec(0, repetition.warmup_seconds),
        &format!("{label} warm-up"),
    )
    .await?;
    let mut passes = Vec::new();
    for pass in 1..=repetition.passes {
        let name = format!("{label} pass {pass}/{}", repetition.passes);
        passes.push(drive(&spec(pass, repetition.seconds), &name).await?);
    }
    let peak_rss_mib = server.peak_rss_kib().await? as f64 / 1024.0;

    let mut errors = warmup.errors;
    let mut error_reasons = warmup.error_reasons;
    for pass in &passes {
        errors += pass.errors;
        for reason in &pass.error_reasons {
            keep_reason(&mut error_reasons, reason.clone());
        }
    }
    let mut by_p99: Vec<&LoadResult> = passes.iter().collect();
    by_p99.sort_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms));
    let result = by_p99
        .get((by_p99.len().saturating_sub(1)) / 2)
        .map(|median| (*median).clone())
        .ok_or_else(|| anyhow!("{label}: no measured pass"))?;
    let command = format!(
        "orgdoor-bench drive '{}'",
        serde_json::to_string(&spec(1, repetition.seconds))?
    );
    Ok(Measurement {
        scenario: scenario.name,
        target: scenario.target.to_owned(),
        backend: scenario.backend,
        connections: args.connections,
        result,
        passes,
        errors,
        error_reasons,
        peak_rss_mib,
        peak_rss_scope,
        command,
    })
}

/// One pass: the load generator in a second process, pinned to the client core.
async fn drive(spec: &LoadSpec, label: &str) -> anyhow::Result<LoadResult> {
    let spec_json = serde_json::to_string(spec)?;
    let exe = std::env::current_exe()?;
    let output = servers::pinned(CLIENT_CORE, &exe, &["drive", &spec_json])
        .output()
        .await
        .context("running the load generator")?;
    if !output.status.success() {
        bail!(
            "{label}: the load generator failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let result: LoadResult = serde_json::from_slice(&output.stdout)?;
    eprintln!(
        "{label}: {:.0} ops/s, p99 {:.2} ms, {} errors{}",
        result.operations_per_second,
        result.p99_ms,
        result.errors,
        result
            .error_reasons
            .first()
            .map(|reason| format!(" (first: {reason})"))
            .unwrap_or_default()
    );
    Ok(result)
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
    let scenario = Scenario {
        name: LIST_SCENARIO.to_owned(),
        target: "ceiling",
        backend: None,
        workload: list_workload(REFERENCE_ORG, Auth::None),
        expect: Expectation::array_of(3),
    };
    let measurement = measure(args, &server, scenario).await;
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
    let scenario = Scenario {
        name: LIST_SCENARIO.to_owned(),
        target: "prism",
        backend: None,
        workload: list_workload(REFERENCE_ORG, Auth::Bearer("any-token".into())),
        // A mock answers with the spec's example, whatever its length.
        expect: Expectation::status(200).shaped(BodyShape::AnyArray),
    };
    let measurement = measure(args, &server, scenario).await;
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
) -> anyhow::Result<(Vec<Measurement>, f64, Option<ReadModel>)> {
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
    let idle_rss = server.rss_kib().await? as f64 / 1024.0;
    let mut outcome = orgdoor_scenarios(args, &server, backend, &database_url, &sizes).await;
    if let Ok((figures, _)) = &mut outcome {
        let revocation = crate::revocation::measure(
            args,
            binary,
            &server,
            backend,
            &database_url,
            &secrets_key_file,
        )
        .await?;
        figures.push(revocation);
    }
    server.stop().await?;
    if backend == Backend::Postgres {
        seed::drop_postgres_database(&args.postgres_url, &database_url).await?;
    }
    let _ = std::fs::remove_dir_all(&directory);
    let (figures, read_model) = outcome?;
    Ok((figures, idle_rss, Some(read_model)))
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
) -> anyhow::Result<(Vec<Measurement>, ReadModel)> {
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
    let scenario = |name: String, workload: Workload, expect: Expectation| Scenario {
        name,
        target: "orgdoor",
        backend: Some(backend),
        workload,
        expect,
    };
    let mut figures = Vec::new();

    for (name, auth) in [
        (LIST_SCENARIO.to_owned(), bearer.clone()),
        (
            format!("{LIST_SCENARIO}, Digest reusing the nonce (python-requests)"),
            owner.digest.clone(),
        ),
        (
            format!("{LIST_SCENARIO}, Digest challenged every call (Go client, 2 round trips)"),
            Auth::DigestChallenged {
                user: user.clone(),
                password: password.clone(),
            },
        ),
    ] {
        let list = scenario(name, list_workload(&owner.id, auth), three_listed());
        figures.push(measure(args, server, list).await?);
    }

    // Store-size independence: the same list with 1,000 and then 1,000,000 invitations stored.
    let stored = |count: u64| {
        scenario(
            format!("{LIST_SCENARIO}, {count} stored"),
            list_workload(&owner.id, bearer.clone()),
            three_listed(),
        )
    };
    let filler = seed::organization(address, &owner.digest, "filler").await?;
    seed::bulk_invitations(store, database_url, &filler.id, 1, sizes.thousand - 3).await?;
    figures.push(measure(args, server, stored(sizes.thousand)).await?);
    seed::bulk_invitations(
        store,
        database_url,
        &filler.id,
        sizes.thousand,
        sizes.million - sizes.thousand,
    )
    .await?;
    figures.push(measure(args, server, stored(sizes.million)).await?);
    let held_with_stored = held(server).await?;

    // Filter by address in an organization of 100,000 invitations: exactly the one asked for.
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
    let filtered = scenario(
        format!(
            "list filtered by username, {} invitations in the org",
            sizes.hundred_thousand
        ),
        filtered,
        Expectation::array_of(1).containing(format!(r#""username":"bulk{wanted}@example.com""#)),
    );
    figures.push(measure(args, server, filtered).await?);

    // The unpaginated list of 10,000 pending invitations (memory): all of them.
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
    let wide_list = scenario(
        format!(
            "list {} pending invitations (one bare array)",
            sizes.ten_thousand
        ),
        list_workload(&wide.id, wide_token),
        Expectation::array_of(usize::try_from(sizes.ten_thousand)?),
    );
    let before_wide = held(server).await?;
    figures.push(measure(args, server, wide_list).await?);
    let with_wide = held(server).await?;
    let read_model = ReadModel {
        backend,
        stored: sizes.million,
        held_with_stored,
        listed: sizes.ten_thousand,
        list_views: with_wide.views - before_wide.views,
        list_bytes: with_wide.view_bytes - before_wide.view_bytes,
    };

    // One page of 100 org users, in an organization of 1,000 invitees: a full page.
    let people = seed::organization(address, &owner.digest, "people").await?;
    seed::bulk_invitations(store, database_url, &people.id, 30_000_000, sizes.thousand).await?;
    let people_token = Auth::Bearer(seed::bearer_token(address, &people).await?);
    let users_page = scenario(
        format!("one org-users page of 100, {} users", sizes.thousand),
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
    );
    figures.push(measure(args, server, users_page).await?);

    // The invitee's page for a pending invitation: what following the mail's link costs.
    let page = seed::invitation_page(address, &owner).await?;
    let invitee_page = scenario(
        "open an invitee's page (HTML, no credentials)".to_owned(),
        Workload {
            method: "GET".into(),
            path: page,
            body: None,
            accept: "text/html".into(),
            auth: Auth::None,
        },
        // The page that offers the invitation, not a notice that it is gone.
        Expectation::status(200).containing(r#"id="accept""#),
    );
    figures.push(measure(args, server, invitee_page).await?);

    // Writes, last: they grow the owner's organization. Atlas answers a create with 200.
    let creates = scenario(
        "create invitations (unique usernames)".to_owned(),
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
    );
    figures.push(measure(args, server, creates).await?);
    let target = seed::invitations(address, &owner, "updated", 1).await?;
    let update = scenario(
        "update an invitation by id".to_owned(),
        Workload {
            method: "PATCH".into(),
            path: format!("/api/atlas/v2/orgs/{}/invites/{target}", owner.id),
            body: Some(r#"{"roles":["ORG_MEMBER"],"teamIds":[]}"#.into()),
            accept: V2023.into(),
            auth: bearer,
        },
        Expectation::status(200).containing(format!(r#""id":"{target}""#)),
    );
    figures.push(measure(args, server, update).await?);
    Ok((figures, read_model))
}
