//! The adapter's overhead over a bare HTTP call: `GET /certificates/{trackingId}` against the
//! ECS simulator on loopback, once through [`entrust::EntrustClient::order`] (HTTP, JSON
//! decoding, conversion, chain ordering) and once as a bare `reqwest` GET that only reads the
//! body. Calls alternate, so drift affects both sides alike.
//!
//! Shared by the `adapter_overhead` benchmark and its smoke test in `tests/it`.

use std::time::{Duration, Instant};

use entrust::model::TrackingId;
use entrust::{EntrustClient, EntrustConfig, SecretString};
use entrust_sim::{RunningSimulator, Scenario, SimConfig};

/// Demo administrator of the simulator (a simulator-only key).
const USER: &str = "demo-admin";
const KEY: &str = "sim-demo-admin-key";

/// An ACTIVE demo order with a certificate and chain.
const TRACKING_ID: u32 = 2_100_000;

/// How many calls to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// A few calls, to prove the benchmark still works.
    Small,
    /// Enough calls for a stable median and 99th percentile.
    Full,
}

impl Scale {
    /// Reads `CERTITUDE_BENCH_SCALE` (`small` or `full`), or returns `default` when unset.
    pub fn from_env(default: Scale) -> Result<Scale, String> {
        match std::env::var("CERTITUDE_BENCH_SCALE") {
            Err(_) => Ok(default),
            Ok(value) if value.eq_ignore_ascii_case("small") => Ok(Scale::Small),
            Ok(value) if value.eq_ignore_ascii_case("full") => Ok(Scale::Full),
            Ok(value) => Err(format!(
                "CERTITUDE_BENCH_SCALE={value:?} is invalid: use small or full"
            )),
        }
    }

    /// Returns the calls measured per side.
    pub fn calls(self) -> usize {
        match self {
            Scale::Small => 40,
            Scale::Full => 5_000,
        }
    }

    fn warm_up_calls(self) -> usize {
        match self {
            Scale::Small => 5,
            Scale::Full => 200,
        }
    }
}

/// Latency statistics of one side.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    /// Calls measured.
    pub calls: usize,
    /// Median latency.
    pub median: Duration,
    /// 99th-percentile latency.
    pub p99: Duration,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Stats {
        samples.sort_unstable();
        let calls = samples.len();
        let at = |quantile: f64| {
            let rank = ((quantile * calls as f64).ceil() as usize).clamp(1, calls.max(1));
            samples.get(rank - 1).copied().unwrap_or_default()
        };
        Stats {
            calls,
            median: at(0.5),
            p99: at(0.99),
        }
    }
}

/// Both sides' statistics.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Through `EntrustClient::order`.
    pub adapter: Stats,
    /// A bare `reqwest` GET of the same URL.
    pub bare: Stats,
}

/// Starts a simulator, measures both sides at `scale`, and stops the simulator.
pub async fn run(scale: Scale) -> anyhow::Result<Report> {
    let server = RunningSimulator::start(SimConfig {
        scenario: Scenario::demo(),
        clock: certitude_clock::system(),
        listen: "127.0.0.1:0".parse()?,
    })
    .await?;
    let base_url = server.base_url();
    let adapter = EntrustClient::new(EntrustConfig::new(
        url::Url::parse(&base_url)?,
        USER,
        SecretString::from(KEY),
    ))?;
    let bare = reqwest::Client::builder().build()?;
    let url = format!("{base_url}/certificates/{TRACKING_ID}");
    let id = TrackingId::new(TRACKING_ID);

    let adapter_call = || async {
        let started = Instant::now();
        let order = adapter.order(id).await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            order.certificate_pem.is_some(),
            "order {id} has no certificate"
        );
        Ok::<Duration, anyhow::Error>(elapsed)
    };
    let bare_call = || async {
        let started = Instant::now();
        let response = bare.get(&url).basic_auth(USER, Some(KEY)).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(status.is_success(), "bare GET returned HTTP {status}");
        anyhow::ensure!(!body.is_empty(), "bare GET returned an empty body");
        Ok::<Duration, anyhow::Error>(elapsed)
    };

    for _ in 0..scale.warm_up_calls() {
        adapter_call().await?;
        bare_call().await?;
    }
    let mut adapter_samples = Vec::with_capacity(scale.calls());
    let mut bare_samples = Vec::with_capacity(scale.calls());
    for call in 0..scale.calls() {
        if call % 2 == 0 {
            adapter_samples.push(adapter_call().await?);
            bare_samples.push(bare_call().await?);
        } else {
            bare_samples.push(bare_call().await?);
            adapter_samples.push(adapter_call().await?);
        }
    }
    server.shutdown().await;
    Ok(Report {
        adapter: Stats::of(adapter_samples),
        bare: Stats::of(bare_samples),
    })
}

/// Formats a duration in microseconds with one decimal.
pub fn micros(duration: Duration) -> String {
    format!("{:.1} µs", duration.as_secs_f64() * 1e6)
}
