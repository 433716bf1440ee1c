//! A full catalog sync of a generated account's domains, measured side by side with a bare
//! client that pages the same simulator's `GET /domains` with the same page size.
//!
//! Certitude's side starts credential-sync in process (real Postgres and NATS), adds the
//! simulator's administrator as a credential and times the sync that adding starts, in which
//! every domain is new, and then on-demand syncs in which nothing changed. Each is timed from
//! the request to the moment GetSyncRun reports the run ended, so it includes fetching,
//! converting and storing the organizations, domains and products. The bare side is a `reqwest`
//! loop over `GET /domains?offset=..&limit=250` that parses each page as JSON and counts its
//! domains. Neither side has a rate limit: the generated scenario sets no quota on the
//! simulator, and credential-sync uses no rate budget. The sides alternate round by round, so
//! drift affects both alike. A sync's duration is the run's own (see [`Side`]). For the first
//! sync, the time observed from the AddCredential request also covers the credential check
//! against Entrust and storing the credential.
//!
//! Shared by the `catalog_sync` benchmark and its smoke test in `tests/it`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use certitude_credential_sync::{Config, start};
use certitude_platform::clock;
use certitude_platform::seal::{KeyId, MasterKey};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, nats_url};
use certitude_proto::credential::v1::credential_service_client::CredentialServiceClient;
use certitude_proto::credential::v1::{
    AddCredentialRequest, GetSyncRunRequest, ListSyncRunsRequest, SyncCatalogRequest, SyncRun,
};
use entrust::{EntrustClient, EntrustConfig, SecretString};
use entrust_sim::{GenerateOptions, RunningSimulator, Scenario, SimConfig};
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::transport::Channel;

/// The generated scenario's administrator (a simulator-only key).
const USER: &str = "demo-admin";
const KEY: &str = "sim-demo-admin-key";

/// Domains per `GET /domains` page, as the `entrust` adapter requests them.
pub const PAGE_SIZE: usize = 250;

/// Seed of the generated scenario.
const SEED: u64 = 1;

/// Time between two polls of a running sync.
const POLL: Duration = Duration::from_millis(5);

/// How many domains and rounds to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// 1,000 domains, one round, to prove the benchmark still works.
    Small,
    /// The large scenario's 10,000 domains, five rounds.
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

    /// Returns the number of domains in the simulated account.
    pub fn domains(self) -> usize {
        match self {
            Scale::Small => 1_000,
            Scale::Full => 10_000,
        }
    }

    /// Returns the rounds of the bare client and of repeated syncs.
    pub fn rounds(self) -> usize {
        match self {
            Scale::Small => 1,
            Scale::Full => 5,
        }
    }
}

/// The durations of one side, one per round, and the domains each round read.
///
/// For a sync, `durations` are the run's own, from its `started_at` to its `finished_at`, and
/// `observed` are the times from the request until GetSyncRun reported the end. For a walk,
/// both are the walk's time.
#[derive(Debug, Clone, Default)]
pub struct Side {
    pub domains: usize,
    pub durations: Vec<Duration>,
    pub observed: Vec<Duration>,
}

impl Side {
    /// Returns the median duration (the upper one for an even count).
    pub fn median(&self) -> Duration {
        let mut sorted = self.durations.clone();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }

    /// Returns the median observed time (the upper one for an even count).
    pub fn observed_median(&self) -> Duration {
        let mut sorted = self.observed.clone();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }

    /// Returns the domains read per second at the median duration.
    pub fn rate(&self) -> f64 {
        let seconds = self.median().as_secs_f64();
        if seconds == 0.0 {
            return 0.0;
        }
        self.domains as f64 / seconds
    }
}

/// The measurements of one benchmark run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The bare client's walks of `GET /domains`.
    pub bare: Side,
    /// The `entrust` adapter's walks of the same list (`EntrustClient::domains`), the
    /// fetching part of a sync on its own.
    pub adapter: Side,
    /// The sync that adding the credential started: every entry is new.
    pub first_sync: Side,
    /// On-demand syncs of an unchanged account.
    pub repeat_sync: Side,
}

/// Runs the benchmark at `scale` and returns its measurements.
pub async fn run(scale: Scale) -> anyhow::Result<Report> {
    let scenario = Scenario::generate(&GenerateOptions {
        domains: scale.domains(),
        orders: 0,
        seed: SEED,
    });
    let simulator = RunningSimulator::start(SimConfig {
        scenario,
        clock: clock::system(),
        listen: "127.0.0.1:0".parse()?,
    })
    .await?;
    let service = BenchService::start().await?;
    let result = measure(scale, &simulator, &service).await;
    service.stop().await?;
    simulator.shutdown().await;
    result
}

async fn measure(
    scale: Scale,
    simulator: &RunningSimulator,
    service: &BenchService,
) -> anyhow::Result<Report> {
    let http = reqwest::Client::new();
    let base_url = simulator.base_url();
    let mut bare = Side::default();
    // One walk first, so that both sides meet a warmed-up simulator.
    walk_domains(&http, &base_url).await?;

    let adapter_client = EntrustClient::new(EntrustConfig::new(
        base_url.parse()?,
        USER,
        SecretString::from(KEY),
    ))?;
    let mut adapter = Side::default();

    let mut client = service.client.clone();
    let started = Instant::now();
    let credential = client
        .add_credential(AddCredentialRequest {
            name: "bench".to_owned(),
            api_base_url: base_url.clone(),
            username: USER.to_owned(),
            api_key: KEY.to_owned(),
            is_administrator: true,
            ..AddCredentialRequest::default()
        })
        .await?
        .into_inner();
    let first_run = client
        .list_sync_runs(ListSyncRunsRequest {
            credential_id: credential.id.clone(),
            ..ListSyncRunsRequest::default()
        })
        .await?
        .into_inner()
        .sync_runs
        .pop()
        .context("adding the credential started no sync")?;
    let first = wait_until_ended(&mut client, &first_run.id).await?;
    let first_sync = Side {
        domains: count(first.domains),
        durations: vec![run_duration(&first)?],
        observed: vec![started.elapsed()],
    };

    let mut repeat_sync = Side::default();
    for _ in 0..scale.rounds() {
        let started = Instant::now();
        bare.domains = walk_domains(&http, &base_url).await?;
        bare.durations.push(started.elapsed());
        bare.observed.push(started.elapsed());

        let started = Instant::now();
        adapter.domains = adapter_client.domains().await?.len();
        adapter.durations.push(started.elapsed());
        adapter.observed.push(started.elapsed());

        let started = Instant::now();
        let run = client
            .sync_catalog(SyncCatalogRequest {
                credential_id: credential.id.clone(),
                ..SyncCatalogRequest::default()
            })
            .await?
            .into_inner();
        let run = wait_until_ended(&mut client, &run.id).await?;
        repeat_sync.observed.push(started.elapsed());
        repeat_sync.durations.push(run_duration(&run)?);
        repeat_sync.domains = count(run.domains);
    }
    Ok(Report {
        bare,
        adapter,
        first_sync,
        repeat_sync,
    })
}

/// Returns the time from a run's `started_at` to its `finished_at`.
fn run_duration(run: &SyncRun) -> anyhow::Result<Duration> {
    let started = OffsetDateTime::parse(&run.started_at, &Rfc3339)?;
    let finished = OffsetDateTime::parse(&run.finished_at, &Rfc3339)?;
    Ok(Duration::try_from(finished - started)?)
}

fn count(domains: u32) -> usize {
    usize::try_from(domains).unwrap_or(usize::MAX)
}

/// Pages through `GET /domains` and returns the number of domains read.
async fn walk_domains(http: &reqwest::Client, base_url: &str) -> anyhow::Result<usize> {
    let mut offset = 0;
    loop {
        let page: serde_json::Value = http
            .get(format!("{base_url}/domains"))
            .query(&[("offset", offset), ("limit", PAGE_SIZE)])
            .basic_auth(USER, Some(KEY))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let received = page["domains"].as_array().map_or(0, Vec::len);
        let total = page["summary"]["total"].as_u64().unwrap_or_default();
        offset += received;
        if received == 0 || offset as u64 >= total {
            return Ok(offset);
        }
    }
}

/// Polls a run until it ends, and fails unless it succeeded.
async fn wait_until_ended(
    client: &mut CredentialServiceClient<Channel>,
    run_id: &str,
) -> anyhow::Result<SyncRun> {
    loop {
        let run = client
            .get_sync_run(GetSyncRunRequest {
                id: run_id.to_owned(),
            })
            .await?
            .into_inner();
        match run.state.as_str() {
            "running" => tokio::time::sleep(POLL).await,
            "succeeded" => return Ok(run),
            state => bail!("sync run {run_id} ended {state}: {}", run.error),
        }
    }
}

/// credential-sync started on its own schema and streams.
struct BenchService {
    client: CredentialServiceClient<Channel>,
    db: TestDb,
    nats: TestNats,
    shutdown: Shutdown,
    running: certitude_credential_sync::RunningService,
}

impl BenchService {
    async fn start() -> anyhow::Result<Self> {
        let db = TestDb::new().await;
        let nats = TestNats::new().await;
        let master_key = MasterKey::generate(KeyId::parse("bench")?)?;
        let master_keys = master_key.to_config_entry();
        let config = Config::from_pairs([
            ("DATABASE_URL", db.settings.url.expose_secret().to_owned()),
            ("CERTITUDE_DB_SCHEMA", db.service.schema.clone()),
            ("CERTITUDE_DB_MAX_CONNECTIONS", "5".to_owned()),
            ("NATS_URL", nats_url()),
            ("CERTITUDE_EVENT_STREAM", nats.settings.stream.clone()),
            (
                "CERTITUDE_SUBJECT_PREFIX",
                nats.settings.subject_prefix.clone(),
            ),
            (
                "CERTITUDE_DEAD_LETTER_STREAM",
                nats.settings.dead_letter_stream.clone(),
            ),
            ("CERTITUDE_GRPC_LISTEN", "127.0.0.1:0".to_owned()),
            ("CERTITUDE_HTTP_LISTEN", "127.0.0.1:0".to_owned()),
            (
                "CERTITUDE_MASTER_KEYS",
                master_keys.expose_secret().to_owned(),
            ),
            ("CERTITUDE_ENTRUST_ALLOW_LOOPBACK_HTTP", "true".to_owned()),
        ])?;
        let shutdown = Shutdown::new();
        let running = start(config, clock::system(), shutdown.clone()).await?;
        let client =
            CredentialServiceClient::connect(format!("http://{}", running.grpc_addr)).await?;
        Ok(Self {
            client,
            db,
            nats,
            shutdown,
            running,
        })
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.trigger();
        self.running.wait().await?;
        self.nats.delete_streams().await;
        self.db.drop_now().await;
        Ok(())
    }
}
