//! Measurements of the benchmarks in `benches/`, shared with their smoke tests in `tests/`,
//! which run the small scale under `cargo test` so that the benchmarks keep working.

pub mod import;
pub mod pipeline;

use std::time::Duration;

use anyhow::{Context, bail};
use entrust_sim::Scenario;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::System;

/// The scenario user that the benchmarks add as a credential. Both the demo and the generated
/// scenarios have it, with a simulator-only key.
pub const ADMIN_USER: &str = "demo-admin";

/// Limit on waiting for a catalog sync.
const SYNC_TIMEOUT: Duration = Duration::from_secs(120);

/// How much work a benchmark does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// A few seconds of work, to prove that the benchmark still works.
    Small,
    /// The size the numbers in docs/BENCHMARKS.md are measured at.
    Full,
}

impl Scale {
    /// Reads `CERTITUDE_BENCH_SCALE` (`small` or `full`), or returns `default` when unset.
    pub fn from_env(default: Scale) -> anyhow::Result<Scale> {
        match std::env::var("CERTITUDE_BENCH_SCALE") {
            Err(_) => Ok(default),
            Ok(value) if value.eq_ignore_ascii_case("small") => Ok(Scale::Small),
            Ok(value) if value.eq_ignore_ascii_case("full") => Ok(Scale::Full),
            Ok(value) => bail!("CERTITUDE_BENCH_SCALE={value:?} is invalid: use small or full"),
        }
    }
}

/// Returns the API key of [`ADMIN_USER`] in `scenario`.
pub fn admin_key(scenario: &Scenario) -> anyhow::Result<String> {
    let user = scenario
        .api_users
        .iter()
        .find(|user| user.user_name == ADMIN_USER)
        .with_context(|| format!("the scenario has no API user {ADMIN_USER}"))?;
    Ok(user.api_key.expose_secret().to_owned())
}

/// Adds [`ADMIN_USER`] as an administrator credential through the gateway, waits until its
/// catalog is synced, and returns the credential id. The sync runs before any timing starts.
pub async fn add_admin_credential(system: &System, api_key: &str) -> anyhow::Result<String> {
    let api = system.api();
    let (status, credential) = api
        .post(
            "/v1/credentials",
            json!({
                "name": "bench",
                "api_base_url": system.sim.base_url(),
                "username": ADMIN_USER,
                "api_key": api_key,
                "is_administrator": true,
            }),
        )
        .await?;
    if status != StatusCode::CREATED {
        bail!("adding the credential returned {status}: {credential}");
    }
    let credential_id = credential["id"]
        .as_str()
        .context("the new credential has no id")?
        .to_owned();

    // Adding starts a sync; this request joins it or starts the next one.
    let (status, sync) = api
        .post(&format!("/v1/credentials/{credential_id}/syncs"), json!({}))
        .await?;
    if status != StatusCode::ACCEPTED {
        bail!("starting a catalog sync returned {status}: {sync}");
    }
    let sync_id = sync["id"].as_str().context("the sync run has no id")?;
    let sync = api
        .wait_for(&format!("/v1/syncs/{sync_id}"), SYNC_TIMEOUT, |run| {
            run["state"] != "running"
        })
        .await?;
    if sync["state"] != "succeeded" {
        bail!("the catalog sync did not succeed: {sync}");
    }
    Ok(credential_id)
}

/// Returns the value at percentile `percent` of `sorted` by the nearest-rank method (the
/// maximum for 100, and for p99 of fewer than 100 values), or zero when it is empty.
pub fn percentile(sorted: &[Duration], percent: u32) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * percent as usize).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let values = millis(&(1..=200).collect::<Vec<_>>());

        assert_eq!(percentile(&values, 50), Duration::from_millis(100));
        assert_eq!(percentile(&values, 99), Duration::from_millis(198));
        assert_eq!(percentile(&values, 100), Duration::from_millis(200));
    }

    #[test]
    fn percentile_of_few_values_is_the_maximum() {
        let values = millis(&[3, 5, 9]);

        assert_eq!(percentile(&values, 99), Duration::from_millis(9));
        assert_eq!(percentile(&values, 50), Duration::from_millis(5));
    }

    #[test]
    fn percentile_of_nothing_is_zero() {
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }
}
