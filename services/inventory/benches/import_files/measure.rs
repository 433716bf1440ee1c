//! Importing PEM files through the inventory's ImportCertificateFiles, measured as files per
//! second.
//!
//! Before timing starts, [`generate`] makes one PEM file per certificate: each a distinct leaf
//! with its own ECDSA P-256 key, signed by a throwaway ECDSA P-256 CA made with rcgen, without
//! the CA certificate. The inventory then starts in process on a fresh schema of the local
//! Postgres and fresh NATS streams, with a manual clock stopped at [`NOW`] and no license limit.
//!
//! The files go to the tonic client's ImportCertificateFiles in calls of [`BATCH_FILES`] files,
//! one call at a time. Each call reads the files, stores each certificate through the
//! inventory's store path (license row, duplicate check, CertificateAddedToInventory in the
//! outbox) and commits once. The relay publishes the events to NATS meanwhile. After the last
//! call the benchmark also waits until the outbox is empty, and reports that time separately.
//!
//! Between calls the benchmark runs `ANALYZE` on the tables the calls grow whenever
//! autovacuum's default rule would (more rows changed than 50 plus 10% of the rows at the
//! last analysis), because the store path's queries need current statistics and a Postgres
//! with autovacuum off, as on the benchmark machine, never gathers them. That time counts in
//! the import time and is also reported on its own.
//!
//! Shared by the `import_files` benchmark and its smoke test in `tests/import_bench_smoke.rs`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use certitude_inventory::Config;
use certitude_platform::clock::ManualClock;
use certitude_platform::seal::{KeyId, MasterKey};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, nats_url};
use certitude_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use certitude_proto::inventory::v1::{CertificateFile, ImportCertificateFilesRequest};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
    PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use time::macros::datetime;
use tonic::transport::Channel;

/// The instant the inventory's clock shows.
pub const NOW: OffsetDateTime = datetime!(2030-06-01 12:00:00 UTC);

/// Files per ImportCertificateFiles call.
pub const BATCH_FILES: usize = 500;

/// Autovacuum's default `autovacuum_analyze_threshold` and `autovacuum_analyze_scale_factor`.
const ANALYZE_THRESHOLD: u64 = 50;
const ANALYZE_SCALE_FACTOR: f64 = 0.1;

/// How many files to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// 1,000 files, to prove the benchmark still works.
    Small,
    /// 100,000 files.
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

    pub fn files(self) -> usize {
        match self {
            Scale::Small => 1_000,
            Scale::Full => 100_000,
        }
    }
}

/// The measurements of one run.
#[derive(Debug, Clone)]
pub struct Report {
    pub files: usize,
    /// Time to generate the certificates, before timing.
    pub generation: Duration,
    /// From the first call's start to the last call's response.
    pub import: Duration,
    /// Duration of each ImportCertificateFiles call.
    pub calls: Vec<Duration>,
    /// From the last call's response until the outbox had no unpublished event.
    pub outbox_drain: Duration,
    /// Time spent in `ANALYZE` between calls, part of `import`.
    pub analyze: Duration,
    /// Number of `ANALYZE` runs.
    pub analyze_runs: usize,
    /// Certificates the calls reported as added.
    pub added: u64,
    /// Rows in the certificates table afterwards.
    pub stored: i64,
    /// The license's held count afterwards.
    pub held: u64,
}

impl Report {
    pub fn files_per_second(&self) -> f64 {
        if self.import.is_zero() {
            return 0.0;
        }
        self.files as f64 / self.import.as_secs_f64()
    }

    /// Returns the `q`-quantile (0.0 to 1.0) of the call durations by the nearest-rank method.
    pub fn call_quantile(&self, q: f64) -> Duration {
        let mut sorted = self.calls.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }
}

/// Runs the benchmark at `scale` and returns its measurements.
pub async fn run(scale: Scale) -> anyhow::Result<Report> {
    let started = Instant::now();
    let files = tokio::task::spawn_blocking(move || generate(scale.files())).await??;
    let generation = started.elapsed();

    let service = BenchService::start().await?;
    let result = measure(&service, files, generation).await;
    service.stop().await?;
    result
}

async fn measure(
    service: &BenchService,
    files: Vec<Vec<u8>>,
    generation: Duration,
) -> anyhow::Result<Report> {
    let count = files.len();
    let mut batches: Vec<Vec<CertificateFile>> = Vec::with_capacity(count / BATCH_FILES + 1);
    let mut numbered = files.into_iter().enumerate().peekable();
    while numbered.peek().is_some() {
        let batch = numbered
            .by_ref()
            .take(BATCH_FILES)
            .map(|(index, content)| CertificateFile {
                name: format!("host-{index}.pem"),
                content,
            })
            .collect();
        batches.push(batch);
    }

    let mut calls = Vec::with_capacity(batches.len());
    let mut added = 0;
    let mut analyzed_rows = 0;
    let mut analyze = Duration::ZERO;
    let mut analyze_runs = 0;
    let started = Instant::now();
    for (index, batch) in batches.into_iter().enumerate() {
        let call_started = Instant::now();
        let response = service
            .client
            .clone()
            .import_certificate_files(ImportCertificateFilesRequest {
                files: batch,
                password: String::new(),
                actor: "import-benchmark".to_owned(),
            })
            .await
            .map_err(|status| anyhow::anyhow!("ImportCertificateFiles failed: {status}"))?
            .into_inner();
        calls.push(call_started.elapsed());
        if response.files_failed > 0 {
            let first = response.files.iter().find(|file| !file.error.is_empty());
            bail!("call {index}: a file failed to import: {first:?}");
        }
        added += u64::from(response.certificates_added);
        if needs_analyze(added, analyzed_rows) {
            let analyze_started = Instant::now();
            sqlx::query("ANALYZE certificates, outbox, outbox_sequences")
                .execute(&service.db.pool)
                .await?;
            analyze += analyze_started.elapsed();
            analyze_runs += 1;
            analyzed_rows = added;
        }
        if count >= 100_000 && (index + 1) % 20 == 0 {
            eprintln!("imported {} of {count} files", (index + 1) * BATCH_FILES);
        }
    }
    let import = started.elapsed();

    let drain_started = Instant::now();
    wait_for_empty_outbox(service).await?;
    let outbox_drain = drain_started.elapsed();

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM certificates")
        .fetch_one(&service.db.pool)
        .await?;
    let held: i64 = sqlx::query_scalar("SELECT held FROM license")
        .fetch_one(&service.db.pool)
        .await?;
    Ok(Report {
        files: count,
        generation,
        import,
        calls,
        outbox_drain,
        analyze,
        analyze_runs,
        added,
        stored,
        held: u64::try_from(held)?,
    })
}

/// Returns whether autovacuum's default rule would analyze a table of `rows` rows that had
/// `analyzed_rows` at its last analysis, counting only inserts.
fn needs_analyze(rows: u64, analyzed_rows: u64) -> bool {
    let changed = rows - analyzed_rows;
    changed as f64 > ANALYZE_THRESHOLD as f64 + ANALYZE_SCALE_FACTOR * analyzed_rows as f64
}

/// Waits until the relay published every event of the outbox.
async fn wait_for_empty_outbox(service: &BenchService) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let unpublished: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&service.db.pool)
                .await?;
        if unpublished == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{unpublished} events are still unpublished after 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Makes `count` PEM files, each one distinct certificate signed by a throwaway CA, on every
/// CPU.
pub fn generate(count: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Import Benchmark CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let issuer = CertifiedIssuer::self_signed(ca_params, ca_key)?;

    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = count.div_ceil(threads).max(1);
    let issuer = &issuer;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(count);
                scope.spawn(move || {
                    (start..end)
                        .map(|index| leaf_pem(issuer, index))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut files = Vec::with_capacity(count);
        for worker in workers {
            let part = worker
                .join()
                .map_err(|_| anyhow::anyhow!("a certificate generation thread panicked"))??;
            files.extend(part);
        }
        Ok(files)
    })
}

fn leaf_pem(issuer: &CertifiedIssuer<'_, KeyPair>, index: usize) -> anyhow::Result<Vec<u8>> {
    let name = format!("host-{index}.bench.example.com");
    let mut params = CertificateParams::new(vec![name.clone()])
        .with_context(|| format!("{name} is not a valid DNS name"))?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.serial_number = Some(SerialNumber::from_slice(
        &(u64::try_from(index)? + 1).to_be_bytes(),
    ));
    params.not_before = datetime!(2030-01-01 00:00:00 UTC);
    params.not_after = datetime!(2031-01-01 00:00:00 UTC);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    Ok(params.signed_by(&key, issuer)?.pem().into_bytes())
}

/// The inventory started on its own schema and streams, with the clock stopped at [`NOW`].
struct BenchService {
    client: InventoryServiceClient<Channel>,
    db: TestDb,
    nats: TestNats,
    shutdown: Shutdown,
    running: certitude_inventory::RunningService,
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
        ])?;
        let shutdown = Shutdown::new();
        let clock = ManualClock::new(NOW);
        let running = certitude_inventory::start(config, clock.shared(), shutdown.clone()).await?;
        let client =
            InventoryServiceClient::connect(format!("http://{}", running.grpc_addr)).await?;
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
