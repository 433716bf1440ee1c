//! Importing a large Entrust account, next to a bare client that reads the same data from the
//! same simulator.
//!
//! Every service runs in this process ([`System`]) on the real Postgres and NATS, with the
//! intervals of its background tasks at their defaults ([`Pace::Deployed`]), and the
//! simulator serves a generated scenario ([`Scenario::large`] at full scale). Neither side has a
//! rate limit: the generated scenario sets no quota on the simulator, and no service sets a rate
//! budget on its Entrust client.
//!
//! The listing does not carry certificates, so an import reads the detail of each order whose
//! state brings a certificate in (`GET /certificates/{trackingId}`). The bare client therefore
//! does the same. It pages `GET /certificates?fields=*&sort=trackingId:asc` with the import's
//! page size and parses each page as JSON. Then it fetches and parses the detail of each order
//! whose listed status maps to ISSUED, SUSPENDED, REVOKED or EXPIRED in Certitude, one request
//! after another as the import does. The simulator signs a generated order's certificate the first
//! time its detail is read, so the bare client walks twice and the second, warm walk is the one
//! compared. The import then meets the same warm simulator.
//!
//! The import is timed from `POST /v1/imports` until the job has ended and the inventory holds
//! every certificate the bare client found, by the held count of its license row. A second
//! import of the unchanged account is timed until its job ends.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use certitude_platform::clock;
use certitude_platform::testing::TestDb;
use entrust_sim::{GenerateOptions, Scenario};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{ADMIN_USER, Scale, add_admin_credential, admin_key};
use crate::{Api, Pace, System};

/// Orders per page on both sides: order-manager's default `CERTITUDE_IMPORT_PAGE_SIZE`.
pub const PAGE_SIZE: usize = 500;

/// Seed of the generated scenario.
pub const SEED: u64 = 1;

/// Listed statuses whose orders bring a certificate in: those that Certitude maps to ISSUED,
/// SUSPENDED, REVOKED or EXPIRED.
const CERTIFICATE_STATUSES: &[&str] = &[
    "READY",
    "ACTIVE",
    "REISSUING",
    "RENEWING",
    "SUSPENDED",
    "REVOKED",
    "EXPIRED",
];

/// Time between two polls of the import job.
const POLL: Duration = Duration::from_millis(100);

/// Polls between two progress samples.
const POLLS_PER_SAMPLE: u32 = 10;

/// Returns the scenario imported at `scale`: the large scenario's 100,000 orders, or 2,000.
pub fn scenario(scale: Scale) -> Scenario {
    match scale {
        Scale::Small => Scenario::generate(&GenerateOptions {
            domains: 200,
            orders: 2_000,
            seed: SEED,
        }),
        Scale::Full => Scenario::large(SEED),
    }
}

/// Limit on one import at `scale`.
fn import_timeout(scale: Scale) -> Duration {
    match scale {
        Scale::Small => Duration::from_secs(300),
        Scale::Full => Duration::from_secs(3_600),
    }
}

/// One walk of the bare client.
#[derive(Debug, Clone)]
pub struct BareWalk {
    /// Orders listed.
    pub orders: usize,
    /// Orders whose detail carried a certificate.
    pub certificates: usize,
    /// The whole walk, listing and details.
    pub elapsed: Duration,
    /// The part of `elapsed` spent on listing pages.
    pub listing: Duration,
}

/// The end state of an import job, as `GET /v1/imports/{id}` returns it.
#[derive(Debug, Clone, Default)]
pub struct JobCounts {
    pub pages: u64,
    pub orders: u64,
    pub imported: u64,
    pub updated: u64,
    pub issued: u64,
    pub skipped: u64,
    pub failed: u64,
}

impl JobCounts {
    fn from_job(job: &Value) -> Self {
        let count = |name: &str| job["progress"][name].as_u64().unwrap_or_default();
        Self {
            pages: count("pages"),
            orders: count("orders"),
            imported: count("imported"),
            updated: count("updated"),
            issued: count("issued"),
            skipped: count("skipped"),
            failed: count("failed"),
        }
    }
}

/// Progress of the import at one moment after its start.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Duration,
    /// Orders the job has handled, as of its last saved page.
    pub orders: u64,
    /// Certificates the job has brought in, as of its last saved page.
    pub issued: u64,
    /// Events in order-manager's outbox not yet published to NATS.
    pub unpublished: i64,
    /// Certificates held by inventory.
    pub in_inventory: i64,
}

/// One timed import.
#[derive(Debug, Clone)]
pub struct ImportRun {
    pub counts: JobCounts,
    /// From the start request until the job was seen to end.
    pub job_elapsed: Duration,
    /// From the start request until the job had ended and the inventory held every
    /// certificate.
    pub elapsed: Duration,
    /// Certificates stored by inventory at the end, by `count(*)`.
    pub in_inventory: i64,
    pub samples: Vec<Sample>,
}

/// The measurements of one benchmark run.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// Orders in the scenario.
    pub scenario_orders: usize,
    /// The first walk, in which the simulator signs each certificate.
    pub cold_walk: BareWalk,
    /// The second walk, compared with the import.
    pub bare: BareWalk,
    /// The first import: every order and certificate is new.
    pub first: ImportRun,
    /// The second import of the unchanged account.
    pub repeat: ImportRun,
}

/// Returns orders per second.
pub fn rate(orders: usize, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds == 0.0 {
        return 0.0;
    }
    orders as f64 / seconds
}

/// Runs the benchmark at `scale` and returns its measurements.
pub async fn run(scale: Scale) -> anyhow::Result<ImportReport> {
    let scenario = scenario(scale);
    let scenario_orders = scenario.orders.len();
    let api_key = admin_key(&scenario)?;
    // The services poll and scan at their deployed pace, not the tests' 200 ms.
    let system = System::start_paced(scenario, clock::system(), Pace::Deployed).await?;
    let result = measure(&system, &api_key, scale, scenario_orders).await;
    system.stop().await?;
    result
}

async fn measure(
    system: &System,
    api_key: &str,
    scale: Scale,
    scenario_orders: usize,
) -> anyhow::Result<ImportReport> {
    let credential_id = add_admin_credential(system, api_key).await?;
    let http = reqwest::Client::new();
    let base_url = system.sim.base_url();
    let cold_walk = walk(&http, &base_url, api_key).await?;
    let bare = walk(&http, &base_url, api_key).await?;

    let timeout = import_timeout(scale);
    let expected = i64::try_from(bare.certificates)?;
    let first = import(system, &credential_id, expected, timeout).await?;
    let repeat = import(system, &credential_id, expected, timeout).await?;
    Ok(ImportReport {
        scenario_orders,
        cold_walk,
        bare,
        first,
        repeat,
    })
}

/// Pages through the listing and reads the detail of each order with a certificate.
async fn walk(http: &reqwest::Client, base_url: &str, api_key: &str) -> anyhow::Result<BareWalk> {
    let started = Instant::now();
    let mut listing = Duration::ZERO;
    let mut orders = 0;
    let mut certificates = 0;
    loop {
        let page_started = Instant::now();
        let page = get_json(
            http.get(format!("{base_url}/certificates"))
                .query(&[
                    ("offset", orders.to_string()),
                    ("limit", PAGE_SIZE.to_string()),
                    ("fields", "*".to_owned()),
                    ("sort", "trackingId:asc".to_owned()),
                ])
                .basic_auth(ADMIN_USER, Some(api_key)),
        )
        .await?;
        listing += page_started.elapsed();
        let items = page["certificates"].as_array().cloned().unwrap_or_default();
        let total = page["summary"]["total"].as_u64().unwrap_or_default();
        orders += items.len();
        for item in &items {
            let status = item["status"].as_str().unwrap_or_default();
            if !CERTIFICATE_STATUSES
                .iter()
                .any(|listed| listed.eq_ignore_ascii_case(status))
            {
                continue;
            }
            let tracking_id = item["trackingId"]
                .as_i64()
                .context("a listed order has no trackingId")?;
            let detail = get_json(
                http.get(format!("{base_url}/certificates/{tracking_id}"))
                    .basic_auth(ADMIN_USER, Some(api_key)),
            )
            .await?;
            if detail["endEntityCert"]
                .as_str()
                .is_some_and(|pem| !pem.is_empty())
            {
                certificates += 1;
            }
        }
        if items.is_empty() || orders as u64 >= total {
            break;
        }
    }
    Ok(BareWalk {
        orders,
        certificates,
        elapsed: started.elapsed(),
        listing,
    })
}

async fn get_json(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let response = request.send().await?.error_for_status()?;
    Ok(response.json().await?)
}

/// Starts an import and waits until its job has ended and the inventory holds `expected`
/// certificates, sampling progress on the way.
async fn import(
    system: &System,
    credential_id: &str,
    expected: i64,
    timeout: Duration,
) -> anyhow::Result<ImportRun> {
    let api = system.api();
    let order_manager = system.order_manager_db();
    let inventory = system.inventory_db();
    let started = Instant::now();
    let (status, job) = api
        .post("/v1/imports", json!({ "credential_id": credential_id }))
        .await?;
    if status != StatusCode::ACCEPTED {
        bail!("starting the import returned {status}: {job}");
    }
    let job_path = format!("/v1/imports/{}", job["id"].as_str().unwrap_or_default());

    let mut samples = Vec::new();
    let mut ended: Option<(Duration, JobCounts)> = None;
    let mut polls = 0;
    loop {
        if ended.is_none() {
            let job = api.get(&job_path).await?;
            match job["state"].as_str() {
                Some("running") => {}
                Some("succeeded") => {
                    let counts = JobCounts::from_job(&job);
                    // The inventory could never hold what the scenario holds.
                    if counts.failed > 0 {
                        bail!(
                            "the import failed {} orders, so the inventory cannot reach \
                             {expected} certificates: {job}",
                            counts.failed
                        );
                    }
                    ended = Some((started.elapsed(), counts));
                }
                _ => bail!("the import did not succeed: {job}"),
            }
        }
        polls += 1;
        let sample_due = polls % POLLS_PER_SAMPLE == 0;
        if ended.is_some() || sample_due {
            let held = held_certificates(inventory).await?;
            if let Some((job_elapsed, counts)) = &ended
                && held >= expected
            {
                let elapsed = started.elapsed();
                return Ok(ImportRun {
                    counts: counts.clone(),
                    job_elapsed: *job_elapsed,
                    elapsed,
                    in_inventory: count(inventory, "certificates", "").await?,
                    samples,
                });
            }
            if sample_due {
                samples.push(sample(&api, &job_path, order_manager, started, held).await?);
            }
        }
        if started.elapsed() > timeout {
            bail!("the import and the inventory did not finish within {timeout:?}");
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn sample(
    api: &Api,
    job_path: &str,
    order_manager: &TestDb,
    started: Instant,
    in_inventory: i64,
) -> anyhow::Result<Sample> {
    let job = JobCounts::from_job(&api.get(job_path).await?);
    let unpublished = count(order_manager, "outbox", "WHERE published_at IS NULL").await?;
    Ok(Sample {
        at: started.elapsed(),
        orders: job.orders,
        issued: job.issued,
        unpublished,
        in_inventory,
    })
}

/// Returns the number of certificates inventory holds, from its license row, which a
/// `count(*)` of all certificates equals when no license limit is set and no certificate is
/// superseded. Unlike that `count(*)`, reading it costs the same at 100,000 certificates.
async fn held_certificates(db: &TestDb) -> anyhow::Result<i64> {
    let query = format!(
        "SELECT held FROM \"{}\".license WHERE singleton",
        db.settings.schema
    );
    let held: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
        .fetch_one(&db.admin)
        .await?;
    Ok(held)
}

/// Counts the rows of `table` in the service's schema that match `condition` (SQL, or empty
/// for all), as the administrator.
async fn count(db: &TestDb, table: &str, condition: &str) -> anyhow::Result<i64> {
    let query = format!(
        "SELECT count(*) FROM \"{}\".\"{table}\" {condition}",
        db.settings.schema
    );
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
        .fetch_one(&db.admin)
        .await?;
    Ok(count)
}
