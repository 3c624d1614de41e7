//! Revocation across two instances: a second orgdoor on the same store holds a key in memory
//! once it has checked it; how long after the first instance answers the key's deletion does
//! the second still accept it?
//!
//! Each round makes a key through the first instance, uses it twice on the second (so the
//! second holds it), deletes it through the first, and from the moment the deletion is
//! answered asks the second with the key, one request after another, until it answers 401.
//! The figure is the time from the deletion's answer to that 401's arrival; its resolution is
//! one request (a fresh connection and a Digest challenge, well under a millisecond here).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use serde_json::json;

use crate::load::{Auth, LoadResult, keep_reason, request_once};
use crate::scenarios::{Measurement, PeakRssScope};
use crate::seed::{Org, V2023, call};
use crate::servers::{self, SERVER_CORE, Server};
use crate::{Backend, RunArgs};

pub(crate) const REVOCATION_SCENARIO: &str =
    "a key deleted on one instance, refused by a second (ms after the deletion is answered)";

/// The longest a round waits for the second instance before it counts as an error.
const GIVE_UP_AFTER: Duration = Duration::from_secs(5);

/// Starts a second instance on the first's store and measures `rounds` revocations.
pub(crate) async fn measure(
    args: &RunArgs,
    binary: &Path,
    first: &Server,
    backend: Backend,
    database_url: &str,
    secrets_key_file: &str,
) -> anyhow::Result<Measurement> {
    let second = servers::start(
        servers::pinned(
            SERVER_CORE,
            binary,
            &[
                "serve",
                "--secrets-key-file",
                secrets_key_file,
                "--listen",
                "127.0.0.1:0",
                "--rate-limits",
                "off",
                "--log-format",
                "json",
                "--database-url",
                database_url,
            ],
        ),
        "orgdoor listening on ",
    )
    .await?;
    let owner = Org {
        id: first.export("MONGODB_ATLAS_ORG_ID")?,
        digest: Auth::DigestReuse {
            user: first.export("MONGODB_ATLAS_PUBLIC_API_KEY")?,
            password: first.export("MONGODB_ATLAS_PRIVATE_API_KEY")?,
        },
    };
    let rounds = if args.smoke { 5 } else { 200 };
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(rounds);
    let mut errors = 0;
    let mut reasons = Vec::new();
    let mut requests = 0;
    for _ in 0..rounds {
        match round(&first.address, &second.address, &owner, &mut requests).await {
            Ok(took) => latencies.push(took),
            Err(error) => {
                errors += 1;
                keep_reason(&mut reasons, format!("{error:#}"));
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_mib = second.peak_rss_kib().await? as f64 / 1024.0;
    second.stop().await?;
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |took| took.as_secs_f64() * 1000.0)
    };
    let result = LoadResult {
        operations: latencies.len() as u64,
        round_trips: requests,
        errors,
        seconds,
        operations_per_second: latencies.len() as f64 / seconds.max(f64::EPSILON),
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        max_ms: latencies
            .last()
            .map_or(0.0, |took| took.as_secs_f64() * 1000.0),
        error_reasons: reasons.clone(),
    };
    Ok(Measurement {
        scenario: REVOCATION_SCENARIO.to_owned(),
        target: "orgdoor".to_owned(),
        backend: Some(backend),
        connections: 1,
        passes: vec![result.clone()],
        result,
        errors,
        error_reasons: reasons,
        peak_rss_mib,
        peak_rss_scope: PeakRssScope::SinceServerStart,
        command: format!(
            "{rounds} rounds: create through the first, use twice on the second, delete through the first, poll the second"
        ),
    })
}

/// One key's life; returns how long the second instance accepted it after its deletion.
async fn round(
    first: &str,
    second: &str,
    owner: &Org,
    requests: &mut u64,
) -> anyhow::Result<Duration> {
    let keys = format!("/api/atlas/v2/orgs/{}/apiKeys", owner.id);
    let created = call(
        first,
        "POST",
        &keys,
        V2023,
        Some(json!({"desc": "revoked", "roles": ["ORG_OWNER"]})),
        &owner.digest,
    )
    .await?;
    let field = |name: &str| {
        created[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no {name} in {created}"))
    };
    let key = Auth::DigestReuse {
        user: field("publicKey")?,
        password: field("privateKey")?,
    };
    let org = format!("/api/atlas/v2/orgs/{}", owner.id);
    for _ in 0..2 {
        let (status, text) = request_once(second, "GET", &org, V2023, None, &key).await?;
        *requests += 2;
        if status != 200 {
            bail!("the new key on the second instance: {status} {text}");
        }
    }
    call(
        first,
        "DELETE",
        &format!("{keys}/{}", field("id")?),
        V2023,
        None,
        &owner.digest,
    )
    .await?;
    let answered = Instant::now();
    loop {
        let (status, text) = request_once(second, "GET", &org, V2023, None, &key).await?;
        *requests += 2;
        match status.as_u16() {
            401 => return Ok(answered.elapsed()),
            200 if answered.elapsed() < GIVE_UP_AFTER => {}
            200 => bail!("the second instance still accepts the key after {GIVE_UP_AFTER:?}"),
            _ => bail!("the deleted key on the second instance: {status} {text}"),
        }
    }
}
