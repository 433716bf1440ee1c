//! The simulator throughput workload, shared by the `throughput` benchmark (full scale) and the
//! `bench_small` test (small scale, so that the benchmark keeps compiling and working).
//!
//! It starts a simulator on a generated scenario over real HTTP on loopback. It then measures
//! `GET /certificates/{trackingId}` requests per second, after one warm-up read of each order
//! (which signs its certificate). Last it measures ECDSA P-256 certificates issued per second
//! through `POST /certificates`, with the CSRs made before timing starts. The client runs in the same
//! process, so client and simulator share the machine's cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use entrust_sim::model::DomainStatus;
use entrust_sim::{GenerateOptions, RunningSimulator, Scenario, SimConfig};
use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use serde_json::json;

/// Sizes of one benchmark run.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// `small` or `full`.
    pub name: &'static str,
    /// Domains of the generated scenario.
    pub domains: usize,
    /// Orders of the generated scenario.
    pub orders: usize,
    /// Distinct orders the GET phase reads.
    pub read_set: usize,
    /// GET requests measured.
    pub reads: usize,
    /// Certificates issued.
    pub issues: usize,
    /// Concurrent client tasks.
    pub concurrency: usize,
}

impl Scale {
    /// A run that takes seconds in a debug build.
    pub const SMALL: Scale = Scale {
        name: "small",
        domains: 200,
        orders: 2_000,
        read_set: 100,
        reads: 400,
        issues: 40,
        concurrency: 4,
    };

    /// The run whose numbers go to docs/BENCHMARKS.md: 10,000 domains and 100,000 orders.
    pub const FULL: Scale = Scale {
        name: "full",
        domains: 10_000,
        orders: 100_000,
        read_set: 1_000,
        reads: 40_000,
        issues: 4_000,
        concurrency: 16,
    };

    /// Reads `CERTITUDE_BENCH_SCALE` (`small` or `full`), else `default`.
    pub fn from_env(default: Scale) -> anyhow::Result<Scale> {
        match std::env::var("CERTITUDE_BENCH_SCALE").as_deref() {
            Ok("small") => Ok(Scale::SMALL),
            Ok("full") => Ok(Scale::FULL),
            Ok(other) => bail!("CERTITUDE_BENCH_SCALE={other:?} is not small or full"),
            Err(_) => Ok(default),
        }
    }
}

/// The measurements of one run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The scale used.
    pub scale: Scale,
    /// Time to generate the scenario.
    pub generate: Duration,
    /// Time from `RunningSimulator::start` to a bound listener.
    pub startup: Duration,
    /// `summary.total` of `GET /certificates` after start.
    pub listed_orders: u64,
    /// GET requests that returned 200 in the measured phase.
    pub reads_ok: usize,
    /// Duration of the measured GET phase.
    pub read_time: Duration,
    /// Orders that returned 201 in the issue phase.
    pub issued: usize,
    /// Duration of the issue phase.
    pub issue_time: Duration,
}

impl Report {
    /// GET requests per second.
    pub fn reads_per_second(&self) -> f64 {
        self.reads_ok as f64 / self.read_time.as_secs_f64()
    }

    /// Certificates issued per second.
    pub fn issues_per_second(&self) -> f64 {
        self.issued as f64 / self.issue_time.as_secs_f64()
    }
}

const ADMIN: (&str, &str) = ("demo-admin", "sim-demo-admin-key");

/// Runs the workload at `scale`.
pub async fn run(scale: Scale) -> anyhow::Result<Report> {
    let started = Instant::now();
    let scenario = Scenario::generate(&GenerateOptions {
        domains: scale.domains,
        orders: scale.orders,
        seed: 1,
    });
    let generate = started.elapsed();
    let first_id = i64::from(scenario.account.first_tracking_id);
    let domain = scenario
        .domains
        .iter()
        .find(|domain| {
            domain.client_id == 1 && domain.verification_status == DomainStatus::Approved
        })
        .map(|domain| domain.domain_name.clone())
        .context("the generated scenario has no APPROVED domain of client 1")?;

    let started = Instant::now();
    let sim = RunningSimulator::start(SimConfig {
        scenario,
        clock: certitude_clock::system(),
        listen: "127.0.0.1:0".parse()?,
    })
    .await?;
    let startup = started.elapsed();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(scale.concurrency * 2)
        .build()?;
    let base = sim.base_url();

    let listed: serde_json::Value = client
        .get(format!("{base}/certificates?limit=1&isThirdParty=false"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await?
        .json()
        .await?;
    let listed_orders = listed["summary"]["total"].as_u64().unwrap_or(0);

    let ids: Vec<i64> = (0..scale.read_set as i64)
        .map(|index| first_id + index * (scale.orders as i64 / scale.read_set as i64))
        .collect();
    for id in &ids {
        get_certificate(&client, &base, *id).await?;
    }
    let (reads_ok, read_time) = read_phase(&client, &base, &ids, scale).await?;
    let (issued, issue_time) = issue_phase(&client, &base, &domain, scale).await?;
    sim.shutdown().await;

    Ok(Report {
        scale,
        generate,
        startup,
        listed_orders,
        reads_ok,
        read_time,
        issued,
        issue_time,
    })
}

async fn get_certificate(client: &reqwest::Client, base: &str, id: i64) -> anyhow::Result<()> {
    let response = client
        .get(format!("{base}/certificates/{id}"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await?;
    let status = response.status();
    let body = response.bytes().await?;
    if status != reqwest::StatusCode::OK || body.is_empty() {
        bail!("GET /certificates/{id} returned {status}, expected 200");
    }
    Ok(())
}

/// Sends `scale.reads` GETs from `scale.concurrency` tasks over the read set.
async fn read_phase(
    client: &reqwest::Client,
    base: &str,
    ids: &[i64],
    scale: Scale,
) -> anyhow::Result<(usize, Duration)> {
    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(ids.to_vec());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..scale.concurrency {
        let (client, base, next, ids) =
            (client.clone(), base.to_owned(), next.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= scale.reads {
                    return Ok::<usize, anyhow::Error>(ok);
                }
                get_certificate(&client, &base, ids[index % ids.len()]).await?;
                ok += 1;
            }
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok((total, started.elapsed()))
}

/// Orders `scale.issues` UC_SSL (unlimited inventory) certificates for new P-256 keys.
async fn issue_phase(
    client: &reqwest::Client,
    base: &str,
    domain: &str,
    scale: Scale,
) -> anyhow::Result<(usize, Duration)> {
    let mut bodies = Vec::with_capacity(scale.issues);
    for index in 0..scale.issues {
        let name = format!("bench{index}.{domain}");
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(vec![name.clone()])?;
        params.distinguished_name.push(DnType::CommonName, name);
        let csr = params.serialize_request(&key)?.pem()?;
        bodies.push(json!({"certType": "UC_SSL", "csr": csr, "certLifetime": "P1Y"}));
    }
    let next = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(bodies);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..scale.concurrency {
        let (client, base, next, bodies) = (
            client.clone(),
            base.to_owned(),
            next.clone(),
            bodies.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut issued = 0;
            while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                let response = client
                    .post(format!("{base}/certificates"))
                    .basic_auth(ADMIN.0, Some(ADMIN.1))
                    .json(body)
                    .send()
                    .await?;
                let status = response.status();
                let text = response.text().await?;
                if status != reqwest::StatusCode::CREATED {
                    bail!("POST /certificates returned {status}, expected 201: {text}");
                }
                issued += 1;
            }
            Ok::<usize, anyhow::Error>(issued)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok((total, started.elapsed()))
}
